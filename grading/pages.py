"""Turning stored uploads into pages: images as they are (stored without metadata by the upload check; EXIF rotation
applied when decoded), PDFs page by page — read from the text layer when there is one (typed sheets need no AI),
rendered to an image when scanned. PDFs are opened only in the file sandbox (grading/sandbox.py), one page per task:
a page that goes past its limits becomes a page nobody could read, with the reason, and the others are read."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageOps

from grading.file_tasks import FileProblem
from grading.imaging import flatten
from grading.sandbox import SandboxFailure, SandboxLimit, sandbox

logger = logging.getLogger(__name__)

RENDER_DPI = 150
MIN_TEXT_WORDS = 15  # a PDF page with fewer words in its text layer is treated as a scan
_REFUSED = (FileProblem, SandboxLimit, SandboxFailure)


@dataclass
class PageSource:
    number: int  # 1-based across the whole upload
    file_index: int  # which uploaded file it came from
    path: str  # image in storage (the original image, or the rendered PDF page)
    text: str | None = None  # text layer of a typed PDF page
    error: str | None = None  # why the page could not be opened (then there is no image: ``path`` is "")

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


def _local(path: str) -> str | bytes:
    """What the sandbox opens: the stored file's path when the storage is on this machine, else its bytes."""
    try:
        return default_storage.path(path)
    except NotImplementedError:
        with default_storage.open(path, "rb") as handle:
            return handle.read()


def _unreadable(problem: Exception, what: str) -> str:
    from grading.uploads import file_problem

    if isinstance(problem, SandboxFailure):
        logger.warning("Opening a PDF failed in the sandbox: %s", problem)
    sentence = file_problem(problem, what).message
    return f"{sentence} Nobody could read it automatically; transcribe it by hand."


def build_pages(files: list[dict], folder: str) -> list[PageSource]:
    pages: list[PageSource] = []
    for file_index, item in enumerate(files):
        if item["content_type"] != "application/pdf":
            pages.append(PageSource(number=len(pages) + 1, file_index=file_index, path=item["path"]))
            continue
        source = _local(item["path"])
        try:
            count = sandbox().run("pdf_page_count", source)
        except _REFUSED as problem:
            error = _unreadable(problem, "This PDF")
            pages.append(PageSource(number=len(pages) + 1, file_index=file_index, path="", error=error))
            continue
        for index in range(count):
            number = len(pages) + 1
            try:
                image, text = sandbox().run("render_pdf_page", source, index, RENDER_DPI, MIN_TEXT_WORDS)
            except _REFUSED as problem:
                error = _unreadable(problem, f"Page {index + 1} of this PDF")
                pages.append(PageSource(number=number, file_index=file_index, path="", error=error))
                continue
            path = default_storage.save(f"{folder}/pages/{number}.jpg", ContentFile(image))
            pages.append(PageSource(number=number, file_index=file_index, path=path, text=text))
    return pages
