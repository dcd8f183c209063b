"""Measure the playground: training epochs per second of wall time while a real
page (headless chromium, through Selenium) draws the snapshots, and that page's
own count of snapshots drawn per second.

    python -m annfast.playground.measure [--seconds 10] [--batch-size 10] [--points 1000]

Needs ``pip install 'selenium>=4'`` and Debian's ``chromium`` and ``chromium-driver``.
The network is issue 16's: six hidden layers of eight tanh units.
"""

import argparse
import json
import os
import shutil
import time
import urllib.request

from annfast.playground.server import serve


def _post(url, body):
    req = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as res:
        return json.loads(res.read())


def _get(url):
    with urllib.request.urlopen(url) as res:
        return json.loads(res.read())


def measure(seconds, batch_size, points, train_percent, activation="tanh", hidden=(8,) * 6):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1400,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")),
                              options=options)
    server = serve(port=0)
    try:
        driver.get(server.url)
        wait = WebDriverWait(driver, 30, poll_frequency=0.05)
        wait.until(lambda d: d.execute_script("return document.body.dataset.frames >= 1"))
        sid = driver.execute_script("return document.body.dataset.session")
        api = f"{server.url}api/sessions/{sid}/"
        _post(api + "configure", {"hidden": list(hidden), "activation": activation,
                                  "points": points, "train_percent": train_percent,
                                  "batch_size": batch_size})
        _post(api + "play", {})
        time.sleep(1.0)  # the page has caught up with the new network

        def sample():
            frames = int(driver.execute_script("return document.body.dataset.frames"))
            return time.perf_counter(), _get(api + "snapshot")["epoch"], frames

        t0, e0, f0 = sample()
        time.sleep(seconds)
        t1, e1, f1 = sample()
        snap = _get(api + "snapshot")
        _post(api + "pause", {})
        return {"n_train": round(points * train_percent / 100), "batch_size": batch_size,
                "epochs_per_second": (e1 - e0) / (t1 - t0),
                "snapshots_drawn_per_second": (f1 - f0) / (t1 - t0),
                "test_loss": snap["test_loss"], "epochs": snap["epoch"]}
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()


def kernel_only(seconds, batch_size, points, train_percent, activation="tanh",
                hidden=(8,) * 6):
    """Epochs per second of the same training with no server and no page: the
    ceiling the playground can reach on this machine."""
    import numpy as np

    from annfast.playground import datasets
    from annfast.playground.trainer import Network

    pts, y = datasets.generate("circle", points, 0, 1)
    n = datasets.split(points, train_percent)
    X = datasets.features(pts, ["x1", "x2"])[:n]
    Y = np.ascontiguousarray(y[:n].reshape(-1, 1))
    net = Network([2, *hidden, 1], activation, False, 1)
    rng = np.random.default_rng(1)
    epochs, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        net.train_epoch(X, Y, rng.permutation(n), batch_size, 0.03, "none", 0.0)
        epochs += 1
    return epochs / (time.perf_counter() - t0)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m annfast.playground.measure",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--train-percent", type=int, default=50)
    args = parser.parse_args(argv)
    ceiling = kernel_only(min(args.seconds, 5.0), args.batch_size, args.points,
                          args.train_percent)
    r = measure(args.seconds, args.batch_size, args.points, args.train_percent)
    print(f"6 x 8 tanh, {r['n_train']} training points, batch {r['batch_size']}, "
          f"{os.cpu_count()} CPUs: {r['epochs_per_second']:.0f} epochs/s while the page drew "
          f"{r['snapshots_drawn_per_second']:.1f} snapshots/s "
          f"(after {r['epochs']} epochs, test loss {r['test_loss']:.4f}); the same "
          f"training alone: {ceiling:.0f} epochs/s; load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
