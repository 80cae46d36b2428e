"""The shared ``chrome`` fixture: a real headless Chromium that reports console errors."""

from __future__ import annotations

from conftest import console_errors

CLEAN = """<!doctype html><html><head><meta charset="utf-8"><title>ok</title></head>
<body><p id="p">hello</p><script>
document.getElementById("p").textContent = "hello from js";
console.log("just a log line");
</script></body></html>"""

BROKEN = """<!doctype html><html><head><meta charset="utf-8"><title>broken</title></head>
<body><p id="p">hello</p><script>
console.error("something went wrong");
throw new Error("boom from the page");
</script></body></html>"""


def test_page_without_errors(chrome, tmp_path):
    page = tmp_path / "clean.html"
    page.write_text(CLEAN)
    chrome.get(page.as_uri())
    assert chrome.title == "ok"
    assert chrome.find_element("id", "p").text == "hello from js"
    assert console_errors(chrome) == []


def test_page_with_a_js_error(chrome, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(BROKEN)
    chrome.get(page.as_uri())
    errors = console_errors(chrome)
    assert any("boom from the page" in e for e in errors), errors
    assert any("something went wrong" in e for e in errors), errors
    assert console_errors(chrome) == []  # reading the log empties it
