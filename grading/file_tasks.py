"""What the file sandbox's child processes do with an uploaded file: check it, remove its metadata, count and render
a PDF's pages. Nothing here imports Django; everything runs under the memory and CPU-time limits of
:mod:`grading.sandbox`. A file that breaks a rule raises :class:`FileProblem`, whose sentence names what was wrong.

A ``source`` is the file's path on this machine or its bytes.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import zlib
from dataclasses import dataclass, field
from struct import error as struct_error

import pypdfium2 as pdfium
from PIL import Image, ImageStat, UnidentifiedImageError

from grading.imaging import flatten, without_metadata

# Below Pillow's decompression-bomb limit (about 89 megapixels): anything larger is refused before decoding.
MAX_IMAGE_PIXELS = 40_000_000
MIN_IMAGE_SIDE = 200
MAX_PDF_PAGES = 50
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS * 2
# A rendered PDF page has at most this many pixels, whatever size the page says it is (A3 at 200 dpi fits).
MAX_RENDER_PIXELS = 8_000_000
MAX_RENDER_SIDE = 16_000
# What a PDF may inflate to: one stream at most the bytes of the largest image we accept (40 MP in RGB), all streams
# together a few of those. A 1 MB file may otherwise expand to gigabytes (a "deflate bomb").
MAX_PDF_STREAM_BYTES = 3 * MAX_IMAGE_PIXELS
MAX_PDF_INFLATED_BYTES = 4 * MAX_PDF_STREAM_BYTES
BLANK_CHECK_DPI = 20


@dataclass
class FileProblem(Exception):
    """A file we will not read, and why: ``sentence`` starts with ``{name}`` (the file's name in quotes on the upload
    path, "This PDF" in the worker)."""

    code: str
    status: int
    sentence: str
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        super().__init__(self.code, self.status, self.sentence, self.details)

    def __reduce__(self):  # picklable across the pipe to the parent
        return (FileProblem, (self.code, self.status, self.sentence, self.details))

    def message(self, name: str) -> str:
        text = self.sentence.format(name=name)
        return text[0].upper() + text[1:]


def _damaged(why: str) -> FileProblem:
    return FileProblem(
        "UNSUPPORTED_FILE",
        415,
        "{name} " + why + ". Upload photos or scans as PNG, JPEG, GIF or WebP images, or PDF files.",
    )


def _read(source: str | bytes) -> bytes:
    if isinstance(source, bytes):
        return source
    with open(source, "rb") as handle:
        return handle.read()


# --- Images ---------------------------------------------------------------------------------------


def _small_grey(image: Image.Image) -> Image.Image:
    """A grey copy about 256 px across, for the blank-page check; shrunk before converting, which costs a few ms
    rather than converting every pixel of a full page (rotation does not matter here)."""
    image = flatten(image)
    factor = max(1, min(image.size) // 256)
    if image.mode in ("1", "P"):  # palette images only resize by nearest neighbour; sample, then convert
        small = image.resize((max(1, image.width // factor), max(1, image.height // factor)), Image.Resampling.NEAREST)
        return small.convert("L")
    return image.reduce(factor).convert("L")


def is_blank(image: Image.Image) -> bool:
    return ImageStat.Stat(image).stddev[0] < 2.0


def check_image(source: str | bytes, out_path: str) -> dict:
    """Check an uploaded image (size, integrity, not blank) and write it to ``out_path`` without metadata, unless it
    has none (``unchanged``: store the upload as it is). Returns the stored file's format and size and the
    original's SHA-256."""
    data = _read(source)
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
    except Image.DecompressionBombError as exc:  # Pillow refuses the header's size before we see it
        raise FileProblem(
            "FILE_TOO_LARGE",
            413,
            "{name} is far larger than " + f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels, the most an image may have. "
            "Resize it or take the photo at a lower resolution.",
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise _damaged("is damaged and cannot be opened as an image") from exc
    if width * height > MAX_IMAGE_PIXELS:
        raise FileProblem(
            "FILE_TOO_LARGE",
            413,
            "{name} is " + f"{width}×{height} pixels; images may have at most {MAX_IMAGE_PIXELS // 1_000_000} "
            "megapixels. Resize it or take the photo at a lower resolution.",
            {"width": width, "height": height},
        )
    if min(width, height) < MIN_IMAGE_SIDE:
        raise FileProblem(
            "VALIDATION_ERROR",
            400,
            "{name} is only " + f"{width}×{height} pixels, too small to hold a readable quiz page "
            f"(at least {MIN_IMAGE_SIDE} pixels on each side).",
            {"width": width, "height": height},
        )
    try:
        image.draft("RGB", (max(1, width // 8), max(1, height // 8)))  # JPEG: decode at 1/8 scale, fast
        image.load()  # decoding all of it is what finds a truncated or corrupt file
        thumbnail = _small_grey(image)
    except (OSError, ValueError, SyntaxError) as exc:
        raise _damaged("is damaged or incomplete (the image data is cut short)") from exc
    if is_blank(thumbnail):
        raise FileProblem("VALIDATION_ERROR", 400, "{name} looks blank: there is no writing on it to mark.")
    try:
        clean, fmt = without_metadata(data, image)
    except (OSError, ValueError, SyntaxError, struct_error) as exc:
        raise _damaged("is damaged (its structure cannot be read)") from exc
    unchanged = clean is data
    if not unchanged:
        with open(out_path, "wb") as handle:
            handle.write(clean)
    return {"format": fmt, "size": len(clean), "sha256": hashlib.sha256(data).hexdigest(), "unchanged": unchanged}


# --- PDFs -----------------------------------------------------------------------------------------

_SCRIPTS = (b"/JavaScript", b"/JS ", b"/JS(", b"/Launch")
_STREAM_START = re.compile(rb"(?<!end)stream\r?\n")
_CHUNK = 1 << 16


def _looks_like_zlib(head: bytes) -> bool:
    return len(head) > 1 and head[0] == 0x78 and int.from_bytes(head[:2], "big") % 31 == 0


def _inflated_size(data: bytes, start: int, limit: int) -> int:
    """How many bytes the zlib stream at ``start`` inflates to, counting (never keeping) the output and stopping just
    past ``limit``; a stream deflated twice is followed into its inner layer. 0 when it is not zlib data."""
    outer = zlib.decompressobj()
    inner = None
    produced = 0
    position = start
    pending = b""
    while not outer.eof and produced <= limit:
        if not pending:
            if position >= len(data):
                break
            pending = data[position : position + _CHUNK]
            position += _CHUNK
        try:
            out = outer.decompress(pending, _CHUNK)
        except zlib.error:
            break
        pending = outer.unconsumed_tail
        if inner is None and produced == 0 and _looks_like_zlib(out):
            inner = zlib.decompressobj()
        if inner is not None:
            try:
                while out and produced <= limit:
                    produced += len(inner.decompress(out, _CHUNK))
                    out = inner.unconsumed_tail
            except zlib.error:
                inner = None
                produced += len(out)
        else:
            produced += len(out)
    return produced


def check_inflated_size(data: bytes) -> None:
    """Refuse a PDF whose compressed streams expand past :data:`MAX_PDF_STREAM_BYTES` (one) or
    :data:`MAX_PDF_INFLATED_BYTES` (all), before any PDF library expands them in memory."""
    total = 0
    for match in _STREAM_START.finditer(data):
        size = _inflated_size(data, match.end(), MAX_PDF_STREAM_BYTES)
        total += size
        if size > MAX_PDF_STREAM_BYTES or total > MAX_PDF_INFLATED_BYTES:
            limit = MAX_PDF_STREAM_BYTES if size > MAX_PDF_STREAM_BYTES else MAX_PDF_INFLATED_BYTES
            raise FileProblem(
                "FILE_TOO_LARGE",
                413,
                "{name} expands to more than " + f"{limit // 1_000_000} MB of data when opened, far more than a quiz "
                "page needs (a file built this way can fill a server's memory). Save or scan it again as an ordinary "
                "PDF, or upload photos of the pages.",
                {"limit_bytes": limit},
            )


def render_scale(width_pt: float, height_pt: float, dpi: float) -> float:
    """The scale to render a page at ``dpi``, reduced so that the bitmap has at most :data:`MAX_RENDER_PIXELS` pixels
    and :data:`MAX_RENDER_SIDE` on its longer side, whatever size the page claims to be."""
    width_pt, height_pt = max(1.0, abs(width_pt)), max(1.0, abs(height_pt))
    scale = dpi / 72
    pixels = width_pt * height_pt * scale * scale
    if pixels > MAX_RENDER_PIXELS:
        scale *= math.sqrt(MAX_RENDER_PIXELS / pixels)
    scale = min(scale, MAX_RENDER_SIDE / max(width_pt, height_pt))
    # pdfium rounds a bitmap's sides up: take a pixel off the longer side until the rounded bitmap fits too
    longer = max(width_pt, height_pt)
    while math.ceil(width_pt * scale) * math.ceil(height_pt * scale) > MAX_RENDER_PIXELS:
        scale = (math.ceil(longer * scale) - 1.001) / longer
    return scale


def _render(page, dpi: float) -> Image.Image:
    return page.render(scale=render_scale(*page.get_size(), dpi)).to_pil()


def _open_pdf(source: str | bytes) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        # PDFium's error code is the last one it set in this process, and a sandbox child opens many files: a
        # "password" error left by an earlier file must not name this one, so the file itself must be encrypted.
        if "password" in str(exc).lower() and b"/Encrypt" in _read(source):
            raise FileProblem(
                "UNSUPPORTED_FILE", 415, "{name} is protected by a password; upload a copy without one."
            ) from exc
        raise _damaged("is damaged and cannot be opened as a PDF") from exc


def _page_count(pdf: pdfium.PdfDocument) -> int:
    pages = len(pdf)
    if pages == 0:
        raise _damaged("has no pages")
    if pages > MAX_PDF_PAGES:
        raise FileProblem(
            "FILE_TOO_LARGE",
            413,
            "{name} has " + f"{pages} pages; a PDF may have at most {MAX_PDF_PAGES}. Split it into smaller files.",
            {"pages": pages},
        )
    return pages


def check_pdf(source: str | bytes) -> dict:
    """Check an uploaded PDF: no scripts, nothing that inflates past the caps, opens, 1–50 pages, not all blank."""
    data = _read(source)
    if any(marker in data for marker in _SCRIPTS):
        raise _damaged("contains scripts or actions, which we do not accept in PDFs")
    check_inflated_size(data)
    pdf = _open_pdf(data)
    try:
        pages = _page_count(pdf)
        try:
            blank = all(_pdf_page_blank(pdf[i]) for i in range(pages))
        except pdfium.PdfiumError as exc:  # e.g. a page tree that refers back to itself
            raise _damaged("is damaged: its pages cannot be read") from exc
        if blank:
            raise FileProblem("VALIDATION_ERROR", 400, "{name} has only blank pages: there is nothing on it to mark.")
        return {"pages": pages, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    finally:
        pdf.close()


def _pdf_page_blank(page) -> bool:
    if page.get_textpage().get_text_range().strip():
        return False
    return is_blank(_render(page, BLANK_CHECK_DPI).convert("L"))


def pdf_page_count(source: str | bytes) -> int:
    """The worker's first look at a stored PDF: the same caps as the upload check, then the number of pages."""
    data = _read(source)
    check_inflated_size(data)
    pdf = _open_pdf(data)
    try:
        return _page_count(pdf)
    finally:
        pdf.close()


def render_pdf_page(source: str | bytes, index: int, dpi: float, min_words: int) -> tuple[bytes, str | None]:
    """One page as a JPEG (at ``dpi``, within the pixel cap) and its text layer, or None when it has fewer than
    ``min_words`` words (a scan, read from the image instead)."""
    pdf = _open_pdf(source)
    try:
        bitmap = _render(pdf[index], dpi).convert("RGB")
    finally:
        pdf.close()
    buffer = io.BytesIO()
    bitmap.save(buffer, format="JPEG", quality=88)
    return buffer.getvalue(), _page_text(source, index, min_words)


def _page_text(source: str | bytes, index: int, min_words: int) -> str | None:
    import pdfplumber  # only the worker's PDF pages need it: the upload check's children start without it

    try:
        with pdfplumber.open(io.BytesIO(source) if isinstance(source, bytes) else source) as pdf:
            text = pdf.pages[index].extract_text() or ""
    except RecursionError:  # circular references in the text layer: read the rendered page instead
        return None
    except Exception:  # pdfminer raises many types on odd files; fall back to the rendered page
        return None
    return text if len(text.split()) >= min_words else None


def pdf_text(source: str | bytes, max_chars: int) -> dict:
    """All of a PDF's text layer, page by page (an organization's reference material, a typed blank quiz), with the
    same caps as the upload check; at most ``max_chars`` characters."""
    import pdfplumber

    data = _read(source)
    check_inflated_size(data)
    pdf = _open_pdf(data)
    try:
        pages = _page_count(pdf)
    finally:
        pdf.close()
    texts = []
    try:
        with pdfplumber.open(io.BytesIO(data)) as document:
            for page in document.pages[:pages]:
                texts.append(page.extract_text() or "")
    except RecursionError:
        raise _damaged("is damaged: its text cannot be read") from None
    text = "\n".join(texts)
    return {"pages": pages, "text": text[:max_chars], "sha256": hashlib.sha256(data).hexdigest()}


TASKS = {
    "check_image": check_image,
    "check_pdf": check_pdf,
    "pdf_page_count": pdf_page_count,
    "render_pdf_page": render_pdf_page,
    "pdf_text": pdf_text,
}
