"""The playground server's API, in-process: sessions, training, snapshots, events,
export, and every kind of bad request (400, and the server keeps serving)."""

import base64
import http.client
import json
import os
import re
import runpy
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from annfast import NeuralNet, _params, keras
from annfast.playground import config, datasets, export, trainer
from annfast.playground.server import MAX_BODY, STATIC, serve

TIMEOUT = 20.0  # generous bound for waits on training; never a speed assertion


@pytest.fixture(scope="module")
def server():
    srv = serve(port=0, max_sessions=4, interval=0.02)
    yield srv
    srv.shutdown()
    srv.server_close()


def request(server, method, path, body=None, raw=None, headers=None):
    """(status, parsed JSON or bytes) of one request."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        conn.request(method, path, body=data, headers=hdrs)
        res = conn.getresponse()
        payload = res.read()
        if res.getheader("Content-Type", "").startswith("application/json"):
            payload = json.loads(payload)
        return res.status, payload
    finally:
        conn.close()


def new_session(server, **settings):
    status, reply = request(server, "POST", "/api/sessions", settings)
    assert status == 200, reply
    return reply["session"]


def call(server, sid, action, body=None):
    status, reply = request(server, "POST", f"/api/sessions/{sid}/{action}", body)
    assert status == 200, reply
    return reply


def snapshot(server, sid):
    status, snap = request(server, "GET", f"/api/sessions/{sid}/snapshot")
    assert status == 200, snap
    return snap


def close(server, sid):
    call(server, sid, "close")


def wait_until(predicate, what):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


# -- data ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", datasets.DATASETS)
def test_datasets_are_seeded_and_well_formed(name):
    pts, y = datasets.generate(name, 500, noise=10, seed=3)
    again = datasets.generate(name, 500, noise=10, seed=3)
    other = datasets.generate(name, 500, noise=10, seed=4)
    assert pts.shape == (500, 2) and y.shape == (500,)
    assert np.array_equal(pts, again[0]) and np.array_equal(y, again[1])
    assert not np.array_equal(pts, other[0])
    if datasets.is_regression(name):
        assert y.min() >= -1 and y.max() <= 1 and y.std() > 0.1
    else:
        assert set(np.unique(y)) == {0.0, 1.0}
        assert 150 < y.sum() < 350  # both classes, roughly balanced


def test_features_follow_their_names():
    pts = np.array([[1.0, 2.0], [-3.0, 0.5]])
    X = datasets.features(pts, list(datasets.FEATURES))
    expected = np.column_stack([pts[:, 0], pts[:, 1], pts[:, 0] ** 2, pts[:, 1] ** 2,
                                pts[:, 0] * pts[:, 1], np.sin(pts[:, 0]), np.sin(pts[:, 1])])
    assert np.array_equal(X, expected)


@pytest.mark.parametrize("regression", [False, True])
def test_trainer_is_neuralnet_with_its_l2_convention(regression):
    # Batch 1 with L2 rate lam is NeuralNet(reg_lambda=lam): same bits, epoch by epoch.
    pts, y = datasets.generate("reg-gaussian" if regression else "xor", 250, 10, seed=2)
    X = datasets.features(pts, ["x1", "x2", "x1*x2"])
    net = trainer.Network([3, 5, 4, 1], "tanh", regression, seed=9)
    ref = NeuralNet([3, 5, 4, 1], 0.05, 0.3, activation="tanh", init=trainer.INIT, seed=9,
                    output="identity" if regression else "sigmoid")
    assert np.array_equal(net.params, ref._params)
    for _ in range(3):
        loss = net.train_epoch(X, y.reshape(-1, 1), np.arange(len(y)), 1, 0.05, "L2", 0.3)
        ref.fit(X, y, epochs=1, shuffle=False)
        assert np.array_equal(net.params, ref._params)
        assert loss == pytest.approx(ref.history_["loss"][0], rel=1e-12)
    np.testing.assert_allclose(net.predict(X), ref.predict_proba(X)[:, 0], rtol=1e-12, atol=0)


# -- page and options ----------------------------------------------------------------


def test_page_and_assets_are_served_locally(server):
    status, page = request(server, "GET", "/")
    assert status == 200 and b"/static/app.js" in page
    for name in os.listdir(STATIC):
        status, body = request(server, "GET", f"/static/{name}")
        assert status == 200 and len(body) > 100
        # Nothing is fetched from another host: no absolute URLs in src/href/url()/import.
        text = body.decode()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), name
        assert not re.search(r"(url\(|@import|fetch\()\s*[\"']?(https?:)?//", text), name
    status, reply = request(server, "GET", "/static/../server.py")
    assert status == 404 and "error" in reply


def test_options_list_the_kernels_activations_and_presets(server):
    status, opts = request(server, "GET", "/api/options")
    assert status == 200
    assert opts["activations"] == trainer.hidden_activations()
    assert {"relu", "tanh", "sigmoid", "identity"} <= set(opts["activations"])
    assert "softmax" not in opts["activations"]
    assert opts["regularizations"] == ["none", "L1", "L2"]
    presets = opts["presets"]
    assert presets["deep-sigmoid"]["config"]["activation"] == "sigmoid"
    assert presets["deep-relu"]["config"]["activation"] == "relu"
    assert presets["deep-sigmoid"]["config"]["hidden"] == presets["deep-relu"]["config"]["hidden"]
    assert len(presets["deep-relu"]["config"]["hidden"]) == config.MAX_HIDDEN_LAYERS
    for p in presets.values():
        assert config.check_config(p["config"]) == p["config"]


def test_l1_trains_through_the_kernel_and_shrinks_the_weights(server):
    status, reply = request(server, "POST", "/api/sessions", {"regularization": "L1"})
    assert status == 200
    close(server, reply["session"])
    # The objective sum_i loss_i + rate * ||W||_1: with a large rate the weights
    # shrink, and a weight's L1 gradient is rate * sign(w) / n per batch.
    pts, y = datasets.generate("xor", 200, 10, seed=2)
    X = datasets.features(pts, ["x1", "x2"])
    norms = {}
    for penalty in ("none", "L1"):
        net = trainer.Network([2, 6, 1], "tanh", False, seed=3)
        for _ in range(30):
            net.train_epoch(X, y.reshape(-1, 1), np.arange(len(y)), 10, 0.1, penalty, 5.0)
        weights, _ = net.weights()
        norms[penalty] = sum(np.abs(W).sum() for W in weights)
    assert norms["L1"] < 0.8 * norms["none"]


# -- a session's life ------------------------------------------------------------------


def decode(b64):
    return np.frombuffer(base64.b64decode(b64), dtype=np.uint8)


def test_step_pause_play_reset_and_snapshot(server):
    sid = new_session(server, hidden=[4, 3], features=["x1", "x2", "x1*x2"])
    snap = snapshot(server, sid)
    assert snap["epoch"] == 0 and not snap["playing"]
    assert decode(snap["boundary"]).size == snap["grid"] ** 2
    assert [len(n) for n in snap["nodes"]] == [3, 4, 3, 1]
    assert all(decode(m).size == snap["neuron_grid"] ** 2 for col in snap["nodes"] for m in col)
    assert [np.shape(W) for W in snap["weights"]] == [(4, 3), (3, 4), (1, 3)]
    first = snap["weights"]

    assert call(server, sid, "step")["epoch"] == 1
    call(server, sid, "step")
    snap = snapshot(server, sid)
    assert snap["epoch"] == 2 and snap["weights"] != first
    assert [h[0] for h in snap["history"]] == [0, 1, 2]

    call(server, sid, "play")
    wait_until(lambda: snapshot(server, sid)["epoch"] > 20, "training to advance")
    paused_at = call(server, sid, "pause")["epoch"]
    assert snapshot(server, sid)["epoch"] == paused_at
    assert snapshot(server, sid)["epoch"] == paused_at

    call(server, sid, "reset")
    snap = snapshot(server, sid)
    assert snap["epoch"] == 0 and snap["weights"] == first  # same seed, same start
    close(server, sid)


def test_training_lowers_the_test_loss_and_stops_at_the_epoch_asked(server):
    sid = new_session(server, dataset="circle", activation="relu", hidden=[6, 4], stop_at=150)
    start = snapshot(server, sid)["test_loss"]
    call(server, sid, "play")
    snap = wait_until(lambda: (lambda s: not s["playing"] and s)(snapshot(server, sid)),
                      "the run to stop at epoch 150")
    assert snap["epoch"] == 150
    assert snap["test_loss"] < 0.2 < start
    close(server, sid)


def test_same_settings_give_the_same_bits_in_two_sessions(server):
    a = new_session(server, dataset="spiral", hidden=[5], seed=7, noise=20)
    b = new_session(server, dataset="spiral", hidden=[5], seed=7, noise=20)
    for _ in range(5):
        call(server, a, "step")
        call(server, b, "step")
    sa, sb = snapshot(server, a), snapshot(server, b)
    assert sa["weights"] == sb["weights"] and sa["test_loss"] == sb["test_loss"]
    close(server, a)
    close(server, b)


def test_two_sessions_train_independently(server):
    a = new_session(server, dataset="xor")
    b = new_session(server, dataset="gaussian", hidden=[2])
    call(server, a, "play")
    wait_until(lambda: snapshot(server, a)["epoch"] > 10, "session a to train")
    snap_b = snapshot(server, b)
    assert snap_b["epoch"] == 0 and snap_b["config"]["dataset"] == "gaussian"
    call(server, b, "step")
    call(server, b, "configure", {"learning_rate": 0.1})
    assert snapshot(server, a)["config"]["learning_rate"] == 0.03
    assert snapshot(server, a)["playing"] and not snapshot(server, b)["playing"]
    call(server, a, "pause")
    assert snapshot(server, b)["epoch"] == 1
    close(server, a)
    close(server, b)


def test_configure_keeps_or_rebuilds_the_network(server):
    sid = new_session(server)
    call(server, sid, "step")
    reply = call(server, sid, "configure", {"learning_rate": 0.1, "batch_size": 5})
    assert not reply["rebuilt"] and snapshot(server, sid)["epoch"] == 1
    reply = call(server, sid, "configure", {"hidden": [3, 3, 3], "activation": "sigmoid"})
    snap = snapshot(server, sid)
    assert reply["rebuilt"] and snap["epoch"] == 0 and len(snap["weights"]) == 4
    assert snap["config"]["learning_rate"] == 0.1  # earlier changes are kept
    assert request(server, "GET", f"/api/sessions/{sid}/config") == (200, snap["config"])
    close(server, sid)


def test_divergence_is_reported_and_the_weights_kept(server):
    sid = new_session(server, dataset="reg-plane", activation="relu", learning_rate=10,
                      batch_size=1, features=["x1", "x2", "x1^2", "x2^2", "x1*x2"],
                      hidden=[8, 8])
    before = snapshot(server, sid)["weights"]
    reply = call(server, sid, "step")
    assert reply["epoch"] == 0 and "diverged" in reply["error"]
    snap = snapshot(server, sid)
    assert snap["weights"] == before and not snap["playing"]
    close(server, sid)


def test_events_stream_snapshots(server):
    sid = new_session(server)
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    conn.request("GET", f"/api/sessions/{sid}/events")
    res = conn.getresponse()
    assert res.status == 200 and res.getheader("Content-Type") == "text/event-stream"

    def next_event():
        line = res.fp.readline()
        while not line.startswith(b"data: "):
            line = res.fp.readline()
        res.fp.readline()  # the blank line that ends the event
        return json.loads(line[len(b"data: "):])

    assert next_event()["epoch"] == 0
    call(server, sid, "play")
    epochs = [next_event()["epoch"] for _ in range(5)]
    assert epochs[-1] > epochs[0] and epochs == sorted(epochs)
    call(server, sid, "pause")
    conn.close()
    close(server, sid)


# -- export --------------------------------------------------------------------------------


@pytest.mark.parametrize("settings, kind", [
    ({"batch_size": 10}, "keras"),
    ({"batch_size": 4, "dataset": "reg-gaussian", "hidden": [3]}, "keras"),
    ({"regularization": "L2", "reg_rate": 0.01, "hidden": []}, "neuralnet"),
    ({"batch_size": 1, "dataset": "reg-plane"}, "neuralnet"),
    ({"activation": "leaky_relu", "features": ["x1", "x2", "sin(x1)"]}, "keras"),
    ({"activation": "leaky_relu", "batch_size": 1}, "neuralnet"),
])
def test_export_script_and_model_file(server, settings, kind, tmp_path, monkeypatch, capsys):
    sid = new_session(server, **settings)
    for _ in range(3):
        call(server, sid, "step")
    state = server.sessions[sid].call("export")
    assert export.frontend(state["config"]) == kind

    status, text = request(server, "GET", f"/api/sessions/{sid}/export.py")
    assert status == 200
    text = text.decode()
    assert ("keras.Sequential()" in text) == (kind == "keras")
    assert "epochs=3" in text
    monkeypatch.chdir(tmp_path)
    runpy.run_path(_write(tmp_path, text))
    assert "test" in capsys.readouterr().out

    status, blob = request(server, "GET", f"/api/sessions/{sid}/export.model")
    assert status == 200
    path = tmp_path / "model.npz"
    path.write_bytes(blob)
    if kind == "keras":
        model = keras.models.load_model(str(path))
        got = model.get_weights()
        want = [a for W, b in zip(state["weights"], state["biases"]) for a in (W.T, b)]
        def predict(X):
            return model.predict(X, verbose=0)
    else:
        model = NeuralNet.load(str(path))
        got = model.weights + [b[:, 0] for b in model.biases]
        want = state["weights"] + state["biases"]
        predict = model.predict_proba
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert np.array_equal(g, w)
    # The saved model computes the playground's function (activations, leaky slope).
    cfg = state["config"]
    net = trainer.Network(state["sizes"], cfg["activation"],
                          datasets.is_regression(cfg["dataset"]), 0)
    net.params = _params.pack(state["weights"], state["biases"], state["sizes"], np.float64)
    X = datasets.features(datasets.grid(9), cfg["features"])
    np.testing.assert_allclose(np.ravel(predict(X)), net.predict(X), rtol=1e-9, atol=1e-12)
    close(server, sid)


def _write(tmp_path, text):
    path = tmp_path / "playground.py"
    path.write_text(text)
    return str(path)


# -- bad requests ------------------------------------------------------------------------


BAD_SETTINGS = [
    ({"dataset": "moons"}, "dataset"),
    ({"hidden": [8] * 1000}, "hidden"),
    ({"hidden": [10**6]}, "hidden[0]"),
    ({"hidden": [0]}, "hidden[0]"),
    ({"hidden": "8,8"}, "hidden"),
    ({"learning_rate": -0.1}, "learning_rate"),
    ({"learning_rate": 0}, "learning_rate"),
    ({"reg_rate": -1}, "reg_rate"),
    ({"noise": 80}, "noise"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"batch_size": True}, "batch_size"),
    ({"features": []}, "features"),
    ({"features": ["x3"]}, "features"),
    ({"activation": "softmax"}, "activation"),
    ({"points": 10**9}, "points"),
    ({"colour": "red"}, "unknown setting"),
]


@pytest.mark.parametrize("settings, field", BAD_SETTINGS)
def test_bad_settings_get_400_naming_the_field(server, settings, field):
    status, reply = request(server, "POST", "/api/sessions", settings)
    assert status == 400 and field in reply["error"]


@pytest.mark.parametrize("raw, what", [
    (b'{"learning_rate": NaN}', "NaN"),
    (b'{"reg_rate": Infinity}', "Infinity"),
    (b'{"dataset": "circle"', "malformed JSON"),
    (b"\xff\xfe", "malformed JSON"),
    (b"[1, 2]", "JSON object"),
    (b'"circle"', "JSON object"),
])
def test_malformed_bodies_get_400(server, raw, what):
    status, reply = request(server, "POST", "/api/sessions", raw=raw)
    assert status == 400 and what in reply["error"]


def test_a_huge_body_is_refused_before_it_is_read(server):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    conn.putrequest("POST", "/api/sessions")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(100 * 1024 * 1024))
    conn.endheaders()
    conn.send(b'{"dataset": "' + b"x" * 1000)  # the rest never comes
    res = conn.getresponse()
    reply = json.loads(res.read())
    assert res.status == 400 and str(MAX_BODY) in reply["error"]
    conn.close()
    status, reply = request(server, "POST", "/api/sessions", raw=b"x", headers={
        "Content-Length": "ten"})
    assert status == 400 and "Content-Length" in reply["error"]


def test_a_body_shorter_than_announced_gets_400(server):
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(b"POST /api/sessions HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{}")
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 400") and b"ended after 2 of 100" in body


def test_an_internal_error_gets_500_and_the_server_keeps_serving(server, monkeypatch, capsys):
    def broken(state):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export, "model_bytes", broken)
    sid = new_session(server)
    status, reply = request(server, "GET", f"/api/sessions/{sid}/export.model")
    assert status == 500 and "disk on fire" in reply["error"]
    assert call(server, sid, "step")["epoch"] == 1
    close(server, sid)


def test_bad_requests_to_a_session_leave_it_as_it_was(server):
    sid = new_session(server)
    call(server, sid, "step")
    for body in ({"hidden": [8] * 1000}, {"learning_rate": -1}, {"dataset": "moons"}):
        status, reply = request(server, "POST", f"/api/sessions/{sid}/configure", body)
        assert status == 400 and "error" in reply
    status, reply = request(server, "POST", f"/api/sessions/{sid}/configure",
                            raw=b'{"learning_rate": NaN}')
    assert status == 400
    status, reply = request(server, "POST", f"/api/sessions/{sid}/step", {"epochs": 5})
    assert status == 400
    status, reply = request(server, "POST", f"/api/sessions/{sid}/configure")
    assert status == 400
    snap = snapshot(server, sid)
    assert snap["epoch"] == 1 and snap["config"] == config.DEFAULTS
    close(server, sid)


def test_unknown_sessions_and_paths_get_404_and_the_server_keeps_serving(server):
    assert request(server, "GET", "/api/sessions/nope/snapshot")[0] == 404
    assert request(server, "POST", "/api/sessions/nope/play")[0] == 404
    assert request(server, "GET", "/api/nothing")[0] == 404
    sid = new_session(server)
    assert request(server, "POST", f"/api/sessions/{sid}/jump")[0] == 404
    # After every bad request above (and in the tests before), it still trains.
    assert call(server, sid, "step")["epoch"] == 1
    assert request(server, "GET", "/api/options")[0] == 200
    close(server, sid)


def test_requests_for_another_host_name_are_refused(server):
    # DNS rebinding: a page of evil.example whose name now points at 127.0.0.1.
    status, reply = request(server, "GET", "/api/options", headers={"Host": "evil.example:80"})
    assert status == 403 and "localhost" in reply["error"]
    for host in ("localhost", "127.0.0.1:1234", "LOCALHOST:99"):
        assert request(server, "GET", "/api/options", headers={"Host": host})[0] == 200


# -- limits on sessions -----------------------------------------------------------------------


def test_sessions_are_bounded_and_idle_ones_end():
    srv = serve(port=0, max_sessions=2, idle_timeout=3600)
    try:
        a, b = new_session(srv), new_session(srv)
        status, reply = request(srv, "POST", "/api/sessions", {})
        assert status == 503 and "too many sessions" in reply["error"]
        close(srv, a)
        c = new_session(srv)
        srv.idle_timeout = 0.05
        time.sleep(0.1)
        srv.reap()
        assert srv.sessions == {}
        assert request(srv, "GET", f"/api/sessions/{b}/snapshot")[0] == 404
        assert request(srv, "GET", f"/api/sessions/{c}/snapshot")[0] == 404
        srv.idle_timeout = 3600
        new_session(srv)
    finally:
        srv.shutdown()
        srv.server_close()


# -- the command --------------------------------------------------------------------------------


def test_the_command_serves_the_page():
    proc = subprocess.Popen([sys.executable, "-m", "annfast", "playground", "--port", "0",
                             "--no-browser"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        conn = http.client.HTTPConnection("127.0.0.1", int(match.group(1)), timeout=TIMEOUT)
        conn.request("GET", "/")
        res = conn.getresponse()
        assert res.status == 200 and b"annfast playground" in res.read()
        conn.close()
    finally:
        proc.terminate()
        proc.wait(TIMEOUT)


def test_the_command_rejects_a_bad_port(capsys):
    from annfast.playground import main

    with pytest.raises(SystemExit) as exc:
        main(["--port", "70000", "--no-browser"])
    assert exc.value.code == 2 and "--port" in capsys.readouterr().err
