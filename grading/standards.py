"""The reference library: one PDF per Care Certificate standard in REFERENCE_PDF_DIR, discovered from the folder.

Extracted text is cached by the file's SHA-256, in this process and in Redis, so a job never re-reads a PDF that has
not changed.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import pdfplumber
import pypdfium2 as pdfium
from django.conf import settings
from django.core.cache import cache

FILE_PATTERN = re.compile(r"^Standard-(\d{1,2})\.pdf$")
TITLE_PATTERN = re.compile(r"^Standard\s+(\d{1,2})\s*[:.\-–]\s*(.+)$")
# Titles used when a PDF's first line does not name its standard.
TITLES = {
    1: "Understand your role",
    2: "Your personal development",
    3: "Duty of care",
    4: "Equality and diversity",
    5: "Work in a person-centred way",
    6: "Communication",
    7: "Privacy and dignity",
    8: "Fluids and nutrition",
    9: "Awareness of mental health, dementia and learning disability",
    10: "Safeguarding adults",
    11: "Safeguarding children",
    12: "Basic life support",
    13: "Health and safety",
    14: "Handling information",
    15: "Infection prevention and control",
}


@dataclass(frozen=True)
class Standard:
    id: int
    title: str
    pages: int
    path: Path
    sha256: str
    subject_id: int | None = None  # an organization's own subject (markschemes.subjects.as_standard), not a standard

    def as_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "pages": self.pages}

    @property
    def label(self) -> str:
        """How a prompt or a page names it: "Care Certificate Standard 3: Duty of care", or the subject's name."""
        if self.subject_id is not None:
            return f"the organization's own subject “{self.title}”"
        return f"Care Certificate Standard {self.id}: {self.title}"


_lock = threading.Lock()
_by_hash: dict[str, tuple[str, int]] = {}  # sha256 -> (text, pages)
_pages_by_hash: dict[str, int] = {}
_hash_by_stat: dict[tuple[str, int, int], str] = {}  # (path, mtime_ns, size) -> sha256


def _sha256(path: Path) -> str:
    """The file's SHA-256, hashed again only when its modification time or size changes (every job looks its
    standard up, and the folder is read each time so a new or replaced PDF is picked up)."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    sha = _hash_by_stat.get(key)
    if sha is None:
        sha = _hash_by_stat[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return sha


def _read(path: Path, sha: str) -> tuple[str, int]:
    with _lock:
        if sha in _by_hash:
            return _by_hash[sha]
    key = f"reference-text:{sha}"
    cached = cache.get(key, version=1)
    if cached is None:
        with pdfplumber.open(path) as pdf:
            cached = ("\n".join(page.extract_text() or "" for page in pdf.pages), len(pdf.pages))
        cache.set(key, cached, timeout=None, version=1)
    with _lock:
        _by_hash[sha] = tuple(cached)
    return tuple(cached)


def _page_count(path: Path, sha: str) -> int:
    with _lock:
        if sha in _pages_by_hash:
            return _pages_by_hash[sha]
    pdf = pdfium.PdfDocument(str(path))
    try:
        pages = len(pdf)
    finally:
        pdf.close()
    with _lock:
        _pages_by_hash[sha] = pages
    return pages


def _title(number: int, path: Path, sha: str) -> str:
    """The official title where we know it (a long title also wraps onto a second line in the PDF's text); else
    the PDF's own first line, "Standard N: Title"."""
    if number in TITLES:
        return TITLES[number]
    text, _ = _read(path, sha)
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    match = TITLE_PATTERN.match(first_line)
    return match.group(2).strip() if match and int(match.group(1)) == number else f"Standard {number}"


def discover() -> list[Standard]:
    """Every Standard-N.pdf in the reference folder, in order. Cheap: the text is only extracted when grading."""
    folder = Path(settings.REFERENCE_PDF_DIR)
    found = []
    for path in sorted(folder.glob("Standard-*.pdf")):
        match = FILE_PATTERN.match(path.name)
        if not match:
            continue
        number = int(match.group(1))
        sha = _sha256(path)
        found.append(
            Standard(id=number, title=_title(number, path, sha), pages=_page_count(path, sha), path=path, sha256=sha)
        )
    return sorted(found, key=lambda s: s.id)


def get_standard(number: int) -> Standard | None:
    return next((s for s in discover() if s.id == number), None)


def reference_text(standard: Standard) -> str:
    return _read(standard.path, standard.sha256)[0]


def load_library() -> None:
    """Extract every standard's text now (from the shared cache when another process already did). The Celery
    worker calls this in its parent process before forking, so pool processes never parse a PDF on a job: when
    twelve of them did so at once on their first grading job, a batch stalled for seconds on a 2-core machine."""
    for standard in discover():
        reference_text(standard)
