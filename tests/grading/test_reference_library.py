"""The reference library: standards discovered from the folder, their text read once and shared, and a replaced PDF
noticed without restarting anything."""

from __future__ import annotations

import shutil
from pathlib import Path

from grading import standards
from grading.standards import discover, get_standard, load_library, reference_text

LIBRARY = Path(__file__).resolve().parents[2] / "reference_pdfs"


def test_load_library_reads_every_standard_once(settings, tmp_path, monkeypatch):
    for number in (3, 5):
        shutil.copy(LIBRARY / f"Standard-{number}.pdf", tmp_path / f"Standard-{number}.pdf")
    settings.REFERENCE_PDF_DIR = str(tmp_path)
    monkeypatch.setattr(standards, "_by_hash", {})
    load_library()
    assert {s.sha256 for s in discover()} <= set(standards._by_hash)
    monkeypatch.setattr(standards.pdfplumber, "open", None)  # reading a PDF again would fail
    assert "duty of care" in reference_text(get_standard(3)).lower()


def test_a_replaced_pdf_is_noticed(settings, tmp_path):
    settings.REFERENCE_PDF_DIR = str(tmp_path)
    target = tmp_path / "Standard-3.pdf"
    shutil.copy(LIBRARY / "Standard-3.pdf", target)
    before = get_standard(3)
    shutil.copy(LIBRARY / "Standard-4.pdf", target)  # a new edition under the same name
    after = get_standard(3)
    assert after.sha256 != before.sha256
    assert reference_text(after) != reference_text(before)
