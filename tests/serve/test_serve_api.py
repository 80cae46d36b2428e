"""The HTTP API on a real uvicorn server: the openai and huggingface_hub clients unmodified,
cross-checked with transformers; limits and hostile input; readiness and metrics."""

from __future__ import annotations

import asyncio
import base64
import io
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from PIL import Image
from serve_factory import (
    b64,
    corrupt_jpeg,
    data_uri,
    model_folder,
    picture,
    png_with_header_size,
    running,
    truncated_png,
)

from globelens.models import load_dual_encoder
from globelens.serve import BatchConfig, Limits, ServeConfig

KEY = "test-key-123"
SIGLIP, CLIP = "runs/siglip_run", "runs/clip_run"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, tiny_clip_dir: Path):
    root = model_folder(
        tmp_path_factory.mktemp("demo"), {"siglip_run": tiny_model_dir, "clip_run": tiny_clip_dir}
    )
    config = ServeConfig(limits=Limits(max_body_bytes=4 << 20), api_key=KEY)
    with (
        running([str(root)], config) as (server, state),
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
        ) as client,
    ):
        yield server, state, client, root


def _good(client: httpx.Client) -> None:
    r = client.post(
        "/v1/classify", json={"model": SIGLIP, "image": b64(picture()), "labels": ["a", "b"]}
    )
    assert r.status_code == 200, r.text


def test_health_ready_models_metrics(served) -> None:
    server, _state, client, _ = served
    assert httpx.get(server.url + "/health").json() == {"status": "ok"}  # no key needed
    ready = client.get("/ready")
    assert ready.status_code == 200 and set(ready.json()["models"]) == {SIGLIP, CLIP}
    models = client.get("/v1/models").json()["data"]
    assert {m["id"]: m["kind"] for m in models} == {SIGLIP: "dual_encoder", CLIP: "dual_encoder"}
    from openai import NotFoundError, OpenAI

    oai = OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
    assert sorted(m.id for m in oai.models.list()) == [CLIP, SIGLIP]
    assert oai.models.retrieve(SIGLIP).model_extra["kind"] == "dual_encoder"
    with pytest.raises(NotFoundError):
        oai.models.retrieve("nope")
    _good(client)
    text = client.get("/metrics").text
    assert 'globelens_requests_total{route="/v1/classify",status="200"}' in text
    assert "globelens_batch_size_bucket" in text and "globelens_ready 1.0" in text


def test_openai_embeddings_match_the_model(served) -> None:
    from openai import OpenAI

    server, _state, _, root = served
    client = OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
    enc = load_dual_encoder(root / SIGLIP / "model")
    texts = ["a red bus", "城市街道上的红色公共汽车"]
    default = client.embeddings.create(model=SIGLIP, input=texts)  # base64 on the wire
    floats = client.embeddings.create(model=SIGLIP, input=texts, encoding_format="float")
    want = enc.encode_texts(texts)
    for resp in (default, floats):
        got = torch.tensor([d.embedding for d in resp.data])
        assert torch.allclose(got, want, atol=1e-5)
    assert default.usage.prompt_tokens > 0 and default.model == SIGLIP
    from globelens.data.images import decode_image

    # a small picture and a large one, each as a data URI among texts; a JPEG is draft-decoded
    # to the model's size, as `globelens eval` decodes it
    for png in (picture(70, 90), picture(400, 300, "JPEG")):
        im = client.embeddings.create(model=SIGLIP, input=[data_uri(png), "a dog"])
        want_img = enc.encode_images(enc.preprocess([decode_image(png, enc.image_size)]))[0]
        assert torch.allclose(torch.tensor(im.data[0].embedding), want_img, atol=1e-5)
    assert torch.allclose(
        torch.tensor(im.data[1].embedding), enc.encode_texts(["a dog"])[0], atol=1e-5
    )


@pytest.mark.parametrize("name", [SIGLIP, CLIP])
def test_hf_client_zero_shot_matches_transformers_pipeline(served, name: str) -> None:
    from huggingface_hub import InferenceClient
    from transformers import pipeline

    server, _, _, root = served
    png = picture(120, 100, seed=3)
    labels = ["a red bus", "a bowl of rice", "a dog sleeping at home"]
    client = InferenceClient(model=f"{server.url}/models/{name}", token=KEY)
    got = client.zero_shot_image_classification(png, candidate_labels=labels)
    assert [g.label for g in got] == sorted(labels, key=lambda lab: -_score(got, lab))
    pipe = pipeline("zero-shot-image-classification", model=str(root / name / "model"))
    want = pipe(Image.open(io.BytesIO(png)), candidate_labels=labels)
    for w in want:
        assert _score(got, w["label"]) == pytest.approx(w["score"], abs=1e-4)
    if name == CLIP:  # softmax for CLIP, sigmoid (independent scores) for SigLIP
        assert sum(g.score for g in got) == pytest.approx(1.0, abs=1e-5)


def _score(out, label: str) -> float:
    return next(o.score for o in out if o.label == label)


@pytest.mark.parametrize("size", [(64, 48), (400, 300)])  # decoded on the loop / in a thread
def test_native_classify_json_and_multipart_agree(served, size: tuple[int, int]) -> None:
    _, _, client, _ = served
    png = picture(*size)
    labels = ["a dog", "a bus", "rice"]
    j = client.post(
        "/v1/classify", json={"model": CLIP, "image": b64(png), "labels": labels, "template": "{c}"}
    ).json()
    m = client.post(
        "/v1/classify",
        files={"image": ("x.png", png, "image/png")},
        data={"model": CLIP, "labels": labels},
    ).json()
    assert j["activation"] == "softmax" and [s["label"] for s in j["scores"]] == [
        s["label"] for s in m["scores"]
    ]
    for a, b in zip(j["scores"], m["scores"], strict=True):
        assert a["score"] == pytest.approx(b["score"], abs=1e-6)


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(served) -> None:
    server, state, _, _ = served
    pics = [picture(40 + i, 40, seed=i) for i in range(12)]

    async def go():
        headers = {"Authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as c:
            return await asyncio.gather(
                *(
                    c.post(
                        "/v1/classify",
                        json={"model": SIGLIP, "image": b64(p), "labels": ["x", f"label {i}"]},
                    )
                    for i, p in enumerate(pics)
                )
            )

    before = state.models[SIGLIP].batcher.stats.batches
    replies = asyncio.run(go())
    batches = state.models[SIGLIP].batcher.stats.batches - before
    assert all(r.status_code == 200 for r in replies)
    assert batches < len(pics)  # some requests shared a forward pass
    enc = state.models[SIGLIP].model
    from globelens.data.images import decode_image

    for i, (p, r) in enumerate(zip(pics, replies, strict=True)):  # batching changed no answer
        logits = enc.logits(
            enc.encode_images(enc.preprocess([decode_image(p)])),
            enc.encode_texts(["x", f"label {i}"]),
        )
        want = dict(zip(["x", f"label {i}"], torch.sigmoid(logits[0]).tolist(), strict=True))
        for s in r.json()["scores"]:
            assert s["score"] == pytest.approx(want[s["label"]], abs=1e-5)


HOSTILE = [
    # (name, request kwargs, status, error code)
    ("corrupt jpeg", {"image": b64(corrupt_jpeg())}, 400, "corrupt_image"),
    ("truncated png", {"image": b64(truncated_png())}, 400, "corrupt_image"),
    ("1x1 image", {"image": b64(picture(1, 1))}, 400, "image_too_small"),
    (
        "50k x 50k header",
        {"image": b64(png_with_header_size(50_000, 50_000))},
        413,
        "too_many_pixels",
    ),
    ("bad base64", {"image": "not base64 at all!!"}, 400, "bad_base64"),
    ("non-image bytes", {"image": b64(b"just some text, not a picture" * 4)}, 400, "corrupt_image"),
    ("10,000 labels", {"labels": [f"l{i}" for i in range(10_000)]}, 422, "too_many_items"),
    ("no labels", {"labels": []}, 422, "too_few_items"),
    ("an empty label", {"labels": ["a", "  "]}, 422, "empty_text"),
    ("100k-character label", {"labels": ["x" * 100_000]}, 422, "text_too_long"),
    ("labels not a list", {"labels": 5}, 422, "invalid_request"),
    ("image not a string", {"image": 123}, 422, "invalid_request"),
    ("unknown field", {"lables": ["a"]}, 422, "invalid_request"),
    ("unknown model", {"model": "nope"}, 404, "model_not_found"),
    ("bad template", {"template": "{0.__class__}"}, 422, "bad_template"),
]


@pytest.mark.parametrize(
    ("name", "override", "status", "code"), HOSTILE, ids=[h[0] for h in HOSTILE]
)
def test_hostile_classify_input(served, name: str, override: dict, status: int, code: str) -> None:
    _, _, client, _ = served
    body = {"model": SIGLIP, "image": b64(picture()), "labels": ["a", "b"], **override}
    r = client.post("/v1/classify", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"] and err["type"]


def test_hostile_requests_beyond_classify(served) -> None:
    server, state, client, _ = served
    big = b"x" * (20 << 20)  # 20 MB against a 4 MB limit
    r = client.post("/v1/classify", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"

    def chunks():  # no Content-Length: counted while it streams
        for _ in range(20):
            yield b"y" * (1 << 20)

    r = client.post(
        "/v1/embeddings", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    json_type = {"content-type": "application/json"}
    assert client.post("/v1/classify", content=b"{not json", headers=json_type).status_code == 400
    # a JSON route refuses other content types (a web page can send text/plain unasked)
    r = client.post("/v1/classify", content=b"{}", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
    assert client.post("/v1/classify", json=[1, 2]).status_code == 422
    r = client.post("/v1/embeddings", json={"model": SIGLIP, "input": "x" * 100_000})
    assert r.status_code == 422 and r.json()["error"]["param"] == "input[0]"
    r = client.post("/v1/embeddings", json={"model": SIGLIP, "input": [1, 2, 3]})
    assert r.status_code == 422
    r = client.post("/v1/embeddings", json={"model": SIGLIP, "input": ["data:image/png;base64,@@"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_base64"
    r = client.post("/v1/embeddings", json={"model": SIGLIP, "input": "hi", "encoding_format": 3})
    assert r.status_code == 422
    r = client.post(f"/models/{SIGLIP}", json={"inputs": b64(picture()), "parameters": {}})
    assert r.status_code == 422
    r = client.post("/v1/chat/completions", json={"model": SIGLIP, "messages": "hi"})
    assert r.status_code == 422
    r = client.post(
        "/v1/chat/completions",
        json={"model": SIGLIP, "messages": [{"role": "user", "content": "caption en"}]},
    )
    assert r.status_code == 422  # no image part
    r = client.post(
        "/v1/chat/completions",
        json={
            "model": SIGLIP,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": data_uri(picture())}},
                        {"type": "text", "text": "caption en"},
                    ],
                }
            ],
        },
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "wrong_model_kind"
    r = client.post(
        "/v1/classify", files={"image": ("x.png", corrupt_jpeg())}, data={"labels": "a"}
    )
    assert r.status_code == 422  # two dual encoders: the model must be named
    assert client.get("/nowhere").json()["error"]["code"] == "not_found"
    # auth: no key, a wrong key, a wrong scheme
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}):
        r = httpx.post(server.url + "/v1/classify", json={}, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert httpx.get(server.url + "/ready", headers=headers).status_code == 401
    # after all of it the server is ready and answers a good request
    assert client.get("/ready").status_code == 200
    _good(client)
    assert all(m.batcher.alive() for m in state.models.values())
    metrics = client.get("/metrics").text
    assert 'globelens_refused_total{code="body_too_large"}' in metrics


def test_concurrency_limit_429_and_timeout_504(tiny_model_dir: Path) -> None:
    # a batch waits up to 1 s to fill; requests may take 0.4 s; one at a time
    config = ServeConfig(
        limits=Limits(max_concurrency=1, request_timeout_s=0.4),
        batching=BatchConfig(max_batch=64, max_delay_s=1.0),
    )
    with running([str(tiny_model_dir)], config) as (server, _state):
        body = {"image": b64(picture()), "labels": ["a", "b"]}
        first: dict = {}

        def slow() -> None:
            first["r"] = httpx.post(server.url + "/v1/classify", json=body, timeout=10)

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.15)
        busy = httpx.post(server.url + "/v1/classify", json=body, timeout=10)
        t.join()
        assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
        assert first["r"].status_code == 504 and first["r"].json()["error"]["code"] == "timeout"
        time.sleep(1.0)  # the abandoned item is dropped, the worker carries on
        assert httpx.get(server.url + "/ready").status_code == 200


def test_ready_is_503_until_loaded_and_when_the_worker_dies(tiny_model_dir: Path) -> None:
    with running([str(tiny_model_dir)], wait=False) as (server, state):
        early = httpx.get(server.url + "/ready")
        assert early.status_code in (200, 503)  # 503 unless loading beat us to it
        assert state.wait_loaded(60)
        assert httpx.get(server.url + "/ready").status_code == 200
        next(iter(state.models.values())).batcher.stop()
        r = httpx.get(server.url + "/ready")
        assert r.status_code == 503 and r.json()["status"] == "worker_down"
        r = httpx.post(server.url + "/v1/classify", json={"image": b64(picture()), "labels": ["a"]})
        assert r.status_code == 503


def test_embeddings_base64_is_little_endian_float32(served) -> None:
    _, _, client, _ = served
    r = client.post(
        "/v1/embeddings", json={"model": CLIP, "input": "a dog", "encoding_format": "base64"}
    ).json()
    vec = np.frombuffer(base64.b64decode(r["data"][0]["embedding"]), dtype="<f4")
    assert vec.shape[0] > 0 and abs(float(np.linalg.norm(vec)) - 1.0) < 1e-4
