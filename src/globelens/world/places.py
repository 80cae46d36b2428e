"""Places of the embedded world: regions, countries, languages, scripts, incomes, styles.

Everything here is data. The numbers are invented for a toy world: they are shaped like the
real pattern (incomes vary by orders of magnitude between and within countries; the web
over-represents rich, English-speaking places), not measurements of any real country.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The seven regions of the world; GeoDE's six plus an English-speaking "Anglosphere".
REGIONS: tuple[str, ...] = (
    "Africa",
    "Americas",
    "EastAsia",
    "Europe",
    "SouthEastAsia",
    "WestAsia",
    "Anglosphere",
)

# GeoDE's region names (Anglosphere countries map onto their geographic GeoDE region).
GEODE_REGIONS: tuple[str, ...] = (
    "Africa",
    "Americas",
    "EastAsia",
    "Europe",
    "SouthEastAsia",
    "WestAsia",
)


@dataclass(frozen=True)
class Language:
    """A caption language: ISO 639-1 code, English name, ISO 15924 script."""

    code: str
    name: str
    script: str


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "English", "Latn"),
        Language("es", "Spanish", "Latn"),
        Language("pt", "Portuguese", "Latn"),
        Language("fr", "French", "Latn"),
        Language("de", "German", "Latn"),
        Language("it", "Italian", "Latn"),
        Language("sw", "Swahili", "Latn"),
        Language("ha", "Hausa", "Latn"),
        Language("ar", "Arabic", "Arab"),
        Language("fa", "Persian", "Arab"),
        Language("tr", "Turkish", "Latn"),
        Language("hi", "Hindi", "Deva"),
        Language("bn", "Bengali", "Beng"),
        Language("zh", "Chinese", "Hans"),
        Language("ja", "Japanese", "Jpan"),
        Language("ko", "Korean", "Kore"),
        Language("id", "Indonesian", "Latn"),
        Language("vi", "Vietnamese", "Latn"),
        Language("th", "Thai", "Thai"),
    )
}


@dataclass(frozen=True)
class Country:
    """One country of the world.

    ``income_median`` / ``income_sigma``: a log-normal distribution of monthly household income
    (USD PPP). ``web_weight``: how much of the crawl comes from here (the web over-represents
    rich, English-speaking places). ``english_share``: the share of this country's crawl
    captions written in English (1.0 for English-speaking countries); in other countries it
    grows with household income, the "English bridge".
    """

    name: str
    code: str
    region: str
    language: str
    local_name: str
    geode_region: str
    ds_region: str  # Dollar Street region.id: af, am, as, eu
    income_median: float
    income_sigma: float
    web_weight: float
    english_share: float
    tld: str

    @property
    def script(self) -> str:
        return LANGUAGES[self.language].script

    @property
    def english_speaking(self) -> bool:
        return self.language == "en"


def _c(*args: Any) -> Country:  # a table row, in Country's field order
    return Country(*args)


COUNTRIES: tuple[Country, ...] = (
    # name, ISO code, region, language, local name, GeoDE region, DS region,
    # income median, sigma, web weight, English share, top-level domain
    _c("Nigeria", "NG", "Africa", "ha", "Najeriya", "Africa", "af", 170, 0.85, 2.0, 0.10, "ng"),
    _c("Kenya", "KE", "Africa", "sw", "Kenya", "Africa", "af", 210, 0.85, 1.8, 0.10, "ke"),
    _c("Senegal", "SN", "Africa", "fr", "Sénégal", "Africa", "af", 190, 0.8, 1.2, 0.06, "sn"),
    _c("Egypt", "EG", "Africa", "ar", "مصر", "Africa", "af", 420, 0.8, 2.0, 0.08, "eg"),
    _c("Mexico", "MX", "Americas", "es", "México", "Americas", "am", 750, 0.85, 3.2, 0.08, "mx"),
    _c("Brazil", "BR", "Americas", "pt", "Brasil", "Americas", "am", 650, 0.9, 3.4, 0.07, "br"),
    _c("Peru", "PE", "Americas", "es", "Perú", "Americas", "am", 480, 0.85, 1.6, 0.07, "pe"),
    _c("China", "CN", "EastAsia", "zh", "中国", "EastAsia", "as", 1100, 0.9, 3.6, 0.05, "cn"),
    _c("Japan", "JP", "EastAsia", "ja", "日本", "EastAsia", "as", 3000, 0.55, 3.4, 0.07, "jp"),
    _c(
        "South Korea",
        "KR",
        "EastAsia",
        "ko",
        "대한민국",
        "EastAsia",
        "as",
        2700,
        0.55,
        2.6,
        0.07,
        "kr",
    ),
    _c("France", "FR", "Europe", "fr", "France", "Europe", "eu", 3000, 0.55, 3.4, 0.10, "fr"),
    _c("Germany", "DE", "Europe", "de", "Deutschland", "Europe", "eu", 3300, 0.5, 3.6, 0.12, "de"),
    _c("Italy", "IT", "Europe", "it", "Italia", "Europe", "eu", 2600, 0.55, 2.8, 0.09, "it"),
    _c(
        "Indonesia",
        "ID",
        "SouthEastAsia",
        "id",
        "Indonesia",
        "SouthEastAsia",
        "as",
        430,
        0.85,
        2.6,
        0.07,
        "id",
    ),
    _c(
        "Vietnam",
        "VN",
        "SouthEastAsia",
        "vi",
        "Việt Nam",
        "SouthEastAsia",
        "as",
        480,
        0.8,
        2.0,
        0.07,
        "vn",
    ),
    _c(
        "Thailand",
        "TH",
        "SouthEastAsia",
        "th",
        "ประเทศไทย",
        "SouthEastAsia",
        "as",
        700,
        0.8,
        2.0,
        0.07,
        "th",
    ),
    _c("Iran", "IR", "WestAsia", "fa", "ایران", "WestAsia", "as", 650, 0.85, 2.2, 0.06, "ir"),
    _c("Turkey", "TR", "WestAsia", "tr", "Türkiye", "WestAsia", "as", 900, 0.8, 2.4, 0.08, "tr"),
    _c("India", "IN", "WestAsia", "hi", "भारत", "WestAsia", "as", 240, 0.9, 3.0, 0.10, "in"),
    _c("Bangladesh", "BD", "WestAsia", "bn", "বাংলাদেশ", "WestAsia", "as", 200, 0.8, 1.6, 0.07, "bd"),
    _c(
        "United States",
        "US",
        "Anglosphere",
        "en",
        "United States",
        "Americas",
        "am",
        4200,
        0.7,
        14.0,
        1.0,
        "com",
    ),
    _c(
        "United Kingdom",
        "GB",
        "Anglosphere",
        "en",
        "United Kingdom",
        "Europe",
        "eu",
        3500,
        0.6,
        8.0,
        1.0,
        "uk",
    ),
    _c("Canada", "CA", "Anglosphere", "en", "Canada", "Americas", "am", 3800, 0.6, 6.0, 1.0, "ca"),
)

COUNTRY_BY_NAME: dict[str, Country] = {c.name: c for c in COUNTRIES}
COUNTRY_BY_CODE: dict[str, Country] = {c.code: c for c in COUNTRIES}


def country(name_or_code: str) -> Country:
    """Look a country up by English name or ISO code; the error lists the known ones."""
    found = COUNTRY_BY_NAME.get(name_or_code) or COUNTRY_BY_CODE.get(name_or_code)
    if found is None:
        known = ", ".join(sorted(COUNTRY_BY_NAME))
        raise KeyError(f"unknown country {name_or_code!r}; the world has: {known}")
    return found


def world_languages() -> list[str]:
    """Every caption language of the world (country languages plus English), sorted."""
    return sorted({c.language for c in COUNTRIES} | {"en"})


@dataclass(frozen=True)
class RegionStyle:
    """How homes of a region look, beyond what income decides: palettes and patterns."""

    walls: tuple[tuple[int, int, int], ...]  # painted / finished wall colours
    accents: tuple[tuple[int, int, int], ...]  # textiles, trims, object tints
    floor: tuple[int, int, int]  # finished floor colour
    pattern: str  # wall/textile pattern family, see render.PATTERNS
    rug: bool  # a patterned rug or mat on the floor
    earth: tuple[int, int, int]  # colour of earth / mud walls in poor homes
    sky: tuple[int, int, int]  # outdoor sky tint
    ground: tuple[int, int, int]  # outdoor ground colour


REGION_STYLES: dict[str, RegionStyle] = {
    "Africa": RegionStyle(
        walls=((214, 150, 72), (190, 96, 52), (226, 190, 92)),
        accents=((230, 120, 20), (20, 120, 60), (200, 30, 40), (250, 200, 20)),
        floor=(150, 90, 50),
        pattern="kente",
        rug=True,
        earth=(180, 95, 50),
        sky=(140, 190, 235),
        ground=(180, 120, 70),
    ),
    "Americas": RegionStyle(
        walls=((240, 110, 150), (60, 190, 190), (250, 210, 70)),
        accents=((230, 50, 110), (30, 160, 170), (250, 140, 20), (120, 60, 170)),
        floor=(170, 80, 60),
        pattern="zigzag",
        rug=False,
        earth=(195, 140, 110),
        sky=(120, 180, 240),
        ground=(150, 140, 90),
    ),
    "EastAsia": RegionStyle(
        walls=((232, 222, 196), (210, 200, 180), (240, 236, 226)),
        accents=((190, 30, 40), (40, 40, 40), (200, 170, 60), (90, 110, 90)),
        floor=(190, 160, 110),
        pattern="lattice",
        rug=False,
        earth=(135, 135, 130),
        sky=(170, 195, 220),
        ground=(120, 125, 110),
    ),
    "Europe": RegionStyle(
        walls=((200, 205, 210), (225, 215, 190), (170, 185, 200)),
        accents=((60, 80, 140), (140, 40, 50), (90, 90, 90), (200, 180, 140)),
        floor=(140, 100, 70),
        pattern="stripes",
        rug=False,
        earth=(150, 140, 125),
        sky=(150, 180, 215),
        ground=(100, 130, 80),
    ),
    "SouthEastAsia": RegionStyle(
        walls=((120, 190, 150), (200, 220, 140), (90, 170, 180)),
        accents=((220, 90, 30), (30, 130, 90), (240, 200, 40), (170, 40, 110)),
        floor=(160, 130, 80),
        pattern="bamboo",
        rug=True,
        earth=(150, 115, 70),
        sky=(130, 200, 230),
        ground=(90, 140, 70),
    ),
    "WestAsia": RegionStyle(
        walls=((60, 120, 180), (230, 220, 190), (40, 150, 160)),
        accents=((150, 20, 40), (20, 40, 110), (220, 180, 60), (30, 140, 150)),
        floor=(170, 140, 100),
        pattern="arabesque",
        rug=True,
        earth=(205, 185, 145),
        sky=(160, 190, 225),
        ground=(190, 170, 130),
    ),
    "Anglosphere": RegionStyle(
        walls=((245, 243, 236), (222, 228, 232), (236, 228, 214)),
        accents=((70, 100, 140), (120, 120, 120), (160, 130, 100), (60, 60, 60)),
        floor=(180, 140, 100),
        pattern="plain",
        rug=False,
        earth=(150, 145, 140),
        sky=(140, 185, 230),
        ground=(90, 140, 70),
    ),
}
