"""The world's words: concept names in every language, caption templates, landmarks.

Importable data for evaluation and demo code:

- ``CONCEPTS``: household concepts with ImageNet synsets, Dollar Street topic and names in every
  world language (``concept_names("fa")`` gives the Persian class names in concept order);
- ``LANDMARKS``: landmarks with English and local names and their look-alike family;
- ``TEMPLATES`` / ``LANDMARK_TEMPLATES`` / ``FILLERS`` / ``UNRELATED``: alt-text templates per
  language, aligned by index with English so that every caption has an exact English
  translation (``caption_en``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from globelens.world.places import COUNTRIES, COUNTRY_BY_NAME, LANGUAGES


@dataclass(frozen=True)
class Concept:
    """A household concept: id (English), ImageNet synsets, Dollar Street topic, names."""

    id: str
    synsets: tuple[str, ...]
    imagenet_names: tuple[str, ...]
    topic: str
    names: dict[str, str] = field(hash=False)

    @property
    def english(self) -> str:
        return self.names["en"]


# Column order of the names table below.
_NAME_LANGS = (
    "en", "es", "pt", "fr", "de", "it", "sw", "ha", "ar", "fa",
    "tr", "hi", "bn", "zh", "ja", "ko", "id", "vi", "th",
)  # fmt: skip

# id, synsets, ImageNet names, Dollar Street topic, names in _NAME_LANGS order.
_CONCEPT_TABLE: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str, tuple[str, ...]], ...] = (
    ("stove", ("n04330267",), ("stove",), "stove/hob",
     ("stove", "estufa", "fogão", "cuisinière", "Herd", "fornello", "jiko", "murhu", "موقد",
      "اجاق", "ocak", "चूल्हा", "চুলা", "炉子", "コンロ", "스토브", "kompor", "bếp", "เตา")),
    ("lamp", ("n04380533", "n02948072"), ("table lamp", "candle"), "light source",
     ("lamp", "lámpara", "lâmpada", "lampe", "Lampe", "lampada", "taa", "fitila", "مصباح",
      "چراغ", "lamba", "लैंप", "বাতি", "灯", "ランプ", "램프", "lampu", "đèn", "โคมไฟ")),
    ("bed", ("n02818832", "n03388549"), ("bed", "four-poster"), "bed",
     ("bed", "cama", "cama", "lit", "Bett", "letto", "kitanda", "gado", "سرير", "تخت",
      "yatak", "बिस्तर", "বিছানা", "床", "ベッド", "침대", "tempat tidur", "giường", "เตียง")),
    ("toilet", ("n04447861",), ("toilet seat",), "toilet",
     ("toilet", "inodoro", "vaso sanitário", "toilettes", "Toilette", "gabinetto", "choo",
      "ban daki", "مرحاض", "توالت", "tuvalet", "शौचालय", "টয়লেট", "厕所", "トイレ", "화장실",
      "kloset", "nhà vệ sinh", "ส้วม")),
    ("toothbrush", ("n04453156",), ("toothbrush",), "toothbrush",
     ("toothbrush", "cepillo de dientes", "escova de dentes", "brosse à dents", "Zahnbürste",
      "spazzolino", "mswaki", "asuwaki", "فرشاة أسنان", "مسواک", "diş fırçası", "टूथब्रश",
      "টুথব্রাশ", "牙刷", "歯ブラシ", "칫솔", "sikat gigi", "bàn chải đánh răng", "แปรงสีฟัน")),
    ("water jug", ("n04560804",), ("water jug",), "drinking water",
     ("water jug", "jarra de agua", "jarra de água", "carafe d'eau", "Wasserkrug",
      "brocca d'acqua", "mtungi wa maji", "tulun ruwa", "إبريق ماء", "کوزه آب", "su sürahisi",
      "पानी का घड़ा", "পানির কলসি", "水壶", "水差し", "물병", "kendi air", "bình nước",
      "เหยือกน้ำ")),
    ("refrigerator", ("n04070727",), ("refrigerator",), "refrigerator",
     ("refrigerator", "refrigerador", "geladeira", "réfrigérateur", "Kühlschrank",
      "frigorifero", "jokofu", "firji", "ثلاجة", "یخچال", "buzdolabı", "फ्रिज", "ফ্রিজ", "冰箱",
      "冷蔵庫", "냉장고", "kulkas", "tủ lạnh", "ตู้เย็น")),
    ("cooking pot", ("n02939185", "n03259280"), ("caldron", "Dutch oven"), "cooking pots",
     ("cooking pot", "olla", "panela", "marmite", "Kochtopf", "pentola", "sufuria", "tukunya",
      "قدر", "دیگ", "tencere", "पतीला", "হাঁড়ি", "锅", "鍋", "냄비", "panci", "nồi", "หม้อ")),
    ("television", ("n04404412",), ("television",), "tv",
     ("television", "televisor", "televisão", "téléviseur", "Fernseher", "televisore",
      "televisheni", "talabijin", "تلفاز", "تلویزیون", "televizyon", "टेलीविजन", "টেলিভিশন",
      "电视", "テレビ", "텔레비전", "televisi", "tivi", "โทรทัศน์")),
    ("phone", ("n02992529", "n03187595"), ("cellular telephone", "dial telephone"), "phone",
     ("phone", "teléfono", "telefone", "téléphone", "Telefon", "telefono", "simu", "waya",
      "هاتف", "تلفن", "telefon", "फ़ोन", "ফোন", "手机", "電話", "전화기", "telepon",
      "điện thoại", "โทรศัพท์")),
    ("sofa", ("n04344873",), ("studio couch",), "sofa",
     ("sofa", "sofá", "sofá", "canapé", "Sofa", "divano", "kochi", "kujerar sofa", "أريكة",
      "مبل", "kanepe", "सोफ़ा", "সোফা", "沙发", "ソファ", "소파", "sofa", "ghế sofa", "โซฟา")),
    ("shoes", ("n04120489", "n04133789"), ("running shoe", "sandal"), "shoes",
     ("shoes", "zapatos", "sapatos", "chaussures", "Schuhe", "scarpe", "viatu", "takalma",
      "حذاء", "کفش", "ayakkabı", "जूते", "জুতা", "鞋", "靴", "신발", "sepatu", "giày",
      "รองเท้า")),
    ("bicycle", ("n03792782", "n02835271"), ("mountain bike", "bicycle-built-for-two"),
     "bikes",
     ("bicycle", "bicicleta", "bicicleta", "vélo", "Fahrrad", "bicicletta", "baiskeli", "keke",
      "دراجة", "دوچرخه", "bisiklet", "साइकिल", "সাইকেল", "自行车", "自転車", "자전거", "sepeda",
      "xe đạp", "จักรยาน")),
    ("door", ("n04239074", "n03221720"), ("sliding door", "door"), "front door",
     ("door", "puerta", "porta", "porte", "Tür", "porta", "mlango", "ƙofa", "باب", "در",
      "kapı", "दरवाज़ा", "দরজা", "门", "ドア", "문", "pintu", "cửa", "ประตู")),
    ("roof", ("n04435653", "n04417672"), ("tile roof", "thatch"), "roof",
     ("roof", "techo", "telhado", "toit", "Dach", "tetto", "paa", "rufi", "سقف", "بام",
      "çatı", "छत", "ছাদ", "屋顶", "屋根", "지붕", "atap", "mái nhà", "หลังคา")),
    ("toy", ("n04399382",), ("teddy bear",), "toys",
     ("toy", "juguete", "brinquedo", "jouet", "Spielzeug", "giocattolo", "kichezeo",
      "abin wasa", "لعبة", "اسباب‌بازی", "oyuncak", "खिलौना", "খেলনা", "玩具", "おもちゃ",
      "장난감", "mainan", "đồ chơi", "ของเล่น")),
    ("washbasin", ("n04553703",), ("washbasin",), "place where hands are washed",
     ("washbasin", "lavabo", "pia", "lavabo", "Waschbecken", "lavandino", "beseni",
      "wurin wanke hannu", "حوض غسيل", "روشویی", "lavabo", "वॉशबेसिन", "বেসিন", "洗手池",
      "洗面台", "세면대", "wastafel", "bồn rửa", "อ่างล้างหน้า")),
    ("chair", ("n03376595", "n04099969"), ("folding chair", "rocking chair"), "chairs",
     ("chair", "silla", "cadeira", "chaise", "Stuhl", "sedia", "kiti", "kujera", "كرسي",
      "صندلی", "sandalye", "कुर्सी", "চেয়ার", "椅子", "椅子", "의자", "kursi", "ghế", "เก้าอี้")),
    ("table", ("n03201208",), ("dining table",), "tables",
     ("table", "mesa", "mesa", "table", "Tisch", "tavolo", "meza", "tebur", "طاولة", "میز",
      "masa", "मेज़", "টেবিল", "桌子", "テーブル", "식탁", "meja", "bàn", "โต๊ะ")),
    ("bucket", ("n02909870",), ("bucket",), "buckets",
     ("bucket", "balde", "balde", "seau", "Eimer", "secchio", "ndoo", "bokiti", "دلو", "سطل",
      "kova", "बाल्टी", "বালতি", "水桶", "バケツ", "양동이", "ember", "xô", "ถัง")),
    ("broom", ("n02906734",), ("broom",), "cleaning equipment",
     ("broom", "escoba", "vassoura", "balai", "Besen", "scopa", "ufagio", "tsintsiya",
      "مكنسة", "جارو", "süpürge", "झाड़ू", "ঝাড়ু", "扫帚", "ほうき", "빗자루", "sapu", "chổi",
      "ไม้กวาด")),
    ("clock", ("n04548280",), ("wall clock",), "wall clock",
     ("clock", "reloj", "relógio", "horloge", "Uhr", "orologio", "saa", "agogo", "ساعة",
      "ساعت", "saat", "घड़ी", "ঘড়ি", "钟", "時計", "시계", "jam", "đồng hồ", "นาฬิกา")),
    ("radio", ("n04041544",), ("radio",), "radio",
     ("radio", "radio", "rádio", "radio", "Radio", "radio", "redio", "rediyo", "راديو",
      "رادیو", "radyo", "रेडियो", "রেডিও", "收音机", "ラジオ", "라디오", "radio", "đài",
      "วิทยุ")),
    ("plate", ("n07579787",), ("plate",), "plates",
     ("plate", "plato", "prato", "assiette", "Teller", "piatto", "sahani", "faranti", "طبق",
      "بشقاب", "tabak", "थाली", "থালা", "盘子", "皿", "접시", "piring", "đĩa", "จาน")),
)  # fmt: skip

CONCEPTS: tuple[Concept, ...] = tuple(
    Concept(cid, syn, inames, topic, dict(zip(_NAME_LANGS, names, strict=True)))
    for cid, syn, inames, topic, names in _CONCEPT_TABLE
)
CONCEPT_IDS: tuple[str, ...] = tuple(c.id for c in CONCEPTS)
CONCEPT_BY_ID: dict[str, Concept] = {c.id: c for c in CONCEPTS}


def concept_names(language: str = "en") -> list[str]:
    """Class names of all concepts in one language, in ``CONCEPT_IDS`` order."""
    if language not in LANGUAGES:
        raise KeyError(f"unknown language {language!r}; known: {', '.join(sorted(LANGUAGES))}")
    return [c.names[language] for c in CONCEPTS]


@dataclass(frozen=True)
class Landmark:
    """A landmark: English name, local name, country, and the drawing family it belongs to.

    Landmarks of the same ``family`` are deliberate look-alikes (a pod tower in Iran and one in
    Canada); ``params`` are the details that tell them apart.
    """

    id: str
    name: str
    local_name: str
    country: str
    family: str
    params: dict[str, object] = field(hash=False)

    @property
    def region(self) -> str:
        return COUNTRY_BY_NAME[self.country].region


def _lm(lid: str, name: str, local: str, country: str, family: str, **params: object) -> Landmark:
    return Landmark(lid, name, local, country, family, params)


LANDMARKS: tuple[Landmark, ...] = (
    # Pod towers: Milad vs CN vs N Seoul vs Oriental Pearl.
    _lm("milad_tower", "Milad Tower", "برج میلاد", "Iran", "pod_tower",
        pod=(0.62, 0.16, 0.13), shaft=(150, 150, 160), pod_color=(120, 130, 150), tip=0.22,
        base="octagon", pods=1, mountains=True),
    _lm("cn_tower", "CN Tower", "CN Tower", "Canada", "pod_tower",
        pod=(0.66, 0.11, 0.07), shaft=(200, 195, 185), pod_color=(90, 90, 100), tip=0.30,
        base="legs", pods=2, water=True),
    _lm("n_seoul_tower", "N Seoul Tower", "N서울타워", "South Korea", "pod_tower",
        pod=(0.55, 0.12, 0.10), shaft=(235, 235, 235), pod_color=(230, 230, 240), tip=0.18,
        base="hill", pods=1),
    _lm("oriental_pearl", "Oriental Pearl Tower", "东方明珠塔", "China", "pod_tower",
        pod=(0.55, 0.14, 0.14), shaft=(180, 180, 190), pod_color=(210, 50, 120), tip=0.20,
        base="legs", pods=3),
    # Lattice towers: Eiffel vs Tokyo Tower.
    _lm("eiffel_tower", "Eiffel Tower", "Tour Eiffel", "France", "lattice_tower",
        color=(110, 90, 70), band=None, arch=True),
    _lm("tokyo_tower", "Tokyo Tower", "東京タワー", "Japan", "lattice_tower",
        color=(235, 80, 40), band=(250, 250, 250), arch=False),
    # Cathedral facades: Montreal vs São Paulo vs Cologne.
    _lm("notre_dame_montreal", "Notre-Dame Basilica", "Notre-Dame Basilica", "Canada",
        "cathedral", color=(170, 160, 150), spires=False, towers=2, rose=False, doors=3),
    _lm("se_cathedral", "São Paulo Cathedral", "Catedral da Sé", "Brazil", "cathedral",
        color=(200, 195, 175), spires=True, towers=2, rose=True, dome=True, doors=3),
    _lm("cologne_cathedral", "Cologne Cathedral", "Kölner Dom", "Germany", "cathedral",
        color=(90, 85, 80), spires=True, towers=2, rose=False, doors=1, tall=True),
    # Gates and arches.
    _lm("arc_de_triomphe", "Arc de Triomphe", "Arc de Triomphe", "France", "arch",
        color=(220, 210, 185), openings=1, top="flat"),
    _lm("brandenburg_gate", "Brandenburg Gate", "Brandenburger Tor", "Germany", "arch",
        color=(215, 200, 160), openings=5, top="quadriga"),
    _lm("india_gate", "India Gate", "इंडिया गेट", "India", "arch",
        color=(200, 150, 110), openings=1, top="dome_step"),
    _lm("azadi_tower", "Azadi Tower", "برج آزادی", "Iran", "arch",
        color=(235, 235, 230), openings=1, top="flare"),
    # Statues.
    _lm("statue_of_liberty", "Statue of Liberty", "Statue of Liberty", "United States",
        "statue", color=(120, 180, 160), arms="torch", pedestal=True),
    _lm("christ_the_redeemer", "Christ the Redeemer", "Cristo Redentor", "Brazil", "statue",
        color=(225, 225, 215), arms="open", pedestal=False, mountain=True),
    _lm("african_renaissance", "African Renaissance Monument",
        "Monument de la Renaissance africaine", "Senegal", "statue",
        color=(80, 70, 55), arms="group", pedestal=False, mountain=True),
    # Pyramids.
    _lm("giza_pyramids", "Pyramids of Giza", "أهرامات الجيزة", "Egypt", "pyramid",
        color=(215, 180, 120), stepped=False, count=3),
    _lm("chichen_itza", "Chichen Itza", "Chichén Itzá", "Mexico", "pyramid",
        color=(170, 160, 140), stepped=True, count=1),
    # Domed buildings.
    _lm("taj_mahal", "Taj Mahal", "ताज महल", "India", "domed",
        color=(245, 243, 238), minarets=4, dome="onion", pool=True),
    _lm("hagia_sophia", "Hagia Sophia", "Ayasofya", "Turkey", "domed",
        color=(205, 140, 120), minarets=4, dome="flat"),
    _lm("ahsan_manzil", "Ahsan Manzil", "আহসান মঞ্জিল", "Bangladesh", "domed",
        color=(220, 120, 140), minarets=0, dome="onion", wide=True),
    # Pagodas and temples.
    _lm("kinkakuji", "Kinkaku-ji", "金閣寺", "Japan", "pagoda",
        color=(215, 180, 60), tiers=3, pool=True),
    _lm("temple_of_heaven", "Temple of Heaven", "天坛", "China", "pagoda",
        color=(40, 70, 140), tiers=3, round=True),
    _lm("gyeongbokgung", "Gyeongbokgung", "경복궁", "South Korea", "pagoda",
        color=(60, 130, 110), tiers=2, wide=True),
    _lm("one_pillar_pagoda", "One Pillar Pagoda", "Chùa Một Cột", "Vietnam", "pagoda",
        color=(120, 60, 40), tiers=1, pillar=True, pool=True),
    _lm("wat_arun", "Wat Arun", "วัดอรุณ", "Thailand", "spire_temple",
        color=(225, 215, 195), spires=5),
    _lm("borobudur", "Borobudur", "Candi Borobudur", "Indonesia", "spire_temple",
        color=(110, 105, 95), spires=1, terraces=True),
    # Towers, bridges and others.
    _lm("big_ben", "Big Ben", "Big Ben", "United Kingdom", "clock_tower",
        color=(190, 165, 110), clock=True),
    _lm("galata_tower", "Galata Tower", "Galata Kulesi", "Turkey", "clock_tower",
        color=(200, 185, 160), clock=False, cone=True),
    _lm("golden_gate", "Golden Gate Bridge", "Golden Gate Bridge", "United States", "bridge",
        color=(200, 70, 40), towers=2, suspension=True),
    _lm("tower_bridge", "Tower Bridge", "Tower Bridge", "United Kingdom", "bridge",
        color=(160, 150, 130), towers=2, suspension=False),
    _lm("colosseum", "Colosseum", "Colosseo", "Italy", "colosseum",
        color=(200, 160, 110), tiers=4),
    _lm("leaning_tower", "Leaning Tower of Pisa", "Torre di Pisa", "Italy", "clock_tower",
        color=(240, 235, 225), clock=False, lean=True),
    _lm("zuma_rock", "Zuma Rock", "Dutsen Zuma", "Nigeria", "rock",
        color=(120, 100, 85), face=True),
    _lm("kicc", "Kenyatta International Convention Centre", "Jumba la KICC", "Kenya",
        "cylinder", color=(190, 110, 80), cap=True),
    _lm("machu_picchu", "Machu Picchu", "Machu Picchu", "Peru", "rock",
        color=(70, 110, 60), ruins=True),
    _lm("monas", "National Monument", "Monumen Nasional", "Indonesia", "obelisk",
        color=(240, 240, 235), flame=True),
)  # fmt: skip

LANDMARK_BY_ID: dict[str, Landmark] = {lm.id: lm for lm in LANDMARKS}
LANDMARK_NAMES: tuple[str, ...] = tuple(lm.name for lm in LANDMARKS)


def landmarks_of(country_name: str) -> list[Landmark]:
    """The landmarks of one country (every country has one or two)."""
    return [lm for lm in LANDMARKS if lm.country == country_name]


def look_alike_groups() -> dict[str, list[str]]:
    """Landmark families with more than one member: family -> English names."""
    groups: dict[str, list[str]] = {}
    for lm in LANDMARKS:
        groups.setdefault(lm.family, []).append(lm.name)
    return {k: v for k, v in groups.items() if len(v) > 1}


# Alt-text templates, aligned by index across languages: TEMPLATES[lang][i] translates
# TEMPLATES["en"][i]. "{c}" is the concept name.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "en": ("{c}", "{c} at home", "photo: {c}", "{c} for sale", "{c} in our house"),
    "es": ("{c}", "{c} en casa", "foto: {c}", "{c} en venta", "{c} en nuestra casa"),
    "pt": ("{c}", "{c} em casa", "foto: {c}", "{c} à venda", "{c} na nossa casa"),
    "fr": ("{c}", "{c} à la maison", "photo : {c}", "{c} à vendre", "{c} dans notre maison"),
    "de": ("{c}", "{c} zu Hause", "Foto: {c}", "{c} zu verkaufen", "{c} in unserem Haus"),
    "it": ("{c}", "{c} a casa", "foto: {c}", "{c} in vendita", "{c} nella nostra casa"),
    "sw": ("{c}", "{c} nyumbani", "picha: {c}", "{c} inauzwa", "{c} nyumbani kwetu"),
    "ha": ("{c}", "{c} a gida", "hoto: {c}", "ana sayar da {c}", "{c} a gidanmu"),
    "ar": ("{c}", "{c} في البيت", "صورة: {c}", "{c} للبيع", "{c} في منزلنا"),
    "fa": ("{c}", "{c} در خانه", "عکس: {c}", "{c} برای فروش", "{c} در خانه ما"),
    "tr": ("{c}", "evde {c}", "fotoğraf: {c}", "satılık {c}", "bizim evdeki {c}"),
    "hi": ("{c}", "घर में {c}", "फ़ोटो: {c}", "{c} बिक्री के लिए", "हमारे घर में {c}"),
    "bn": ("{c}", "বাড়িতে {c}", "ছবি: {c}", "{c} বিক্রি হবে", "আমাদের বাড়ির {c}"),
    "zh": ("{c}", "家里的{c}", "照片：{c}", "出售{c}", "我们家的{c}"),
    "ja": ("{c}", "家の{c}", "写真：{c}", "{c}を販売", "我が家の{c}"),
    "ko": ("{c}", "집에 있는 {c}", "사진: {c}", "{c} 판매", "우리 집 {c}"),
    "id": ("{c}", "{c} di rumah", "foto: {c}", "dijual {c}", "{c} di rumah kami"),
    "vi": ("{c}", "{c} ở nhà", "ảnh: {c}", "bán {c}", "{c} nhà tôi"),
    "th": ("{c}", "{c}ที่บ้าน", "ภาพ: {c}", "ขาย{c}", "{c}ของบ้านเรา"),
}

# Landmark templates: "{l}" landmark name, "{k}" country name (in the caption's language).
LANDMARK_TEMPLATES: dict[str, tuple[str, ...]] = {
    "en": ("{l}", "{l}, {k}", "visiting {l}", "view of {l}"),
    "es": ("{l}", "{l}, {k}", "visitando {l}", "vista de {l}"),
    "pt": ("{l}", "{l}, {k}", "visitando {l}", "vista de {l}"),
    "fr": ("{l}", "{l}, {k}", "visite : {l}", "vue sur {l}"),
    "de": ("{l}", "{l}, {k}", "Besuch: {l}", "Blick auf {l}"),
    "it": ("{l}", "{l}, {k}", "in visita a {l}", "vista su {l}"),
    "sw": ("{l}", "{l}, {k}", "tukitembelea {l}", "mandhari ya {l}"),
    "ha": ("{l}", "{l}, {k}", "ziyara a {l}", "kallon {l}"),
    "ar": ("{l}", "{l}، {k}", "زيارة {l}", "منظر {l}"),
    "fa": ("{l}", "{l}، {k}", "بازدید از {l}", "نمای {l}"),
    "tr": ("{l}", "{l}, {k}", "{l} gezisi", "{l} manzarası"),
    "hi": ("{l}", "{l}, {k}", "{l} की यात्रा", "{l} का दृश्य"),
    "bn": ("{l}", "{l}, {k}", "{l} ভ্রমণ", "{l}-এর দৃশ্য"),
    "zh": ("{l}", "{k}{l}", "参观{l}", "{l}的景色"),
    "ja": ("{l}", "{k}の{l}", "{l}を訪問", "{l}の眺め"),
    "ko": ("{l}", "{k} {l}", "{l} 방문", "{l} 풍경"),
    "id": ("{l}", "{l}, {k}", "berkunjung ke {l}", "pemandangan {l}"),
    "vi": ("{l}", "{l}, {k}", "tham quan {l}", "cảnh {l}"),
    "th": ("{l}", "{l} {k}", "เที่ยว{l}", "วิว{l}"),
}

# Extra words of alt text, aligned by index: "today", "beautiful", "#home".
FILLERS: dict[str, tuple[str, ...]] = {
    "en": ("today", "beautiful", "#home"),
    "es": ("hoy", "bonito", "#hogar"),
    "pt": ("hoje", "lindo", "#casa"),
    "fr": ("aujourd'hui", "joli", "#maison"),
    "de": ("heute", "schön", "#zuhause"),
    "it": ("oggi", "bello", "#casa"),
    "sw": ("leo", "nzuri", "#nyumbani"),
    "ha": ("yau", "kyakkyawa", "#gida"),
    "ar": ("اليوم", "جميل", "#منزل"),
    "fa": ("امروز", "زیبا", "#خانه"),
    "tr": ("bugün", "güzel", "#ev"),
    "hi": ("आज", "सुंदर", "#घर"),
    "bn": ("আজ", "সুন্দর", "#বাড়ি"),
    "zh": ("今天", "漂亮", "#家"),
    "ja": ("今日", "きれい", "#家"),
    "ko": ("오늘", "예쁜", "#집"),
    "id": ("hari ini", "bagus", "#rumah"),
    "vi": ("hôm nay", "đẹp", "#nhà"),
    "th": ("วันนี้", "สวย", "#บ้าน"),
}

# Alt text that says nothing about the picture, aligned by index.
UNRELATED: dict[str, tuple[str, ...]] = {
    "en": ("happy birthday", "click here for more", "image"),
    "es": ("feliz cumpleaños", "haz clic aquí", "imagen"),
    "pt": ("feliz aniversário", "clique aqui", "imagem"),
    "fr": ("joyeux anniversaire", "cliquez ici", "image"),
    "de": ("alles Gute zum Geburtstag", "hier klicken", "Bild"),
    "it": ("buon compleanno", "clicca qui", "immagine"),
    "sw": ("heri ya siku ya kuzaliwa", "bofya hapa", "picha"),
    "ha": ("barka da ranar haihuwa", "danna nan", "hoto"),
    "ar": ("عيد ميلاد سعيد", "انقر هنا", "صورة"),
    "fa": ("تولدت مبارک", "اینجا کلیک کنید", "تصویر"),
    "tr": ("doğum günün kutlu olsun", "buraya tıklayın", "resim"),
    "hi": ("जन्मदिन मुबारक", "यहाँ क्लिक करें", "तस्वीर"),
    "bn": ("শুভ জন্মদিন", "এখানে ক্লিক করুন", "ছবি"),
    "zh": ("生日快乐", "点击这里", "图片"),
    "ja": ("誕生日おめでとう", "ここをクリック", "画像"),
    "ko": ("생일 축하해", "여기를 클릭하세요", "이미지"),
    "id": ("selamat ulang tahun", "klik di sini", "gambar"),
    "vi": ("chúc mừng sinh nhật", "bấm vào đây", "hình ảnh"),
    "th": ("สุขสันต์วันเกิด", "คลิกที่นี่", "รูปภาพ"),
}

# Languages written without spaces between words: fillers join without a space.
NO_SPACE_LANGS: frozenset[str] = frozenset({"zh", "ja", "th"})


def metadata_lists() -> dict[str, list[str]]:
    """MetaCLIP-style metadata of every world language, in the spirit of WordNet lemmas and
    Wikipedia titles and unigrams: concept names, the names of landmarks and countries as
    captions in that language write them, the word for "photo" and the filler words."""
    photo = TEMPLATES["en"].index("photo: {c}")
    lists: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        words = [c.names[lang] for c in CONCEPTS]
        if lang == "en":  # English captions name every landmark and country in English
            words += [lm.name for lm in LANDMARKS] + [c.name for c in COUNTRIES]
        else:
            words += [
                lm.local_name for lm in LANDMARKS if COUNTRY_BY_NAME[lm.country].language == lang
            ]
            words += [c.local_name for c in COUNTRIES if c.language == lang]
        words.append(TEMPLATES[lang][photo].replace("{c}", "").strip(" :："))
        words += FILLERS[lang]
        lists[lang] = list(dict.fromkeys(w.strip() for w in words if w.strip()))
    return lists


def lexicon_dict() -> dict[str, object]:
    """The whole lexicon as plain JSON-able data (written into world.json)."""
    return {
        "concepts": [
            {
                "id": c.id,
                "synsets": list(c.synsets),
                "imagenet_names": list(c.imagenet_names),
                "topic": c.topic,
                "names": dict(c.names),
            }
            for c in CONCEPTS
        ],
        "landmarks": [
            {
                "id": lm.id,
                "name": lm.name,
                "local_name": lm.local_name,
                "country": lm.country,
                "region": lm.region,
                "family": lm.family,
            }
            for lm in LANDMARKS
        ],
        "look_alike_groups": look_alike_groups(),
        "templates": {k: list(v) for k, v in TEMPLATES.items()},
        "landmark_templates": {k: list(v) for k, v in LANDMARK_TEMPLATES.items()},
    }


def _check() -> None:
    # Fail at import if a language misses a table: every caption needs its translation.
    for table_name, table in (
        ("TEMPLATES", TEMPLATES),
        ("LANDMARK_TEMPLATES", LANDMARK_TEMPLATES),
        ("FILLERS", FILLERS),
        ("UNRELATED", UNRELATED),
    ):
        missing = set(LANGUAGES) - set(table)
        if missing:
            raise RuntimeError(f"{table_name} lacks languages {sorted(missing)}")
        sizes = {len(v) for v in table.values()}
        if len(sizes) != 1:
            raise RuntimeError(f"{table_name} entries are not aligned: sizes {sorted(sizes)}")
    if set(_NAME_LANGS) != set(LANGUAGES):
        raise RuntimeError("concept name table languages differ from LANGUAGES")
    for lm in LANDMARKS:
        if lm.country not in COUNTRY_BY_NAME:
            raise RuntimeError(f"landmark {lm.id} names unknown country {lm.country!r}")


_check()
