"""A model kind is one entry of ``KINDS`` and a family one ``register_family`` call: the
server's discovery, loading and batching and the evaluator's preparation all read them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import pytest

from globelens.evaluate.protocols import Prepared
from globelens.models import families, kinds
from globelens.serve.config import BatchConfig
from globelens.serve.models import Serving, discover, load_served


@runtime_checkable
class Counter(Protocol):
    def count(self, words: Sequence[str]) -> list[int]: ...


@dataclass
class WordCounter:
    """A "model" of a new kind: it counts the words of each text."""

    path: str
    fingerprint: str = "counter"

    def count(self, words: Sequence[str]) -> list[int]:
        return [len(w.split()) for w in words]


@dataclass(frozen=True)
class CounterFamily:
    """The family record of the new kind."""

    kind: ClassVar[str] = "counter"
    name: str


def _load(path: str, device: str, codec: str | None = None) -> WordCounter:
    return WordCounter(path)


def prepare(model: Any, bench: Any, opts: Any, caches: Any) -> Prepared:
    return Prepared(ctx=("prepared", model.path), timing={}, skipped={})


def _warm(model: WordCounter, batcher: Any) -> None:
    assert batcher.run_sync(["warm up"]) == [2]


SERVING = Serving(lambda model: model.count, _warm, ("count",))


@pytest.fixture
def counter_kind(monkeypatch: pytest.MonkeyPatch) -> kinds.ModelKind:
    kind = kinds.ModelKind(
        "counter", Counter, _load, kinds.Ref(__name__, "prepare"), kinds.Ref(__name__, "SERVING")
    )
    monkeypatch.setitem(kinds.KINDS, "counter", kind)
    monkeypatch.setitem(families.FAMILIES, "word_counter", CounterFamily("word_counter"))
    return kind


def test_a_new_kind_is_one_entry(counter_kind: kinds.ModelKind, tmp_path: Path) -> None:
    model_dir = tmp_path / "runs" / "counter"
    model_dir.mkdir(parents=True)
    (model_dir / "config.json").write_text(json.dumps({"model_type": "word_counter"}))
    assert kinds.kind_of("word_counter") is counter_kind
    assert "word_counter" in kinds.known_model_types()
    assert counter_kind.model_types() == ["word_counter"]

    # serve: found on disk, loaded, batched and warmed up through the kind's entry
    [spec] = discover([str(tmp_path)])
    assert (spec.name, spec.kind) == ("runs/counter", "counter")
    served = load_served(spec, BatchConfig(max_batch=4), warmup=True)
    try:
        assert served.batcher.run_sync(["a b c", "d"]) == [3, 1]
        assert served.info()["tasks"] == ["count"]
    finally:
        served.batcher.stop()

    # evaluate: the loaded model's kind and the preparation it names
    model = counter_kind.load(spec.path, "cpu")
    kind = kinds.kind_of_model(model)
    assert kind is counter_kind
    assert kind.prepare.get()(model, None, None, None).ctx == ("prepared", spec.path)


def test_the_built_in_registries() -> None:
    assert {n: k.model_types() for n, k in kinds.KINDS.items()} == {
        "generator": ["paligemma"],
        "dual_encoder": ["siglip", "siglip2", "clip"],
    }
    for kind in kinds.KINDS.values():
        assert callable(kind.prepare.get())
        assert isinstance(kind.serving.get(), Serving)
    with pytest.raises(ValueError, match="not a supported dual encoder"):
        families.dual_encoder_family("paligemma")
