"""The web page in a real headless Chromium against a real server: upload, scores, errors,
keyboard, phone width; a screenshot is kept as a test artifact."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from serve_factory import TAUGHT_BOX, picture, running, taught_generator_dir, taught_picture

from conftest import console_errors

ARTIFACTS = Path(
    os.environ.get("GLOBELENS_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")
)


@pytest.fixture(scope="module")
def page_server(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path):
    pg = taught_generator_dir(tmp_path_factory.mktemp("taught"))
    with running([f"tiny={tiny_model_dir}", f"pg={pg}"]) as (server, _):
        yield server


def _wait(driver, condition, timeout: float = 20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


@pytest.mark.slow
def test_page_scores_phrases_by_keyboard(chrome, page_server, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    image = tmp_path / "street.png"
    image.write_bytes(picture(160, 120))
    chrome.get(page_server.url + "/")
    _wait(chrome, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
    Select(chrome.find_element(By.ID, "model")).select_by_value("tiny")
    # nothing chosen yet: the page says so instead of failing
    chrome.find_element(By.ID, "run").click()
    error = chrome.find_element(By.ID, "error")
    assert error.is_displayed() and "image" in error.text.lower()

    chrome.find_element(By.ID, "file").send_keys(str(image))
    _wait(chrome, lambda d: d.find_element(By.ID, "figure").is_displayed())
    text = chrome.find_element(By.ID, "text")
    text.send_keys("a red bus\na bowl of rice\na dog")
    # keyboard only: Tab from the text area through the key field to the button, Enter
    chrome.execute_script("document.getElementById('run').focus()")
    chrome.switch_to.active_element.send_keys(Keys.ENTER)
    _wait(chrome, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#scores li")) == 3)
    rows = chrome.find_elements(By.CSS_SELECTOR, "#scores li")
    labels = [r.find_element(By.CLASS_NAME, "label").text for r in rows]
    assert sorted(labels) == ["a bowl of rice", "a dog", "a red bus"]
    values = [
        float(r.find_element(By.CSS_SELECTOR, "[role=meter]").get_attribute("aria-valuenow"))
        for r in rows
    ]
    assert values == sorted(values, reverse=True) and all(0 <= v <= 1 for v in values)
    assert not chrome.find_element(By.ID, "error").is_displayed()
    # the picture is on the canvas (not blank)
    painted = chrome.execute_script(
        "const c = document.getElementById('canvas');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] || d[i+1] || d[i+2]) n++;"
        "return [c.width, c.height, n];"
    )
    assert painted[0] * 3 == painted[1] * 4 and painted[0] >= 160 and painted[2] > 1000
    assert console_errors(chrome) == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chrome.save_screenshot(str(ARTIFACTS / "serve_page_scores.png"))

    # a server-side refusal is shown as a message
    bad = tmp_path / "tiny.png"
    bad.write_bytes(picture(2, 2))
    chrome.find_element(By.ID, "file").send_keys(str(bad))
    _wait(chrome, lambda d: "tiny.png" in d.find_element(By.ID, "drop-label").text)
    chrome.find_element(By.ID, "run").click()
    _wait(chrome, lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "at least" in chrome.find_element(By.ID, "error").text

    # phone width: nothing wider than the window
    chrome.set_window_size(390, 844)
    width = chrome.execute_script("return document.documentElement.scrollWidth")
    inner = chrome.execute_script("return window.innerWidth")
    assert width <= inner
    chrome.save_screenshot(str(ARTIFACTS / "serve_page_phone.png"))
    # the errors above were HTTP 400 answers the page handled; no script error
    assert not [e for e in console_errors(chrome) if "Uncaught" in e]


@pytest.mark.slow
def test_page_draws_generated_boxes_and_masks(chrome, page_server, tmp_path: Path) -> None:
    from pycocotools import mask as mask_utils
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    image = tmp_path / "kitchen.png"
    image.write_bytes(taught_picture())
    chrome.get(page_server.url + "/")
    _wait(chrome, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option[value=pg]"))
    Select(chrome.find_element(By.ID, "model")).select_by_value("pg")
    task = Select(chrome.find_element(By.ID, "task"))
    assert [o.get_attribute("value") for o in task.options] == [
        "caption",
        "answer",
        "detect",
        "segment",
        "prompt",
    ]
    chrome.find_element(By.ID, "file").send_keys(str(image))
    _wait(chrome, lambda d: d.find_element(By.ID, "figure").is_displayed())

    task.select_by_value("caption")
    assert not chrome.find_element(By.ID, "text").is_displayed()
    chrome.find_element(By.ID, "run").click()
    _wait(chrome, lambda d: d.find_element(By.ID, "answer").text == "a red stove")

    task.select_by_value("detect")
    text = chrome.find_element(By.ID, "text")
    text.clear()
    text.send_keys("stove")
    chrome.find_element(By.ID, "run").click()
    _wait(chrome, lambda d: d.find_element(By.ID, "canvas").get_attribute("data-objects") == "1")
    assert "stove" in chrome.find_element(By.ID, "objects").text
    x0, y0, x1, y1 = TAUGHT_BOX
    pixel = (
        "const c = document.getElementById('canvas'); const s = c.width / arguments[0];"
        "return Array.from(c.getContext('2d').getImageData("
        "Math.round(arguments[1] * s), Math.round(arguments[2] * s), 1, 1).data);"
    )
    # the top edge of the box, midway, is stroked in the first colour (#e6194b)
    r, g, b, _ = chrome.execute_script(pixel, 96, (x0 + x1) / 2, y0)
    assert r > 180 and g < 90 and b < 130, (r, g, b)
    chrome.save_screenshot(str(ARTIFACTS / "serve_page_detect.png"))

    task.select_by_value("segment")
    before = chrome.execute_script(pixel, 96, (x0 + x1) / 2, (y0 + y1) / 2)
    chrome.find_element(By.ID, "run").click()
    _wait(chrome, lambda d: "with mask" in d.find_element(By.ID, "objects").text)
    after = chrome.execute_script(pixel, 96, (x0 + x1) / 2, (y0 + y1) / 2)
    assert after != before  # the mask tints the inside of the box
    # the page's RLE decoder agrees with pycocotools on the mask the server sent
    rle = mask_utils.encode(np.asfortranarray(np.eye(7, 5, k=1, dtype=np.uint8)))
    js = chrome.execute_script(
        "return Array.from(decodeRle({size: arguments[0], counts: arguments[1]}).mask);",
        [7, 5],
        rle["counts"].decode(),
    )
    assert js == mask_utils.decode(rle).flatten(order="F").tolist()
    assert console_errors(chrome) == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chrome.save_screenshot(str(ARTIFACTS / "serve_page_segment.png"))
