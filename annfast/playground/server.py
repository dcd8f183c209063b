"""The playground's HTTP server: the page, a JSON API and Server-Sent Events.

Standard library only (``http.server.ThreadingHTTPServer``): a local page for
one person needs no framework, and ``pip install annfast`` stays light.  Each
request gets a thread; training runs in each session's own worker thread
(``session.py``), never in a request thread.

API (JSON in and out; any bad request gets 400 and ``{"error": message}``):

    GET  /api/options                      choices, limits and presets
    POST /api/sessions                     body: settings -> {"session": id, "config"}
    GET  /api/sessions/ID/snapshot         the current snapshot
    GET  /api/sessions/ID/events           snapshots as Server-Sent Events
    GET  /api/sessions/ID/data             the points: train and test
    GET  /api/sessions/ID/config           the settings
    POST /api/sessions/ID/play|pause|step  -
    POST /api/sessions/ID/reset            body (optional): settings for the new network
    POST /api/sessions/ID/configure        body: changed settings
    POST /api/sessions/ID/close            ends the session
    GET  /api/sessions/ID/export.py        the Python script
    GET  /api/sessions/ID/export.model     the model file
"""

import argparse
import contextlib
import ipaddress
import json
import os
import re
import socket
import sys
import threading
import webbrowser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from annfast.playground import config as config_module
from annfast.playground import datasets, export, trainer
from annfast.playground.session import Session, SessionClosed

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
#: Request bodies above this size are refused before they are read.
MAX_BODY = 64 * 1024

_SESSION_PATH = re.compile(r"^/api/sessions/([A-Za-z0-9_-]{1,64})/([a-z.]+)$")


class BadRequest(ValueError):
    """Answered with 400 and the message."""


def _reject_constant(name):
    raise BadRequest(f"malformed JSON: {name} is not a JSON number")


def options():
    return {
        "datasets": list(datasets.DATASETS),
        "regression": list(datasets.REGRESSION),
        "features": list(datasets.FEATURES),
        "activations": trainer.hidden_activations(),
        "regularizations": trainer.regularizations(),
        "points": list(config_module.POINTS),
        "max_hidden_layers": config_module.MAX_HIDDEN_LAYERS,
        "max_units": config_module.MAX_UNITS,
        "max_batch": config_module.MAX_BATCH,
        "defaults": config_module.DEFAULTS,
        "presets": config_module.PRESETS,
    }


class PlaygroundServer(ThreadingHTTPServer):
    """The HTTP server and the sessions it holds.

    At most ``max_sessions`` at once; a session with no open event stream and
    no request for ``idle_timeout`` seconds ends.
    """

    daemon_threads = True

    def __init__(self, address, max_sessions=8, idle_timeout=300.0, interval=0.05,
                 quiet=True):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.interval = interval
        self.quiet = quiet
        self.sessions = {}
        self.sessions_lock = threading.Lock()
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap_loop, name="playground-reaper",
                                        daemon=True)
        self._reaper.start()

    def host_allowed(self, host_header):
        """On loopback, only requests naming this machine: a web page elsewhere
        cannot reach the server by pointing its own DNS name at 127.0.0.1."""
        if not ipaddress.ip_address(self.server_address[0]).is_loopback:
            return True
        host = host_header.strip().lower()
        name = host[1:host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
        return name in ("localhost", "127.0.0.1", "::1")

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    def reap(self):
        """End the sessions idle for longer than ``idle_timeout``."""
        with self.sessions_lock:
            idle = [s for s in self.sessions.values() if s.idle_for() > self.idle_timeout]
            for s in idle:
                del self.sessions[s.id]
        for s in idle:
            s.close()

    def _reap_loop(self):
        while not self._stop.wait(min(10.0, max(self.idle_timeout / 4, 0.05))):
            self.reap()

    def new_session(self, cfg):
        self.reap()
        with self.sessions_lock:
            if len(self.sessions) >= self.max_sessions:
                return None
            session = Session(cfg, self.interval)
            self.sessions[session.id] = session
        return session

    def end_session(self, session_id):
        with self.sessions_lock:
            session = self.sessions.pop(session_id, None)
        if session is not None:
            session.close()
        return session is not None

    def server_close(self):
        self._stop.set()
        with self.sessions_lock:
            sessions = list(self.sessions.values())
            self.sessions.clear()
        for s in sessions:
            s.close()
        super().server_close()


class Handler(BaseHTTPRequestHandler):
    server_version = "annfast-playground"
    # Socket timeout: a client that stops sending mid-request frees its thread.
    timeout = 30

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        if not self.server.quiet:
            super().log_message(format, *args)

    def log_error(self, format, *args):  # noqa: A002
        super().log_message(format, *args)  # shown even when quiet

    # -- replies ------------------------------------------------------------------

    def _send(self, status, body, content_type, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, status=HTTPStatus.OK):
        body = obj if isinstance(obj, bytes) else json.dumps(obj).encode("utf-8")
        self._send(status, body, "application/json")

    def _error(self, status, message):
        self._json({"error": message}, status)

    # -- requests -----------------------------------------------------------------

    def do_GET(self):  # noqa: N802 (http.server's name)
        self._dispatch("GET")

    def do_POST(self):  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method):
        path = self.path.split("?", 1)[0]
        if not self.server.host_allowed(self.headers.get("Host", "")):
            self.close_connection = True
            return self._error(HTTPStatus.FORBIDDEN, "this server only answers requests "
                               "addressed to localhost")
        try:
            if method == "POST":
                body = self._read_json()
            if method == "GET" and (path == "/" or path.startswith("/static/")):
                return self._static("index.html" if path == "/" else path[len("/static/"):])
            if method == "GET" and path == "/api/options":
                return self._json(options())
            if method == "POST" and path == "/api/sessions":
                return self._create(body)
            match = _SESSION_PATH.match(path)
            if match:
                return self._session_request(method, match.group(1), match.group(2),
                                             body if method == "POST" else None)
            self._error(HTTPStatus.NOT_FOUND, f"no such resource: {method} {path[:100]}")
        except BadRequest as exc:
            self.close_connection = True
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
        except SessionClosed as exc:
            self._error(HTTPStatus.NOT_FOUND, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug: say so, keep serving
            self.close_connection = True
            self.log_error("internal error on %s %s: %r", method, path[:100], exc)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {exc}")

    def _read_json(self):
        """The request body as JSON (None if empty); refuses big bodies unread."""
        if self.headers.get("Transfer-Encoding"):
            raise BadRequest("chunked request bodies are not accepted; send Content-Length")
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit():
            raise BadRequest(f"Content-Length must be a number of bytes, got {length[:40]!r}")
        length = int(length)
        if length > MAX_BODY:
            raise BadRequest(f"request body of {length} bytes is larger than the limit of "
                             f"{MAX_BODY} bytes")
        if length == 0:
            return None
        try:
            raw = self.rfile.read(length)
        except TimeoutError:
            raise BadRequest(f"the request body of {length} bytes did not arrive") from None
        if len(raw) < length:
            raise BadRequest(f"the request body ended after {len(raw)} of {length} bytes")
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise BadRequest(f"malformed JSON: {exc}") from None

    def _static(self, name):
        # Only the files that are there, by name: no path ever reaches open().
        files = os.listdir(STATIC)
        if name not in files:
            return self._error(HTTPStatus.NOT_FOUND, f"no such file: {name[:100]}")
        ext = os.path.splitext(name)[1]
        with open(os.path.join(STATIC, name), "rb") as f:
            body = f.read()
        self._send(HTTPStatus.OK, body, CONTENT_TYPES.get(ext, "application/octet-stream"))

    def _check(self, update, base=None):
        try:
            return config_module.check_config({} if update is None else update, base)
        except (ValueError, TypeError) as exc:
            raise BadRequest(str(exc)) from None

    def _create(self, body):
        cfg = self._check(body)
        session = self.server.new_session(cfg)
        if session is None:
            return self._error(HTTPStatus.SERVICE_UNAVAILABLE,
                               f"too many sessions ({self.server.max_sessions}); close a "
                               "playground page or wait for an idle one to end")
        self._json({"session": session.id, "config": cfg})

    def _session_request(self, method, session_id, action, body):
        session = self.server.sessions.get(session_id)
        if session is None:
            return self._error(HTTPStatus.NOT_FOUND, "no such session (it may have ended "
                               "after being idle); reload the page")
        if method == "GET":
            if action == "events":
                return self._events(session)
            if action == "snapshot":
                return self._json(session.call("snapshot").encode("utf-8"))
            if action == "data":
                return self._json(session.call("data"))
            if action == "config":
                return self._json(session.call("config"))
            if action == "export.py":
                state = session.call("export")
                return self._send(HTTPStatus.OK,
                                  export.script(state["config"], state["epoch"]).encode(),
                                  "text/x-python; charset=utf-8",
                                  [("Content-Disposition",
                                    'attachment; filename="playground.py"')])
            if action == "export.model":
                state = session.call("export")
                name = export.model_filename(state["config"])
                return self._send(HTTPStatus.OK, export.model_bytes(state),
                                  "application/octet-stream",
                                  [("Content-Disposition", f'attachment; filename="{name}"')])
        elif action in ("play", "pause", "step", "reset", "configure", "close"):
            if action == "close":
                self.server.end_session(session_id)
                return self._json({"closed": True})
            if action in ("play", "pause", "step") and body not in (None, {}):
                raise BadRequest(f"{action} takes no settings")
            arg = None
            if action in ("reset", "configure"):
                if action == "configure" and body is None:
                    raise BadRequest("configure needs a JSON object of settings")
                arg = None if body is None else self._check(body, session.call("config"))
            return self._json(session.call(action, arg))
        self._error(HTTPStatus.NOT_FOUND, f"no such action: {method} {action[:40]}")

    def _events(self, session):
        self.close_connection = True
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

        def write(chunk):
            self.wfile.write(chunk)
            self.wfile.flush()

        # The page went away: the stream simply ends.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            session.stream(write)


def serve(host="127.0.0.1", port=0, **kwargs):
    """Start a PlaygroundServer in a background thread; returns the server
    (``server.url``; stop it with ``server.shutdown(); server.server_close()``)."""
    server = PlaygroundServer((host, port), **kwargs)
    threading.Thread(target=server.serve_forever, name="playground-http", daemon=True).start()
    return server


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m annfast playground",
        description="Train small networks on 2-D data in a local web page "
                    "(TensorFlow Playground's exercises, on annfast's kernels).")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=0,
                        help="port (default 0: any free port; the URL is printed)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be in [0, 65535], got {args.port}")
    try:
        server = PlaygroundServer((args.host, args.port), quiet=not args.verbose)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"annfast playground: {server.url}  (Ctrl-C to stop)", flush=True)
    if not args.no_browser:
        threading.Timer(0.3, webbrowser.open, [server.url]).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
