"""The words scenes need in every world language: lists, positions, questions, colours.

Tables are aligned with English by key, like the alt-text templates in lexicon.py. Where a
language would need a plural form, an article or a gender agreement that the lexicon does not
carry (Spanish "¿cuántas estufas?"), the phrasing is telegraphic instead ("estufa: ¿qué
cantidad hay?"), as alt text and referring expressions often are.
"""

from __future__ import annotations

from globelens.world.lexicon import NO_SPACE_LANGS

#: "and" between the last two names of a list; Arabic writes it joined to the next word.
AND: dict[str, str] = {
    "en": "and", "es": "y", "pt": "e", "fr": "et", "de": "und", "it": "e", "sw": "na",
    "ha": "da", "ar": "و", "fa": "و", "tr": "ve", "hi": "और", "bn": "ও", "zh": "和",
    "ja": "と", "ko": "및", "id": "dan", "vi": "và", "th": "และ",
}  # fmt: skip
_COMMA: dict[str, str] = {"ar": "، ", "fa": "، ", "zh": "、", "ja": "、"}

#: Referring expressions: "{a}" the object, "{b}" its neighbour.
REF_TEMPLATES: dict[str, dict[str, str]] = {
    "left": {
        "en": "{a} on the left", "es": "{a} a la izquierda", "pt": "{a} à esquerda",
        "fr": "{a} à gauche", "de": "{a} links", "it": "{a} a sinistra",
        "sw": "{a} upande wa kushoto", "ha": "{a} na hagu", "ar": "{a} على اليسار",
        "fa": "{a} سمت چپ", "tr": "soldaki {a}", "hi": "बाईं ओर {a}", "bn": "বাম দিকের {a}",
        "zh": "左边的{a}", "ja": "左の{a}", "ko": "왼쪽 {a}", "id": "{a} di kiri",
        "vi": "{a} bên trái", "th": "{a}ทางซ้าย",
    },
    "right": {
        "en": "{a} on the right", "es": "{a} a la derecha", "pt": "{a} à direita",
        "fr": "{a} à droite", "de": "{a} rechts", "it": "{a} a destra",
        "sw": "{a} upande wa kulia", "ha": "{a} na dama", "ar": "{a} على اليمين",
        "fa": "{a} سمت راست", "tr": "sağdaki {a}", "hi": "दाईं ओर {a}", "bn": "ডান দিকের {a}",
        "zh": "右边的{a}", "ja": "右の{a}", "ko": "오른쪽 {a}", "id": "{a} di kanan",
        "vi": "{a} bên phải", "th": "{a}ทางขวา",
    },
    "middle": {
        "en": "{a} in the middle", "es": "{a} en el centro", "pt": "{a} no meio",
        "fr": "{a} au milieu", "de": "{a} in der Mitte", "it": "{a} al centro",
        "sw": "{a} katikati", "ha": "{a} a tsakiya", "ar": "{a} في الوسط", "fa": "{a} وسط",
        "tr": "ortadaki {a}", "hi": "बीच में {a}", "bn": "মাঝের {a}", "zh": "中间的{a}",
        "ja": "真ん中の{a}", "ko": "가운데 {a}", "id": "{a} di tengah", "vi": "{a} ở giữa",
        "th": "{a}ตรงกลาง",
    },
    "left_of": {
        "en": "{a} left of {b}", "es": "{a} a la izquierda de {b}",
        "pt": "{a} à esquerda de {b}", "fr": "{a} à gauche de {b}", "de": "{a} links von {b}",
        "it": "{a} a sinistra di {b}", "sw": "{a} kushoto mwa {b}", "ha": "{a} a hagun {b}",
        "ar": "{a} على يسار {b}", "fa": "{a} سمت چپ {b}", "tr": "{b} solundaki {a}",
        "hi": "{b} के बाईं ओर {a}", "bn": "{b}-এর বাম দিকের {a}", "zh": "{b}左边的{a}",
        "ja": "{b}の左の{a}", "ko": "{b} 왼쪽의 {a}", "id": "{a} di kiri {b}",
        "vi": "{a} bên trái {b}", "th": "{a}ทางซ้ายของ{b}",
    },
    "right_of": {
        "en": "{a} right of {b}", "es": "{a} a la derecha de {b}",
        "pt": "{a} à direita de {b}", "fr": "{a} à droite de {b}", "de": "{a} rechts von {b}",
        "it": "{a} a destra di {b}", "sw": "{a} kulia mwa {b}", "ha": "{a} a damar {b}",
        "ar": "{a} على يمين {b}", "fa": "{a} سمت راست {b}", "tr": "{b} sağındaki {a}",
        "hi": "{b} के दाईं ओर {a}", "bn": "{b}-এর ডান দিকের {a}", "zh": "{b}右边的{a}",
        "ja": "{b}の右の{a}", "ko": "{b} 오른쪽의 {a}", "id": "{a} di kanan {b}",
        "vi": "{a} bên phải {b}", "th": "{a}ทางขวาของ{b}",
    },
}  # fmt: skip

#: VQA questions by type; "{c}" is the object's name. English counts use :func:`plural`.
QUESTIONS: dict[str, dict[str, str]] = {
    "what is this": {
        "en": "what is this?", "es": "¿qué es esto?", "pt": "o que é isto?",
        "fr": "qu'est-ce que c'est ?", "de": "was ist das?", "it": "che cos'è questo?",
        "sw": "hiki ni nini?", "ha": "menene wannan?", "ar": "ما هذا؟", "fa": "این چیست؟",
        "tr": "bu nedir?", "hi": "यह क्या है?", "bn": "এটা কী?", "zh": "这是什么？",
        "ja": "これは何ですか？", "ko": "이것은 무엇입니까?", "id": "apa ini?",
        "vi": "đây là gì?", "th": "นี่คืออะไร",
    },
    "how many": {
        "en": "how many {c} are there?", "es": "{c}: ¿qué cantidad hay?",
        "pt": "{c}: qual é a quantidade?", "fr": "{c} : combien y en a-t-il ?",
        "de": "{c}: wie viele sind es?", "it": "{c}: qual è il numero?",
        "sw": "kuna {c} ngapi?", "ha": "{c} nawa ne?", "ar": "{c}: كم العدد؟",
        "fa": "چند {c} هست؟", "tr": "kaç {c} var?", "hi": "कितने {c} हैं?",
        "bn": "কয়টি {c} আছে?", "zh": "有几个{c}？", "ja": "{c}はいくつありますか？",
        "ko": "{c} 몇 개 있어요?", "id": "ada berapa {c}?", "vi": "có bao nhiêu {c}?",
        "th": "มี{c}กี่อัน",
    },
    "what color is the": {
        "en": "what color is the {c}?", "es": "{c}: ¿de qué color es?",
        "pt": "{c}: de que cor é?", "fr": "{c} : de quelle couleur ?",
        "de": "{c}: welche Farbe?", "it": "{c}: di che colore è?", "sw": "{c} ni rangi gani?",
        "ha": "menene launin {c}?", "ar": "ما لون {c}؟", "fa": "{c} چه رنگی است؟",
        "tr": "{c} ne renk?", "hi": "{c} किस रंग का है?", "bn": "{c} কী রঙের?",
        "zh": "{c}是什么颜色的？", "ja": "{c}は何色ですか？", "ko": "{c} 무슨 색이에요?",
        "id": "{c} warnanya apa?", "vi": "{c} màu gì?", "th": "{c}สีอะไร",
    },
    "which": {
        "en": "which country is this landmark in?", "es": "¿en qué país está este monumento?",
        "pt": "em que país fica este monumento?",
        "fr": "dans quel pays se trouve ce monument ?",
        "de": "in welchem Land steht dieses Wahrzeichen?",
        "it": "in quale paese si trova questo monumento?", "sw": "alama hii iko nchi gani?",
        "ha": "wannan wurin tarihi yana wace ƙasa?", "ar": "في أي بلد يقع هذا المعلم؟",
        "fa": "این بنا در کدام کشور است؟", "tr": "bu simge yapı hangi ülkede?",
        "hi": "यह स्मारक किस देश में है?", "bn": "এই স্থাপনাটি কোন দেশে?",
        "zh": "这个地标在哪个国家？", "ja": "このランドマークはどの国にありますか？",
        "ko": "이 랜드마크는 어느 나라에 있습니까?", "id": "landmark ini ada di negara mana?",
        "vi": "địa danh này ở nước nào?", "th": "สถานที่สำคัญนี้อยู่ประเทศอะไร",
    },
}  # fmt: skip

#: VQAv2 answer type of each question type.
ANSWER_TYPES: dict[str, str] = {
    "what is this": "other", "how many": "number", "what color is the": "other",
    "which": "other",
}  # fmt: skip

#: Colour names, in the order of ``render.COLORS``.
COLOR_NAMES: dict[str, dict[str, str]] = {
    "red": {"en": "red", "es": "rojo", "pt": "vermelho", "fr": "rouge", "de": "rot",
            "it": "rosso", "sw": "nyekundu", "ha": "ja", "ar": "أحمر", "fa": "قرمز",
            "tr": "kırmızı", "hi": "लाल", "bn": "লাল", "zh": "红色", "ja": "赤", "ko": "빨간색",
            "id": "merah", "vi": "đỏ", "th": "แดง"},
    "blue": {"en": "blue", "es": "azul", "pt": "azul", "fr": "bleu", "de": "blau",
             "it": "blu", "sw": "bluu", "ha": "shuɗi", "ar": "أزرق", "fa": "آبی",
             "tr": "mavi", "hi": "नीला", "bn": "নীল", "zh": "蓝色", "ja": "青", "ko": "파란색",
             "id": "biru", "vi": "xanh dương", "th": "น้ำเงิน"},
    "green": {"en": "green", "es": "verde", "pt": "verde", "fr": "vert", "de": "grün",
              "it": "verde", "sw": "kijani", "ha": "kore", "ar": "أخضر", "fa": "سبز",
              "tr": "yeşil", "hi": "हरा", "bn": "সবুজ", "zh": "绿色", "ja": "緑", "ko": "초록색",
              "id": "hijau", "vi": "xanh lá", "th": "เขียว"},
    "yellow": {"en": "yellow", "es": "amarillo", "pt": "amarelo", "fr": "jaune", "de": "gelb",
               "it": "giallo", "sw": "njano", "ha": "rawaya", "ar": "أصفر", "fa": "زرد",
               "tr": "sarı", "hi": "पीला", "bn": "হলুদ", "zh": "黄色", "ja": "黄色",
               "ko": "노란색", "id": "kuning", "vi": "vàng", "th": "เหลือง"},
    "white": {"en": "white", "es": "blanco", "pt": "branco", "fr": "blanc", "de": "weiß",
              "it": "bianco", "sw": "nyeupe", "ha": "fari", "ar": "أبيض", "fa": "سفید",
              "tr": "beyaz", "hi": "सफ़ेद", "bn": "সাদা", "zh": "白色", "ja": "白", "ko": "흰색",
              "id": "putih", "vi": "trắng", "th": "ขาว"},
    "black": {"en": "black", "es": "negro", "pt": "preto", "fr": "noir", "de": "schwarz",
              "it": "nero", "sw": "nyeusi", "ha": "baƙi", "ar": "أسود", "fa": "سیاه",
              "tr": "siyah", "hi": "काला", "bn": "কালো", "zh": "黑色", "ja": "黒", "ko": "검은색",
              "id": "hitam", "vi": "đen", "th": "ดำ"},
    "brown": {"en": "brown", "es": "marrón", "pt": "marrom", "fr": "marron", "de": "braun",
              "it": "marrone", "sw": "kahawia", "ha": "ruwan ƙasa", "ar": "بني",
              "fa": "قهوه‌ای", "tr": "kahverengi", "hi": "भूरा", "bn": "বাদামী", "zh": "棕色",
              "ja": "茶色", "ko": "갈색", "id": "cokelat", "vi": "nâu", "th": "น้ำตาล"},
    "grey": {"en": "gray", "es": "gris", "pt": "cinza", "fr": "gris", "de": "grau",
             "it": "grigio", "sw": "kijivu", "ha": "toka", "ar": "رمادي", "fa": "خاکستری",
             "tr": "gri", "hi": "स्लेटी", "bn": "ধূসর", "zh": "灰色", "ja": "灰色", "ko": "회색",
             "id": "abu-abu", "vi": "xám", "th": "เทา"},
    "orange": {"en": "orange", "es": "naranja", "pt": "laranja", "fr": "orange",
               "de": "orange", "it": "arancione", "sw": "machungwa", "ha": "lemu",
               "ar": "برتقالي", "fa": "نارنجی", "tr": "turuncu", "hi": "नारंगी", "bn": "কমলা",
               "zh": "橙色", "ja": "オレンジ", "ko": "주황색", "id": "oranye", "vi": "cam",
               "th": "ส้ม"},
}  # fmt: skip


def join_names(lang: str, names: list[str]) -> str:
    """``a, b and c`` in ``lang``."""
    if len(names) == 1:
        return names[0]
    conj = AND[lang]
    if lang in NO_SPACE_LANGS:
        last = f"{names[-2]}{conj}{names[-1]}"
    elif lang == "ar":
        last = f"{names[-2]} {conj}{names[-1]}"
    else:
        last = f"{names[-2]} {conj} {names[-1]}"
    return _COMMA.get(lang, ", ").join([*names[:-2], last])


def plural(name: str) -> str:
    """English plural of a concept name ("shoes" already is one)."""
    if name.endswith("s"):
        return name if name.endswith("es") or name == "shoes" else name + "es"
    if name.endswith(("sh", "ch", "x")):
        return name + "es"
    return name + "s"


def question(kind: str, lang: str, name: str = "") -> str:
    """The question of ``kind`` in ``lang`` about the object called ``name``."""
    if kind == "how many" and lang == "en":
        name = plural(name)
    return QUESTIONS[kind][lang].format(c=name)


def _check() -> None:
    langs = set(AND)
    for table in (*REF_TEMPLATES.values(), *QUESTIONS.values(), *COLOR_NAMES.values()):
        assert set(table) == langs, sorted(langs ^ set(table))


_check()
