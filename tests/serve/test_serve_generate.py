"""Generative routes on a real server: the openai client's chat completions, native
/v1/generate, batched generation, and hostile prompts; the model is a tiny PaliGemma taught a
few answers, so boxes and masks are real generated output parsed by the task language."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import pytest
from serve_factory import (
    TAUGHT_BOX,
    TAUGHT_SIZE,
    b64,
    data_uri,
    running,
    taught_examples,
    taught_generator_dir,
    taught_picture,
)

from globelens.serve import ServeConfig


@pytest.fixture(scope="module")
def gen_server(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path):
    pg = taught_generator_dir(tmp_path_factory.mktemp("taught"))
    with running([f"pg={pg}", f"tiny={tiny_model_dir}"], ServeConfig()) as (server, state):
        yield server, state


def _chat(client, prompt: str, image: bytes | None = None, **kw):
    return client.chat.completions.create(
        model="pg",
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image_url",
                        "image_url": {"url": data_uri(image or taught_picture())},
                    },
                    {"type": "text", "text": prompt},
                ],
            }
        ],
        **kw,
    )


def test_openai_chat_detect_and_segment(gen_server) -> None:
    from openai import OpenAI
    from pycocotools import mask as mask_utils

    server, _ = gen_server
    client = OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    taught = dict(taught_examples())
    w, h = TAUGHT_SIZE

    det = _chat(client, "detect stove")
    assert det.choices[0].message.content == taught["detect stove"]
    assert det.choices[0].finish_reason == "stop" and det.usage.completion_tokens > 0
    extra = det.model_extra["globelens"]
    assert extra["task"] == "detect" and extra["invalid"] == []
    [obj] = extra["objects"]
    assert obj["label"] == "stove" and obj["score"] == pytest.approx(extra["logprob"])
    bin_px = max(w, h) / 1023
    assert np.allclose(obj["box"], TAUGHT_BOX, atol=bin_px)

    seg = _chat(client, "segment stove")
    [obj] = seg.model_extra["globelens"]["objects"]
    rle = {"size": obj["mask"]["size"], "counts": obj["mask"]["counts"].encode()}
    mask = mask_utils.decode(rle).astype(bool)
    assert mask.shape == (h, w)
    x0, y0, x1, y1 = (round(v) for v in obj["box"])
    assert mask[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1].all() and not mask[:, x1 + 1 :].any()

    chunks = list(_chat(client, "detect stove", stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == taught["detect stove"]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["globelens"]["objects"][0]["label"] == "stove"

    cap = _chat(client, "caption en", max_tokens=4)
    assert cap.choices[0].message.content == "a red stove"
    assert cap.model_extra["globelens"]["answer"] == "a red stove"


def test_native_generate_json_multipart_and_batched(gen_server) -> None:
    server, state = gen_server
    pic = taught_picture()
    j = httpx.post(
        server.url + "/v1/generate", json={"image": b64(pic), "prompt": "caption en"}, timeout=60
    )
    assert j.status_code == 200 and j.json()["result"]["answer"] == "a red stove"
    m = httpx.post(
        server.url + "/v1/generate",
        files={"image": ("p.png", pic, "image/png")},
        data={"model": "pg", "prompt": "detect stove", "max_new_tokens": "16"},
        timeout=60,
    ).json()
    assert m["text"] == dict(taught_examples())["detect stove"] and m["result"]["objects"]

    async def many():
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as c:
            return await asyncio.gather(
                *(
                    c.post("/v1/generate", json={"image": b64(pic), "prompt": p})
                    for p, _ in taught_examples() * 3
                )
            )

    before = state.models["pg"].batcher.stats.batches
    replies = asyncio.run(many())
    assert state.models["pg"].batcher.stats.batches - before < len(replies)
    want = [s for _, s in taught_examples() * 3]
    assert [r.json()["text"] for r in replies] == want  # batching changed no answer


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"prompt": "x" * 100_000}, 422, "prompt"),
        ({"prompt": ""}, 422, "prompt"),
        ({"prompt": 5}, 422, "prompt"),
        ({"max_new_tokens": 0}, 422, "max_new_tokens"),
        ({"max_new_tokens": 100_000}, 422, "max_new_tokens"),
        ({"num_beams": "many"}, 422, "num_beams"),
        ({"model": "tiny"}, 400, "model"),
        ({"image": b64(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)}, 400, "image"),
    ],
)
def test_hostile_generate(gen_server, body: dict, status: int, param: str) -> None:
    server, _ = gen_server
    full = {"image": b64(taught_picture()), "prompt": "caption en", **body}
    r = httpx.post(server.url + "/v1/generate", json=full, timeout=60)
    assert r.status_code == status, r.text
    assert r.json()["error"]["param"] == param


def test_hostile_chat_then_still_serving(gen_server) -> None:
    from openai import BadRequestError, OpenAI, UnprocessableEntityError

    server, _ = gen_server
    client = OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(UnprocessableEntityError):
        _chat(client, "answer en " + "why " * 25_000)
    with pytest.raises(BadRequestError, match="n must be 1"):
        _chat(client, "caption en", n=2)
    with pytest.raises(BadRequestError):
        _chat(client, "caption en", image=b"not an image at all")
    # 0 is a value, refused, not "unset" (which would mean the default)
    for field in ("max_tokens", "max_completion_tokens"):
        with pytest.raises(UnprocessableEntityError, match=field) as e:
            _chat(client, "caption en", **{field: 0})
        assert e.value.code == "invalid_value" and e.value.param == field
    # sampling settings are accepted and have no effect: decoding is greedy
    sampled = _chat(client, "caption en", temperature=1.5, top_p=0.5, seed=3)
    assert sampled.choices[0].message.content == "a red stove"
    assert httpx.get(server.url + "/ready").status_code == 200
    assert _chat(client, "caption en").choices[0].message.content == "a red stove"
