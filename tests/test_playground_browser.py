"""The playground page in a real headless browser: Debian's chromium driven by
Selenium through the system chromedriver.

Without chromium, chromedriver or selenium these tests are skipped, except on CI
(``CI=true``), where they must run and so fail instead.
"""

import io
import os
import shutil

import pytest

from annfast.playground.server import serve

TIMEOUT = 30.0  # bound on each wait; the tests never assert on speed


def _missing(what):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}: the browser tests must run on CI")
    pytest.skip(what)


def _find(names):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def driver():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install 'selenium>=4')")
    browser = _find(["chromium", "chromium-browser"])
    chromedriver = _find(["chromedriver"])
    if browser is None or chromedriver is None:
        _missing("chromium and chromedriver are not installed "
                 "(apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1400,900", "--disable-gpu"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager must not try to download one.
    drv = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    drv.set_page_load_timeout(TIMEOUT)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def server():
    srv = serve(port=0, interval=0.05)
    yield srv
    srv.shutdown()
    srv.server_close()


def wait_for(driver, script, what):
    """Wait until the JavaScript expression ``script`` is truthy; return its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, TIMEOUT, poll_frequency=0.05).until(
        lambda d: d.execute_script(f"return {script};"), message=f"waiting for {what}")


def body(key):
    return f"document.body.dataset.{key}"


def open_page(driver, server):
    driver.get(server.url)
    wait_for(driver, f"{body('frames')} >= 1", "the first snapshot to be drawn")


def console_errors(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def select(driver, element_id, value):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, element_id)).select_by_value(value)


def click(driver, element_id):
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, element_id).click()


def text(driver, element_id):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text


def test_circle_with_relu_learns(driver, server):
    open_page(driver, server)
    click(driver, "dataset-circle")
    select(driver, "activation", "relu")
    wait_for(driver, f"{body('activation')} === 'relu' && {body('dataset')} === 'circle'",
             "the settings to reach the server")
    start = float(text(driver, "test-loss"))
    click(driver, "play-pause")
    wait_for(driver, f"{body('playing')} === 'true'", "training to start")
    wait_for(driver, "parseFloat(document.getElementById('test-loss').textContent) < 0.05",
             "the test loss shown to fall below 0.05")
    assert start > 0.3
    assert int(text(driver, "epoch").replace(",", "")) > 0
    click(driver, "play-pause")
    wait_for(driver, f"{body('playing')} === 'false'", "training to pause")
    assert console_errors(driver) == []


def run_preset(driver, preset, epochs):
    select(driver, "preset", preset)
    activation = "sigmoid" if "sigmoid" in preset else "relu"
    wait_for(driver, f"{body('activation')} === '{activation}' && {body('epoch')} === '0'",
             f"preset {preset} to be loaded")
    driver.execute_script(
        "const e = document.getElementById('stop_at');"
        f"e.value = '{epochs}'; e.dispatchEvent(new Event('change'));")
    wait_for(driver, f"{body('stopAt')} === '{epochs}'", "the stop epoch to be set")
    click(driver, "play-pause")
    wait_for(driver, f"{body('playing')} === 'false' && {body('epoch')} === '{epochs}'",
             f"{preset} to train {epochs} epochs")
    return float(text(driver, "test-loss")), float(text(driver, "train-loss"))


def test_deep_sigmoid_stays_behind_deep_relu(driver, server):
    open_page(driver, server)
    sigmoid = run_preset(driver, "deep-sigmoid", 300)
    relu = run_preset(driver, "deep-relu", 300)
    # The vanishing signal: after the same 300 epochs the sigmoid net is still
    # near chance (ln 2 = 0.693) while the ReLU net has learnt the circle.
    assert sigmoid[0] > relu[0] and sigmoid[1] > relu[1]
    assert sigmoid[0] > 0.5 and relu[0] < 0.2
    assert console_errors(driver) == []


def test_boundary_canvas_is_not_blank(driver, server):
    from PIL import Image
    from selenium.webdriver.common.by import By

    open_page(driver, server)
    for _ in range(5):
        click(driver, "step")
    wait_for(driver, f"{body('epoch')} === '5'", "five steps")
    png = driver.find_element(By.ID, "boundary").screenshot_as_png
    img = Image.open(io.BytesIO(png)).convert("RGB")
    colours = img.getcolors(maxcolors=1 << 20)
    assert len(colours) >= 10
    pixels = [c for _, c in colours]
    assert any(b > r + 40 for r, _, b in pixels)  # blue: class 1
    assert any(r > b + 40 for r, _, b in pixels)  # orange: class 0
    assert console_errors(driver) == []


def test_page_controls_work_without_console_errors(driver, server):
    open_page(driver, server)
    click(driver, "feature-x1*x2")
    wait_for(driver, "document.querySelectorAll('#links path').length === 3 * 4 + 4 * 2 + 2",
             "the x1*x2 feature to be wired in")
    click(driver, "add-layer")
    wait_for(driver, "document.getElementById('layer-count').textContent === '3'",
             "a third hidden layer")
    click(driver, "dataset-reg-gaussian")
    wait_for(driver, f"{body('dataset')} === 'reg-gaussian'", "the regression data set")
    click(driver, "show-test")
    click(driver, "step")
    wait_for(driver, f"{body('epoch')} === '1'", "one step")
    script = driver.execute_script(
        "return fetch(document.getElementById('export-script').href).then(r => r.text());")
    assert "keras.Sequential()" in script and "'reg-gaussian'" in script
    click(driver, "reset")
    wait_for(driver, f"{body('epoch')} === '0'", "the reset")
    assert not driver.find_element("id", "error").is_displayed()
    assert console_errors(driver) == []


def test_the_page_says_when_its_session_has_ended(driver, server):
    open_page(driver, server)
    session = driver.execute_script(f"return {body('session')};")
    server.end_session(session)
    wait_for(driver, "!document.getElementById('error').hidden", "the page to notice")
    assert "reload the page" in text(driver, "error")
    driver.get_log("browser")  # the stream's failed reconnection is logged: expected here
