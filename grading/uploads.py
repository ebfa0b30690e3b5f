"""Checking and storing uploaded answer sheets.

The type is decided from the content (magic bytes), never the name. The file itself is opened only in the file
sandbox's child processes (grading/sandbox.py, grading/file_tasks.py), under memory and CPU-time limits: headers,
pixel counts, a reduced-size decode that catches truncated or corrupt images and blank pages, a PDF structure check
with a cap on what its streams inflate to. Images are stored without location, camera or editing metadata. Files are
stored under generated names in Django's default storage, shared by web and workers.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from grading.errors import Invalid, TooLarge, Unsupported
from grading.file_tasks import FileProblem
from grading.sandbox import SandboxFailure, SandboxLimit, sandbox
from grading.storage import delete_folder, job_folder
from grading.upload_limits import file_too_large

logger = logging.getLogger(__name__)

__all__ = ["CheckedFile", "check_files", "store_files", "sniff", "safe_name", "file_problem"]

SIGNATURES: list[tuple[bytes, int, str, str]] = [
    # (magic, offset, content type, extension)
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"GIF87a", 0, "image/gif", "gif"),
    (b"GIF89a", 0, "image/gif", "gif"),
    (b"%PDF-", 0, "application/pdf", "pdf"),
]
_FORMATS = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg")}
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
    pages: int
    sha256: str  # of the file as it was uploaded
    size: int  # of the file as it is stored (images lose their metadata)
    content: IO[bytes]  # the file to store, at its start

    @property
    def data(self) -> bytes:
        self.content.seek(0)
        try:
            return self.content.read()
        finally:
            self.content.seek(0)


def _unsupported(name: str, why: str) -> Unsupported:
    return Unsupported(
        f"“{name}” {why}. Upload photos or scans as PNG, JPEG, GIF or WebP images, or PDF files.",
        code="UNSUPPORTED_FILE",
        details={"file": name},
    )


_PROBLEM_KINDS = {"FILE_TOO_LARGE": TooLarge, "UNSUPPORTED_FILE": Unsupported}  # else Invalid (a blank page)


def file_problem(problem: FileProblem | SandboxLimit | SandboxFailure, name: str) -> Invalid:
    """The refusal for a file the sandbox would not read; ``name`` is how the sentence names the file ("“scan.pdf”"
    on the upload path, "This PDF" in the worker)."""
    if isinstance(problem, FileProblem):
        kind = _PROBLEM_KINDS.get(problem.code, Invalid)
        return kind(problem.message(name), code=problem.code, details=problem.details)
    if isinstance(problem, SandboxLimit) and problem.kind == "time":
        return TooLarge(
            f"{name} takes longer to open than we allow for one file ({problem.limit:g} seconds of work); it may be "
            "damaged or built to overload the server. Save or scan it again, or upload photos of the pages.",
            code="FILE_TOO_LARGE",
            details={"limit_seconds": problem.limit},
        )
    if isinstance(problem, SandboxLimit):
        return TooLarge(
            f"{name} needs more memory to open than we allow for one file ({problem.limit // (1024 * 1024)} MB); it "
            "may be damaged or built to expand far beyond its size. Save or scan it again, or upload photos of the "
            "pages.",
            code="FILE_TOO_LARGE",
            details={"limit_bytes": problem.limit},
        )
    return Unsupported(
        f"{name} is damaged and cannot be opened. Upload photos or scans as PNG, JPEG, GIF or WebP images, or PDF "
        "files.",
        code="UNSUPPORTED_FILE",
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


def _source(upload) -> str | bytes:
    """What the sandbox opens: the temporary file's path for a large upload, the bytes of a small one."""
    if hasattr(upload, "temporary_file_path"):
        return upload.temporary_file_path()
    upload.seek(0)
    return upload.read()


def _check_one(upload, name: str, content_type: str, extension: str) -> CheckedFile:
    source = _source(upload)
    try:
        if content_type == "application/pdf":
            result = sandbox().run("check_pdf", source)
            upload.seek(0)
            return CheckedFile(name, content_type, extension, result["pages"], result["sha256"], result["size"], upload)
        # Deleted when closed or collected, with the request's other files; store_files reads it first.
        clean = tempfile.NamedTemporaryFile(prefix="quizmarker-clean-", dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115
        result = sandbox().run("check_image", source, clean.name)
    except (FileProblem, SandboxLimit, SandboxFailure) as problem:
        if isinstance(problem, SandboxFailure):
            logger.warning("Checking “%s” failed in the sandbox: %s", name, problem)
        refusal = file_problem(problem, f"“{name}”")
        refusal.details = {"file": name, **refusal.details}
        raise refusal from None
    content_type, extension = _FORMATS[result["format"]]
    if result["unchanged"]:  # no metadata to remove: store the upload itself
        clean.close()
        upload.seek(0)
        return CheckedFile(name, content_type, extension, 1, result["sha256"], result["size"], upload)
    return CheckedFile(name, content_type, extension, 1, result["sha256"], result["size"], clean)


def check_files(files: list) -> list[CheckedFile]:
    """Check every uploaded file; the first problem is answered with the contract's 4xx and a sentence."""
    if not files:
        raise Invalid(
            "Attach one or more answer sheets in the “files” field.",
            code="VALIDATION_ERROR",
            details={"files": ["No file was uploaded."]},
        )
    if len(files) > settings.UPLOAD_MAX_FILES:
        raise Invalid(
            f"You sent {len(files)} files; upload at most {settings.UPLOAD_MAX_FILES} at a time.",
            code="VALIDATION_ERROR",
            details={"files": [f"At most {settings.UPLOAD_MAX_FILES}."]},
        )
    checked = []
    for upload in files:
        name = safe_name(upload.name)
        if upload.size > settings.UPLOAD_MAX_FILE_BYTES:  # files sent over HTTP were stopped before this
            raise file_too_large(upload.name)
        upload.seek(0)
        head = upload.read(512)
        if not head:
            raise Invalid(f"“{name}” is empty.", code="VALIDATION_ERROR", details={"file": name})
        kind = sniff(head)
        if kind is None:
            raise _unsupported(name, _describe(head))
        checked.append(_check_one(upload, name, *kind))
    return checked


def store_files(schema_name: str, job_id, files: list[CheckedFile]) -> list[dict]:
    """Write the files under generated names; on any failure remove what was written, so nothing half-stored
    remains. Returns the job's file references (no original names: they may name a student)."""
    folder = job_folder(schema_name, job_id)
    stored = []
    try:
        for index, item in enumerate(files, start=1):
            item.content.seek(0)
            path = default_storage.save(f"{folder}/{index}.{item.extension}", File(item.content))
            stored.append(
                {
                    "path": path,
                    "content_type": item.content_type,
                    "pages": item.pages,
                    "size": item.size,
                    "sha256": item.sha256,
                }
            )
    except Exception:
        delete_folder(folder)
        raise
    return stored
