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


def test_a_photo_with_camera_data_is_re_encoded_without_it():
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make; GPS and the like travel the same way
    buffer = io.BytesIO()
    Image.new("RGB", (600, 800), "white").save(buffer, format="JPEG", exif=exif)
    header, data, image = decoded(page_data_url(stored(buffer.getvalue(), "camera.jpg")))
    assert header == "data:image/jpeg;base64" and data != buffer.getvalue()
    assert not image.getexif(), "no camera or location data goes to the provider"


def ink_on_transparent() -> Image.Image:
    image = Image.new("RGBA", (600, 800), (0, 0, 0, 0))  # transparent black "paper"
    ImageDraw.Draw(image).rectangle((100, 100, 300, 140), fill=(0, 0, 0, 255))
    return image


def test_a_transparent_png_is_sent_on_white_paper():
    buffer = io.BytesIO()
    ink_on_transparent().save(buffer, format="PNG")
    header, _, image = decoded(page_data_url(stored(buffer.getvalue(), "transparent.png")))
    assert header == "data:image/jpeg;base64"
    grey = image.convert("L")
    assert grey.getpixel((10, 10)) > 240 and grey.getpixel((200, 120)) < 40


def sixteen_bit_scan() -> bytes:
    image = Image.new("I;16", (600, 800), 60000)  # light grey paper in 16 bits
    ImageDraw.Draw(image).rectangle((100, 100, 300, 140), fill=2000)  # dark ink
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_16_bit_scan_keeps_its_ink():
    _, _, image = decoded(page_data_url(stored(sixteen_bit_scan(), "scan16.png")))
    grey = image.convert("L")
    assert 220 < grey.getpixel((10, 10)) < 245 and grey.getpixel((200, 120)) < 20


@pytest.mark.parametrize("name", ["scan16.png", "transparent.png"])
def test_the_upload_check_sees_writing_on_16_bit_and_transparent_images(name):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from grading.uploads import check_files

    if name == "scan16.png":
        data = sixteen_bit_scan()
    else:
        buffer = io.BytesIO()
        ink_on_transparent().save(buffer, format="PNG")
        data = buffer.getvalue()
    [checked] = check_files([SimpleUploadedFile(name, data)])  # not refused as blank
    assert checked.pages == 1
