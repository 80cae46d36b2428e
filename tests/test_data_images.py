"""Safe decoding: bombs, EXIF orientation, every mode to RGB, fast JPEG draft."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from globelens.data import ImageDecodeError, decode_image, encode_image, image_size
from shard_factory import corrupt_jpeg, jpeg, png


def test_decompression_bomb_png_is_refused_before_decoding():
    # 20000 x 20000 one-bit PNG: a few dozen KB on disk, 400 megapixels decoded.
    buf = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buf, format="PNG")
    data = buf.getvalue()
    assert len(data) < 100_000
    with pytest.raises(ImageDecodeError) as err:
        decode_image(data)
    assert err.value.reason == "too_many_pixels"
    with pytest.raises(ImageDecodeError) as err:
        image_size(data)
    assert err.value.reason == "too_many_pixels"


def test_own_pixel_limit_below_pils():
    data = png(Image.new("L", (300, 200)))
    with pytest.raises(ImageDecodeError) as err:
        decode_image(data, max_pixels=300 * 200 - 1)
    assert err.value.reason == "too_many_pixels"
    assert "300x200" in err.value.detail
    assert decode_image(data, max_pixels=300 * 200).size == (300, 200)


def test_exif_orientation_is_applied():
    im = Image.new("RGB", (60, 20), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 10, 20))  # red strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buf = io.BytesIO()
    im.save(buf, format="JPEG", exif=exif, quality=95)
    out = decode_image(buf.getvalue())
    assert out.size == (20, 60)
    r, _, b = out.getpixel((10, 5))  # the left strip is now on top
    assert r > 200 and b < 60
    assert image_size(buf.getvalue()) == (60, 20)  # the header keeps the stored size


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("L", 100, (100, 100, 100)),
        ("RGBA", (10, 20, 30, 255), (10, 20, 30)),
        ("RGBA", (10, 20, 30, 0), (255, 255, 255)),  # transparent goes on white
        ("LA", (50, 255), (50, 50, 50)),
        ("I;16", 65535, (255, 255, 255)),
    ],
)
def test_modes_become_rgb(mode, value, expected):
    out = decode_image(png(Image.new(mode, (8, 8), value)))
    assert out.mode == "RGB"
    assert out.getpixel((3, 3)) == expected


def test_palette_with_transparency_and_cmyk_become_rgb():
    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    pal.info["transparency"] = 0
    out = decode_image(png(pal))
    assert out.mode == "RGB" and out.getpixel((0, 0)) == (200, 10, 10)

    buf = io.BytesIO()
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(buf, format="JPEG", quality=95)
    out = decode_image(buf.getvalue())
    assert out.mode == "RGB"
    r, g, b = out.getpixel((8, 8))
    assert r > 200 and g < 60 and b < 60


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", corrupt_jpeg(), jpeg()[:300], png(Image.new("RGB", (64, 64)))[:-40]],
    ids=["empty", "text", "half_jpeg", "header_only", "cut_png"],
)
def test_corrupt_data_raises_decode_error(data):
    with pytest.raises(ImageDecodeError) as err:
        decode_image(data)
    assert err.value.reason == "corrupt_image"
    assert err.value.detail


@pytest.mark.parametrize("target", [64, 100, 224, 500])
def test_jpeg_draft_keeps_shorter_side_at_least_target(target):
    data = jpeg(1600, 1000)
    out = decode_image(data, target_size=target)
    assert min(out.size) >= target
    assert out.mode == "RGB"
    assert min(out.size) < 1000 or target > 500  # it did scale down


def test_jpeg_draft_is_faster():
    data = jpeg(2400, 1600)

    def best(fn, n=5):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    full = best(lambda: decode_image(data))
    draft = best(lambda: decode_image(data, target_size=224))
    assert draft * 2 < full, (draft, full)


def test_encode_is_deterministic_and_roundtrips():
    im = Image.linear_gradient("L").convert("RGB")
    for fmt in ("jpg", "png", "webp"):
        a, b = encode_image(im, fmt), encode_image(im, fmt)
        assert a == b
        assert decode_image(a).size == im.size
    with pytest.raises(ValueError, match="unknown image format"):
        encode_image(im, "gif")
