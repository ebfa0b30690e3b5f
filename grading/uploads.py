"""Checking and storing uploaded answer sheets.

The type is decided from the content (magic bytes), never the name. Checks are cheap enough for the request path:
headers, pixel counts, a reduced-size decode that catches truncated or corrupt images and blank pages, and a PDF
structure check. Files are stored under generated names in Django's default storage, shared by web and workers.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass

import pypdfium2 as pdfium
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageStat, UnidentifiedImageError

from grading.pages import flatten
from grading.storage import delete_folder, job_folder
from quizmarker.api import ApiError

logger = logging.getLogger(__name__)

# Below Pillow's decompression-bomb limit (about 89 megapixels): anything larger is refused before decoding.
MAX_IMAGE_PIXELS = 40_000_000
MIN_IMAGE_SIDE = 200
MAX_PDF_PAGES = 50
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS * 2

SIGNATURES: list[tuple[bytes, int, str, str]] = [
    # (magic, offset, content type, extension)
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"GIF87a", 0, "image/gif", "gif"),
    (b"GIF89a", 0, "image/gif", "gif"),
    (b"%PDF-", 0, "application/pdf", "pdf"),
]
_LOOKS_LIKE = [
    (b"<svg", "an SVG drawing"),
    (b"<?xml", "an XML document"),
    (b"<!doctype html", "a web page (HTML)"),
    (b"<html", "a web page (HTML)"),
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a program"),
    (b"PK\x03\x04", "a ZIP archive or Office document"),
    (b"#!", "a script"),
]


@dataclass
class CheckedFile:
    original_name: str
    content_type: str
    extension: str
    data: bytes
    pages: int
    sha256: str


def _unsupported(name: str, why: str) -> ApiError:
    return ApiError(
        f"“{name}” {why}. Upload photos or scans as PNG, JPEG, GIF or WebP images, or PDF files.",
        code="UNSUPPORTED_FILE",
        status_code=415,
        details={"file": name},
    )


def _too_many_pixels(name: str) -> ApiError:
    return ApiError(
        f"“{name}” is far larger than {MAX_IMAGE_PIXELS // 1_000_000} megapixels, the most an image may have. "
        "Resize it or take the photo at a lower resolution.",
        code="FILE_TOO_LARGE",
        status_code=413,
        details={"file": name},
    )


def sniff(data: bytes) -> tuple[str, str] | None:
    for magic, offset, content_type, extension in SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return content_type, extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def _describe(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    for marker, description in _LOOKS_LIKE:
        if head.startswith(marker.lower()) or (marker.startswith(b"<") and marker.lower() in head[:200]):
            return f"looks like {description}, not a photo or PDF"
    return "is not a file type we can read"


def safe_name(name: str) -> str:
    """The file's name for messages and records: no folders, no control characters, at most 200 characters."""
    name = (name or "file").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "file"
    return name[:200]


def _check_image(name: str, data: bytes) -> int:
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
    except Image.DecompressionBombError as exc:  # Pillow refuses the header's size before we see it
        raise _too_many_pixels(name) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise _unsupported(name, "is damaged and cannot be opened as an image") from exc
    if width * height > MAX_IMAGE_PIXELS:
        raise ApiError(
            f"“{name}” is {width}×{height} pixels; images may have at most {MAX_IMAGE_PIXELS // 1_000_000} megapixels. "
            "Resize it or take the photo at a lower resolution.",
            code="FILE_TOO_LARGE",
            status_code=413,
            details={"file": name, "width": width, "height": height},
        )
    if min(width, height) < MIN_IMAGE_SIDE:
        raise ApiError(
            f"“{name}” is only {width}×{height} pixels, too small to hold a readable quiz page "
            f"(at least {MIN_IMAGE_SIDE} pixels on each side).",
            code="VALIDATION_ERROR",
            status_code=400,
            details={"file": name, "width": width, "height": height},
        )
    try:
        image.draft("RGB", (max(1, width // 8), max(1, height // 8)))  # JPEG: decode at 1/8 scale, fast
        image.load()  # decoding all of it is what finds a truncated or corrupt file
        thumbnail = _small_grey(image)
    except (OSError, ValueError, SyntaxError) as exc:
        raise _unsupported(name, "is damaged or incomplete (the image data is cut short)") from exc
    if _is_blank(thumbnail):
        raise ApiError(
            f"“{name}” looks blank: there is no writing on it to mark.",
            code="VALIDATION_ERROR",
            status_code=400,
            details={"file": name},
        )
    return 1


def _small_grey(image: Image.Image) -> Image.Image:
    """A grey copy about 256 px across, for the blank-page check; shrunk before converting, which costs a few ms
    rather than converting every pixel of a full page (rotation does not matter here)."""
    image = flatten(image)
    factor = max(1, min(image.size) // 256)
    if image.mode in ("1", "P"):  # palette images only resize by nearest neighbour; sample, then convert
        small = image.resize((max(1, image.width // factor), max(1, image.height // factor)), Image.Resampling.NEAREST)
        return small.convert("L")
    return image.reduce(factor).convert("L")


def _is_blank(image: Image.Image) -> bool:
    stat = ImageStat.Stat(image)
    return stat.stddev[0] < 2.0


def _check_pdf(name: str, data: bytes) -> int:
    if b"/JavaScript" in data or b"/JS " in data or b"/JS(" in data or b"/Launch" in data:
        raise _unsupported(name, "contains scripts or actions, which we do not accept in PDFs")
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ApiError(
                f"“{name}” is protected by a password; upload a copy without one.",
                code="UNSUPPORTED_FILE",
                status_code=415,
                details={"file": name},
            ) from exc
        raise _unsupported(name, "is damaged and cannot be opened as a PDF") from exc
    try:
        pages = len(pdf)
        if pages == 0:
            raise _unsupported(name, "has no pages")
        if pages > MAX_PDF_PAGES:
            raise ApiError(
                f"“{name}” has {pages} pages; a PDF may have at most {MAX_PDF_PAGES}. Split it into smaller files.",
                code="FILE_TOO_LARGE",
                status_code=413,
                details={"file": name, "pages": pages},
            )
        try:
            blank = all(_pdf_page_blank(pdf[i]) for i in range(pages))
        except pdfium.PdfiumError as exc:  # e.g. a page tree that refers back to itself
            raise _unsupported(name, "is damaged: its pages cannot be read") from exc
        if blank:
            raise ApiError(
                f"“{name}” has only blank pages: there is nothing on it to mark.",
                code="VALIDATION_ERROR",
                status_code=400,
                details={"file": name},
            )
        return pages
    finally:
        pdf.close()


def _pdf_page_blank(page) -> bool:
    text = page.get_textpage().get_text_range().strip()
    if text:
        return False
    bitmap = page.render(scale=20 / 72).to_pil().convert("L")
    return _is_blank(bitmap)


def check_files(files: list) -> list[CheckedFile]:
    """Check every uploaded file; the first problem is answered with the contract's 4xx and a sentence."""
    if not files:
        raise ApiError(
            "Attach one or more answer sheets in the “files” field.",
            code="VALIDATION_ERROR",
            status_code=400,
            details={"files": ["No file was uploaded."]},
        )
    if len(files) > settings.UPLOAD_MAX_FILES:
        raise ApiError(
            f"You sent {len(files)} files; upload at most {settings.UPLOAD_MAX_FILES} at a time.",
            code="VALIDATION_ERROR",
            status_code=400,
            details={"files": [f"At most {settings.UPLOAD_MAX_FILES}."]},
        )
    checked = []
    for upload in files:
        name = safe_name(upload.name)
        if upload.size > settings.UPLOAD_MAX_FILE_BYTES:
            limit_mb = settings.UPLOAD_MAX_FILE_BYTES // (1024 * 1024)
            raise ApiError(
                f"“{name}” is {upload.size / 1048576:.1f} MB; each file may be at most {limit_mb} MB.",
                code="FILE_TOO_LARGE",
                status_code=413,
                details={"file": name, "size": upload.size},
            )
        data = upload.read()
        if not data:
            raise ApiError(f"“{name}” is empty.", code="VALIDATION_ERROR", status_code=400, details={"file": name})
        kind = sniff(data)
        if kind is None:
            raise _unsupported(name, _describe(data))
        content_type, extension = kind
        pages = _check_pdf(name, data) if content_type == "application/pdf" else _check_image(name, data)
        checked.append(CheckedFile(name, content_type, extension, data, pages, hashlib.sha256(data).hexdigest()))
    return checked


def store_files(schema_name: str, job_id, files: list[CheckedFile]) -> list[dict]:
    """Write the files under generated names; on any failure remove what was written, so nothing half-stored
    remains. Returns the job's file references (no original names: they may name a student)."""
    folder = job_folder(schema_name, job_id)
    stored = []
    try:
        for index, item in enumerate(files, start=1):
            path = default_storage.save(f"{folder}/{index}.{item.extension}", ContentFile(item.data))
            stored.append(
                {
                    "path": path,
                    "content_type": item.content_type,
                    "pages": item.pages,
                    "size": len(item.data),
                    "sha256": item.sha256,
                }
            )
    except Exception:
        delete_folder(folder)
        raise
    return stored
