"""What the OpenAI provider sends for a page: the stored file as it is when the provider can take it unchanged,
else an upright JPEG fitted into the model's image budget (never more pixels than the model uses)."""

from __future__ import annotations

import base64
import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageDraw

from grading.pages import PageSource
from grading.providers.openai_provider import VISION_MAX_PIXELS, VISION_MAX_SIDE, page_data_url
from tests.helpers import sheet


def stored(data: bytes, name: str) -> PageSource:
    path = default_storage.save(f"test-images/{name}", ContentFile(data))
    return PageSource(number=1, file_index=0, path=path)


def decoded(url: str) -> tuple[str, bytes, Image.Image]:
    header, _, payload = url.partition(",")
    data = base64.b64decode(payload)
    return header, data, Image.open(io.BytesIO(data))


def photo(width: int, height: int, orientation: int | None = None) -> bytes:
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width // 4, height // 10), fill="black")  # a mark in the top-left corner
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, exif=exif)
    return buffer.getvalue()


def test_a_scan_the_provider_can_take_goes_unchanged():
    original = sheet("s05_std05_dkg_p1.png").read()  # 1240×1754 PNG, 65 KB
    header, data, _ = decoded(page_data_url(stored(original, "scan.png")))
    assert header == "data:image/png;base64"
    assert data == original


@pytest.mark.parametrize("size", [(4000, 3000), (3000, 4000), (2600, 1200)])
def test_a_large_photo_is_fitted_into_the_models_budget(size):
    header, _, image = decoded(page_data_url(stored(photo(*size), "photo.jpg")))
    assert header == "data:image/jpeg;base64"
    width, height = image.size
    assert max(width, height) <= VISION_MAX_SIDE and width * height <= VISION_MAX_PIXELS
    assert width * height > 0.9 * min(VISION_MAX_PIXELS, size[0] * size[1]), "no smaller than the model uses"
    assert abs(width / height - size[0] / size[1]) < 0.01


def test_a_rotated_photo_is_sent_upright():
    # Stored 400×300 with EXIF orientation 6 (rotate 90° clockwise to view): the model must get it portrait.
    header, _, image = decoded(page_data_url(stored(photo(400, 300, orientation=6), "rotated.jpg")))
    assert header == "data:image/jpeg;base64"
    assert image.size == (300, 400)
    assert image.convert("L").getpixel((image.width - 5, 5)) < 60, "the corner mark turned with the page"


def test_other_formats_are_converted_to_jpeg():
    buffer = io.BytesIO()
    Image.new("P", (600, 800), 1).save(buffer, format="GIF")
    header, _, image = decoded(page_data_url(stored(buffer.getvalue(), "page.gif")))
    assert header == "data:image/jpeg;base64" and image.size == (600, 800)
