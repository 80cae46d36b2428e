"""MetaCLIP metadata balancing, per language (MetaCLIP 2's worldwide curation).

Pass 1 (``features``, in parallel per shard) matches each caption against the entry list of
its language (the count pass's input); the reduce (``select``, once, in input order) counts
matches per entry per language, sets each language's threshold, picks one alt-text per image
and keeps each pair with probability ``1 - prod(1 - p_e)`` over its matched entries, as
independent Bernoulli draws, one per (sample, entry), seeded by the sample's uid, so a run is
reproducible and a resumed run identical. The released MetaCLIP code draws from an unseeded
``random``.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from globelens.curate.base import GlobalStep, StepReport, register_step
from globelens.curate.metadata import (
    OTHER,
    Matcher,
    clean_entries,
    entry_probs,
    load_metadata,
    p_to_t,
    t_to_p,
)
from globelens.data import Sample

NO_LIST, NO_MATCH = "metadata_no_list", "metadata_no_match"
OTHER_TEXT, NOT_SAMPLED = "metadata_other_text_of_image", "metadata_not_sampled"


@dataclass(frozen=True)
class Scope:
    """Which lists the texts are matched against (the MetaCLIP 2 ablation ladder):
    ``groups`` arranges the loaded lists into match groups; ``reference`` is the group whose
    threshold is ``t_en`` and whose tail mass sets the others'."""

    reference: str
    groups: Callable[[dict[str, list[str]]], dict[str, list[str]]]
    per_language: bool


def _english_only(lists: dict[str, list[str]]) -> dict[str, list[str]]:
    if "en" not in lists:
        raise ValueError(f"scope 'english' needs an 'en' list; the metadata has {sorted(lists)}")
    return {"en": lists["en"]}


SCOPES: dict[str, Scope] = {
    # every text against its own language's list (``other`` for languages without one)
    "per_language": Scope("en", dict, per_language=True),
    # every text against the English list: MetaCLIP 1 run on worldwide data
    "english": Scope("en", _english_only, per_language=False),
    # every text against the union of all lists, one count table
    "merged": Scope(
        "all",
        lambda lists: {"all": clean_entries(e for k in sorted(lists) for e in lists[k])},
        per_language=False,
    ),
}
#: ``per_language``: t_l from the reference tail mass; ``shared``: t_en for every group
THRESHOLDS = ("per_language", "shared")
ONE_TEXT_PER = ("image", "sample")

_M1, _M2, _GOLDEN = (
    np.uint64(0xBF58476D1CE4E5B9),
    np.uint64(0x94D049BB133111EB),
    np.uint64(0x9E3779B97F4A7C15),
)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer on a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _uid_words(uid: str) -> tuple[int, int]:
    """The two 64-bit halves of a 128-bit uid (32 hex digits), or of the sha256 of any other
    identifier (an in-memory sample's key)."""
    if len(uid) == 32:
        with contextlib.suppress(ValueError):
            return int(uid[:16], 16), int(uid[16:], 16)
    digest = hashlib.sha256(uid.encode()).hexdigest()
    return int(digest[:16], 16), int(digest[16:32], 16)


def uniform_draws(uids: Sequence[str], entries: np.ndarray, seed: int) -> np.ndarray:
    """One uniform in [0, 1) per (uid, entry id) pair, a pure function of (seed, uid, entry):
    the keep draws never depend on workers, order or which other samples exist."""
    words = np.array([_uid_words(u) for u in uids], dtype=np.uint64).reshape(-1, 2)
    hi, lo = words[:, 0], words[:, 1]
    with np.errstate(over="ignore"):
        key = _mix(
            _mix(hi ^ _mix(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64) + _GOLDEN)) ^ lo
        )
        x = _mix(key + (entries.astype(np.uint64) + np.uint64(1)) * _GOLDEN)
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _pick(seed: int, key: str, n: int) -> int:
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:16], 16) % n


@register_step("metadata_balance")
class MetadataBalance(GlobalStep):
    """Curate by MetaCLIP metadata balancing: keep pairs whose caption matches an entry of
    its language's list, capping head entries at the threshold and keeping tail ones.

    ``metadata``: a folder of ``{lang}.txt`` / ``{lang}.json`` lists (or one list file).
    Exactly one of ``t_en`` (English threshold, as published: 20,000 for 400M pairs,
    170,000 for MetaCLIP 2) or ``tail_mass`` (the English tail mass p; t_en is then the
    count where English's cumulative share is nearest p). ``scope`` and ``threshold`` pick
    the rung of the MetaCLIP 2 ladder; ``lang_field``: the detected language (from a
    ``langid`` step), mapped through ``lang_map`` (LID code -> list name). ``one_text_per``:
    ``image`` picks one matched alt-text per image (same image bytes), ``sample`` keeps
    every sample on its own."""

    def __init__(
        self,
        metadata: str,
        t_en: float | None = None,
        tail_mass: float | None = None,
        scope: str = "per_language",
        threshold: str = "per_language",
        lang_field: str = "lang",
        lang_map: dict[str, str] | None = None,
        one_text_per: str = "image",
        seed: int = 0,
        top_entries: int = 10,
    ) -> None:
        if (t_en is None) == (tail_mass is None):
            raise ValueError("metadata_balance needs exactly one of 't_en' or 'tail_mass'")
        if t_en is not None and t_en <= 0:
            raise ValueError(f"metadata_balance: t_en must be positive, got {t_en}")
        if tail_mass is not None and not 0 < tail_mass <= 1:
            raise ValueError(f"metadata_balance: tail_mass must be in (0, 1], got {tail_mass}")
        for name, value, valid in (
            ("scope", scope, tuple(SCOPES)),
            ("threshold", threshold, THRESHOLDS),
            ("one_text_per", one_text_per, ONE_TEXT_PER),
        ):
            if value not in valid:
                raise ValueError(
                    f"metadata_balance: unknown {name} {value!r}. Valid: {', '.join(valid)}"
                )
        self.scope = SCOPES[scope]
        self.lists = self.scope.groups(load_metadata(metadata))
        self.t_en, self.tail_mass, self.threshold = t_en, tail_mass, threshold
        self.lang_field, self.lang_map = lang_field, dict(lang_map or {})
        self.one_text_per, self.seed, self.top_entries = one_text_per, seed, top_entries
        self._matchers: dict[str, Matcher] = {}
        self._report: StepReport | None = None

    # ------------------------------------------------------------------ pass 1: matching

    def group_of(self, sample: Sample) -> str | None:
        """The list a sample's caption is matched against (None: no list for it)."""
        if not self.scope.per_language:
            return self.scope.reference
        if self.lang_field not in sample.meta:
            raise ValueError(
                f"metadata_balance: sample {sample.key!r} has no {self.lang_field!r} in its "
                "metadata; put a 'langid' step before it (or set lang_field)"
            )
        lang = str(sample.meta[self.lang_field])
        lang = self.lang_map.get(lang, lang)
        if lang in self.lists:
            return lang
        return OTHER if OTHER in self.lists else None

    def matcher(self, group: str) -> Matcher:
        # Built on first use: a worker only builds the automata of the languages it sees.
        if group not in self._matchers:
            self._matchers[group] = Matcher(self.lists[group])
        return self._matchers[group]

    def features(self, batch: Sequence[Sample]) -> list[Any]:
        feats = []
        for sample in batch:
            group = self.group_of(sample)
            ids = self.matcher(group).match(sample.caption or "") if group is not None else []
            image = (
                hashlib.sha256(sample.image_bytes or b"").hexdigest()[:32]
                if self.one_text_per == "image" and ids
                else None
            )
            feats.append([group, ids, image])
        return feats

    # ------------------------------------------------------------------ reduce: balancing

    def thresholds(self, counts: dict[str, np.ndarray]) -> tuple[dict[str, int | float], float]:
        """Each matched group's threshold and the reference tail mass p."""
        ref = counts.get(self.scope.reference)
        ref_total = int(ref.sum()) if ref is not None else 0
        if self.t_en is not None:
            t_ref: float | None = self.t_en
            p = t_to_p(ref, self.t_en) if ref_total else None
        else:
            p = self.tail_mass
            t_ref = p_to_t(ref, p) if ref_total else None
        out: dict[str, int | float] = {}
        for group, c in counts.items():
            if not c.sum():
                continue  # nothing matched: nothing to decide
            shared = group == self.scope.reference or self.threshold == "shared"
            if shared and t_ref is not None:
                out[group] = t_ref
            elif not shared and p is not None:
                out[group] = p_to_t(c, p)
            else:
                raise ValueError(
                    f"metadata_balance: no caption matched the {self.scope.reference!r} list, "
                    f"so the threshold of {group!r} is undefined; give t_en with "
                    "threshold = 'shared', or check the metadata and the language ids"
                )
        return out, (float("nan") if p is None else float(p))

    def _one_text_per_image(
        self, matched: list[int], images: list[str | None], drops: dict[int, str]
    ) -> list[int]:
        """MetaCLIP's ``random.choice`` over an image's matched alt-texts, seeded per image."""
        members: dict[str, list[int]] = defaultdict(list)
        for i in matched:
            if images[i] is not None:
                members[images[i]].append(i)  # type: ignore[index]
        for key, idx in members.items():
            if len(idx) > 1:
                chosen = idx[_pick(self.seed, key, len(idx))]
                for i in idx:
                    if i != chosen:
                        drops[i] = OTHER_TEXT
        return [i for i in matched if i not in drops]

    def select(
        self, features: Sequence[Any], uids: Sequence[str]
    ) -> tuple[dict[int, str], dict[int, dict[str, Any]]]:
        drops: dict[int, str] = {}
        by_group: dict[str, list[int]] = defaultdict(list)
        texts: dict[str, int] = defaultdict(int)
        for i, (group, ids, _image) in enumerate(features):
            if group is None:
                drops[i] = NO_LIST
                continue
            texts[group] += 1
            if ids:
                by_group[group].append(i)
            else:
                drops[i] = NO_MATCH
        # Counts over every matched alt-text (before one is picked per image), as released.
        counts = {
            g: np.bincount(
                np.concatenate([np.asarray(features[i][1], np.int64) for i in idx]),
                minlength=len(self.lists[g]),
            )
            for g, idx in sorted(by_group.items())
        }
        t, p = self.thresholds(counts)
        images = [f[2] for f in features]
        patches: dict[int, dict[str, Any]] = {}
        rows, entry_rows = [], []
        for g in sorted(by_group):
            chosen = self._one_text_per_image(by_group[g], images, drops)
            probs = entry_probs(counts[g], t[g])
            kept, stats = self._draw(g, chosen, features, uids, probs, counts[g])
            for i in chosen:
                if i in kept:
                    entries = [self.lists[g][e] for e in features[i][1]]
                    patches[i] = {"metadata_lang": g, "metadata_entries": entries}
                else:
                    drops[i] = NOT_SAMPLED
            rows.append(self._language_row(g, texts[g], len(by_group[g]), len(chosen),
                                           len(kept), t[g], stats))  # fmt: skip
            entry_rows += stats
        for g in sorted(set(texts) - set(by_group)):
            rows.append(self._language_row(g, texts[g], 0, 0, 0, None, []))
        self._report = self._make_report(p, rows, entry_rows, drops)
        return drops, patches

    def _draw(
        self, group: str, chosen: list[int], features: Sequence[Any], uids: Sequence[str],
        probs: np.ndarray, counts: np.ndarray,
    ) -> tuple[set[int], list[dict[str, Any]]]:  # fmt: skip
        """The keep draws of one group's chosen samples, and its per-entry rows."""
        lengths = np.array([len(features[i][1]) for i in chosen], dtype=np.int64)
        eids = np.concatenate([np.asarray(features[i][1], np.int64) for i in chosen] or [[]])
        eids = eids.astype(np.int64)
        owners = np.repeat(np.arange(len(chosen)), lengths)
        u = uniform_draws([uids[chosen[j]] for j in owners], eids, self.seed)
        hit = u < probs[eids]
        keep = np.bincount(owners, weights=hit, minlength=len(chosen)) > 0
        # the chance each sample had: 1 - prod(1 - p_e) over its entries (1 if some p_e is 1)
        with np.errstate(divide="ignore"):
            log_miss = np.bincount(owners, weights=np.log1p(-probs[eids]), minlength=len(chosen))
        chance = -np.expm1(log_miss)
        n_e = np.bincount(eids, minlength=len(probs))
        kept_e = np.bincount(eids, weights=keep[owners], minlength=len(probs))
        expected_e = np.bincount(eids, weights=chance[owners], minlength=len(probs))
        var_e = np.bincount(eids, weights=(chance * (1 - chance))[owners], minlength=len(probs))
        stats = [
            {
                "lang": group,
                "entry_id": int(e),
                "entry": self.lists[group][e],
                "count": int(counts[e]),
                "p": float(probs[e]),
                "texts": int(n_e[e]),
                "kept": int(kept_e[e]),
                "expected": float(expected_e[e]),
                "variance": float(var_e[e]),
            }
            for e in np.nonzero(counts)[0]
        ]
        return {chosen[j] for j in np.nonzero(keep)[0]}, stats

    def _language_row(
        self, group: str, texts: int, matched: int, chosen: int, kept: int,
        t: int | float | None, stats: list[dict[str, Any]],
    ) -> dict[str, Any]:  # fmt: skip
        head = sorted((s for s in stats if s["p"] < 1.0), key=lambda s: (-s["count"], s["entry"]))
        return {
            "lang": group,
            "t": t,
            "texts": texts,
            "matched": matched,
            "matched_share": round(matched / texts, 4) if texts else None,
            "one_per_image": chosen,
            "kept": kept,
            "kept_share": round(kept / texts, 4) if texts else None,
            "entries_matched": len(stats),
            "head_entries": sum(1 for s in stats if s["p"] < 1.0),
            "top_head": [
                {
                    "entry": s["entry"],
                    "count": s["count"],
                    "p": round(s["p"], 4),
                    "cut": round(1 - s["kept"] / s["texts"], 4) if s["texts"] else None,
                }
                for s in head[: self.top_entries]
            ],
        }

    def _make_report(
        self, p: float, rows: list[dict[str, Any]], entry_rows: list[dict[str, Any]],
        drops: dict[int, str],
    ) -> StepReport:  # fmt: skip
        reasons: dict[str, int] = defaultdict(int)
        for why in drops.values():
            reasons[why] += 1
        # columns and rows, not row dicts: the report's JSON is written with sorted keys
        columns = ["language", "t", "texts", "matched share", "kept share",
                   "head entries (count → kept share)"]  # fmt: skip
        table_rows = [
            [
                r["lang"], r["t"], r["texts"], r["matched_share"], r["kept_share"],
                ", ".join(
                    f"{h['entry']} {h['count']} → {1 - h['cut']:.0%}"
                    for h in r["top_head"][:3]
                    if h["cut"] is not None
                ),
            ]
            for r in rows
        ]  # fmt: skip
        summary = {
            "tail_mass": None if np.isnan(p) else round(p, 6),
            "t_en": self.t_en,
            "reference": self.scope.reference,
            "threshold": self.threshold,
            "languages": rows,
            "drops": dict(sorted(reasons.items())),
            "table": {"columns": columns, "rows": table_rows},
        }
        entries = sorted(entry_rows, key=lambda r: (r["lang"], r["entry_id"]))
        return StepReport(summary=summary, tables={"entries": entries})

    def report(self) -> StepReport | None:
        return self._report
