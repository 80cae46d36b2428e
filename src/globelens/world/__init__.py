"""The embedded synthetic world: places, lexicon, renderer and builder.

Modules: ``places`` and ``lexicon`` (plain data), ``render`` (drawing, with exact masks for
scenes), ``config`` (sizes, crawl knobs), ``plans`` and ``scenes`` (what each picture shows and
its targets), ``sinks`` and ``scene_sinks`` (the real release formats), ``sheet`` (the contact
sheet), ``builder`` (puts it together, in any number of processes).

Public interface::

    from globelens.world import build_world, CONCEPTS, concept_names, LANDMARKS, COUNTRIES
    summary = build_world("out/world", seed=0, size="default")   # dict, also world.json
    concept_names("fa")                                           # Persian class names

The lexicon and places are plain data, importable without building anything.
"""

from globelens.world.builder import (
    SIZES,
    WorldConfig,
    WorldSize,
    build_world,
    format_summary,
    load_summary,
    resolve_size,
)
from globelens.world.lexicon import (
    CONCEPT_BY_ID,
    CONCEPT_IDS,
    CONCEPTS,
    LANDMARK_BY_ID,
    LANDMARK_NAMES,
    LANDMARKS,
    Concept,
    Landmark,
    concept_names,
    landmarks_of,
    look_alike_groups,
)
from globelens.world.places import (
    COUNTRIES,
    COUNTRY_BY_CODE,
    COUNTRY_BY_NAME,
    LANGUAGES,
    REGIONS,
    Country,
    Language,
    country,
    world_languages,
)

__all__ = [
    "CONCEPTS",
    "CONCEPT_BY_ID",
    "CONCEPT_IDS",
    "COUNTRIES",
    "COUNTRY_BY_CODE",
    "COUNTRY_BY_NAME",
    "LANDMARKS",
    "LANDMARK_BY_ID",
    "LANDMARK_NAMES",
    "LANGUAGES",
    "REGIONS",
    "SIZES",
    "Concept",
    "Country",
    "Landmark",
    "Language",
    "WorldConfig",
    "WorldSize",
    "build_world",
    "concept_names",
    "country",
    "format_summary",
    "landmarks_of",
    "load_summary",
    "look_alike_groups",
    "resolve_size",
    "world_languages",
]
