"""Turning stored uploads into pages: images as they are (EXIF rotation applied), PDFs page by page — read from the
text layer when there is one (typed sheets need no AI), rendered to an image when scanned."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import pdfplumber
import pypdfium2 as pdfium
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageOps

from jobs.errors import PermanentJobError

logger = logging.getLogger(__name__)

RENDER_DPI = 150
MIN_TEXT_WORDS = 15  # a PDF page with fewer words in its text layer is treated as a scan


def flatten(image: Image.Image) -> Image.Image:
    """The image as a person sees it, in 8 bits: transparency over white paper (a transparent PNG would otherwise turn
    black), 16-bit greys scaled down (converting them directly clips every value above 255 to white), CMYK and the
    rest in RGB. RGB, L and opaque palette images come back unchanged."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode == "F":
        return image.convert("L")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGB", rgba.size, "white")
        paper.paste(rgba, mask=rgba.getchannel("A"))
        return paper
    if image.mode not in ("RGB", "L", "P", "1"):
        return image.convert("RGB")
    return image


@dataclass
class PageSource:
    number: int  # 1-based across the whole upload
    file_index: int  # which uploaded file it came from
    path: str  # image in storage (the original image, or the rendered PDF page)
    text: str | None = None  # text layer of a typed PDF page

    def read(self) -> bytes:
        with default_storage.open(self.path, "rb") as handle:
            return handle.read()

    def image(self, size_needed=None, data: bytes | None = None) -> Image.Image:
        """The page upright, in RGB. ``size_needed(width, height)`` gives the smallest size the caller will use; a
        JPEG is then decoded at 1/2, 1/4 or 1/8 scale when that is still big enough (a phone photo of 12 megapixels
        decodes several times faster). ``data``: the file's bytes, if the caller has read them already."""
        image = Image.open(io.BytesIO(self.read() if data is None else data))
        if size_needed is not None:
            image.draft("RGB", size_needed(*image.size))
        ImageOps.exif_transpose(image, in_place=True)
        image = flatten(image)
        return image if image.mode == "RGB" else image.convert("RGB")


def _pdf_text_pages(data: bytes) -> list[str | None]:
    """Each page's text layer, or None where the page has no usable text (a scan)."""
    texts: list[str | None] = []
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for page in pdf.pages:
                text = page.extract_text() or ""
                texts.append(text if len(text.split()) >= MIN_TEXT_WORDS else None)
    except RecursionError:
        logger.warning("PDF text layer has circular references; rendering pages instead")
        return []
    except Exception as exc:  # pdfminer raises many types on odd files; fall back to rendering
        logger.warning("PDF text layer unreadable (%s); rendering pages instead", type(exc).__name__)
        return []
    return texts


def build_pages(files: list[dict], folder: str) -> list[PageSource]:
    pages: list[PageSource] = []
    for file_index, item in enumerate(files):
        if item["content_type"] != "application/pdf":
            pages.append(PageSource(number=len(pages) + 1, file_index=file_index, path=item["path"]))
            continue
        with default_storage.open(item["path"], "rb") as handle:
            data = handle.read()
        texts = _pdf_text_pages(data)
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise PermanentJobError(
                "One of the PDFs could not be opened any more; upload it again.", code="UNSUPPORTED_FILE"
            ) from exc
        try:
            for index in range(len(pdf)):
                number = len(pages) + 1
                bitmap = pdf[index].render(scale=RENDER_DPI / 72).to_pil().convert("RGB")
                buffer = io.BytesIO()
                bitmap.save(buffer, format="JPEG", quality=88)
                path = default_storage.save(f"{folder}/pages/{number}.jpg", ContentFile(buffer.getvalue()))
                text = texts[index] if index < len(texts) else None
                pages.append(PageSource(number=number, file_index=file_index, path=path, text=text))
        finally:
            pdf.close()
    return pages
