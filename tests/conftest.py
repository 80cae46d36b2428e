"""Shared pytest fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# ``from vlm_factory import tiny_paligemma_dir`` (tiny PaliGemma directories) from any test folder
sys.path.insert(0, str(Path(__file__).parent / "models"))

# --- training / models fixtures: tiny random SigLIP and CLIP model directories --------------

TINY_CAPTIONS = {
    "en": ["a red bus on a city street", "a bowl of rice on a table", "a dog sleeping at home"],
    "fr": ["un bus rouge dans une rue", "un bol de riz sur une table", "un chien qui dort"],
    "ar": ["حافلة حمراء في شارع المدينة", "وعاء من الأرز على الطاولة", "كلب نائم في البيت"],
    "fa": ["اتوبوس قرمز در خیابان شهر", "کاسه برنج روی میز", "سگی که در خانه خوابیده"],
    "hi": ["शहर की सड़क पर लाल बस", "मेज़ पर चावल का कटोरा", "घर में सोता हुआ कुत्ता"],
    "bn": ["শহরের রাস্তায় লাল বাস", "টেবিলে এক বাটি ভাত", "বাড়িতে ঘুমন্ত কুকুর"],
    "zh": ["城市街道上的红色公共汽车", "桌子上的一碗米饭", "在家睡觉的狗"],
    "ja": ["街の通りを走る赤いバス", "テーブルの上のご飯", "家で寝ている犬"],
    "ko": ["도시 거리의 빨간 버스", "식탁 위의 밥 한 그릇", "집에서 자는 개"],
    "th": ["รถเมล์สีแดงบนถนนในเมือง", "ข้าวหนึ่งชามบนโต๊ะ", "สุนัขนอนหลับอยู่ที่บ้าน"],
}


@pytest.fixture(scope="session")
def tiny_captions() -> dict[str, list[str]]:
    """Three captions in each of ten languages and seven scripts."""
    return TINY_CAPTIONS


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small multilingual BPE tokenizer trained on the captions above."""
    from globelens.models import train_tokenizer

    out = tmp_path_factory.mktemp("tiny_tokenizer")
    captions = [c for caps in TINY_CAPTIONS.values() for c in caps]
    languages = [lang for lang, caps in TINY_CAPTIONS.items() for _ in caps]
    train_tokenizer(captions, vocab_size=400, out_dir=out, languages=languages)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer_dir: Path) -> Path:
    """A randomly initialised ``tiny`` SigLIP model directory (HF format, safetensors)."""
    from globelens.models import build_model

    return build_model("tiny", tiny_tokenizer_dir, tmp_path_factory.mktemp("tiny_siglip"), seed=0)


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer_dir: Path) -> Path:
    """A randomly initialised ``tiny`` CLIP model directory (HF format, safetensors)."""
    from globelens.models import build_model

    out = tmp_path_factory.mktemp("tiny_clip")
    return build_model("tiny", tiny_tokenizer_dir, out, seed=0, model_type="clip")


# --- end of training / models fixtures ------------------------------------------------------


# --- browser fixtures: headless Chromium through selenium ------------------------------------
# Debian's chromium + chromium-driver (`make test` installs them when run as root).
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # we run as root in containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # small /dev/shm in containers
    "--window-size=1280,900",
)


@pytest.fixture
def chrome(tmp_path_factory: pytest.TempPathFactory):
    """A headless Chromium WebDriver with a fresh profile and browser console logging.

    Use ``console_errors(driver)`` to assert a page logged no errors. Skips (with the reason)
    when Chromium or chromedriver is not installed.
    """
    import os

    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            pytest.skip(f"{path} not found: install Debian's {package} (`make test` does, as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver) -> list[str]:
    """Browser console messages at error level (uncaught exceptions, console.error, failed
    loads) since the last call; reading the log empties it."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


# --- end of browser fixtures -----------------------------------------------------------------


# --- world fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``globelens world build OUT --size tiny --seed 0``: crawl, benchmarks, scenes and the
    generative sets. Shared by the session: treat it as read-only."""
    from globelens.world import build_world

    out = tmp_path_factory.mktemp("tiny_world") / "w"
    build_world(out, seed=0, size="tiny", workers=1, progress=False)
    return out
