"""Measure the offline OCR transcription against the generated answer sheets.

For every page listed in ``tests/fixtures/sheets/manifest.json`` this runs
``grading.providers.local_ocr.transcribe_page`` (PDF pages are rendered with
pypdfium2 at 150 dpi; images are EXIF-transposed first) and prints, per font,
style and variant:

* answer-word recall - the fraction of ground-truth answer words (lowercase,
  punctuation stripped) found in the transcribed answer of the same question;
* question-number detection rate;
* student-name and standard detection;
* seconds per page.

Usage::

    python scripts/measure_ocr.py [--pipeline final|raw|both] [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageOps

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from grading.providers.local_ocr import (  # noqa: E402
    RAW_OPTIONS,
    OcrOptions,
    PageTranscription,
    transcribe_page,
)

SHEETS = REPO_ROOT / "tests" / "fixtures" / "sheets"
PIPELINES = {"raw": RAW_OPTIONS, "final": OcrOptions()}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("'", ""))


def word_recall(truth: str, transcribed: str) -> tuple[int, int]:
    """(found, total) ground-truth words, matched as a multiset."""
    wanted = words(truth)
    available = Counter(words(transcribed))
    found = 0
    for word in wanted:
        if available[word] > 0:
            available[word] -= 1
            found += 1
    return found, len(wanted)


def name_matches(truth: str, found: str | None) -> bool:
    return found is not None and words(truth) == words(found)


def load_pages(entry: dict) -> list[Image.Image]:
    path = SHEETS / entry["file"]
    if path.suffix.lower() == ".pdf":
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(str(path))
        try:
            return [page.render(scale=150 / 72).to_pil().convert("RGB") for page in pdf]
        finally:
            pdf.close()
    with Image.open(path) as img:
        return [ImageOps.exif_transpose(img).convert("RGB")]


@dataclass
class Tally:
    found: int = 0
    total: int = 0
    numbers_found: int = 0
    numbers_total: int = 0
    names_found: int = 0
    names_total: int = 0
    standards_found: int = 0
    pages: int = 0
    seconds: float = 0.0
    recalls: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name in (
            "found",
            "total",
            "numbers_found",
            "numbers_total",
            "names_found",
            "names_total",
            "standards_found",
            "pages",
            "seconds",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def row(self, label: str) -> str:
        def pct(a: int, b: int) -> str:
            return f"{100 * a / b:5.1f}%" if b else "    -"

        return (
            f"{label:<34} {self.pages:>3}  {pct(self.found, self.total)}  "
            f"{pct(self.numbers_found, self.numbers_total)}  "
            f"{pct(self.names_found, self.names_total)}  "
            f"{pct(self.standards_found, self.pages)}  {self.seconds / max(1, self.pages):5.2f}"
        )


def score_page(truth: dict, standard: int, result: PageTranscription, seconds: float) -> Tally:
    tally = Tally(pages=1, seconds=seconds)
    by_number = {q.number: q for q in result.questions}
    for q in truth["questions"]:
        got = by_number.get(q["number"])
        found, total = word_recall(q["answer"], got.answer if got else "")
        tally.found += found
        tally.total += total
        tally.numbers_total += 1
        tally.numbers_found += got is not None
    if truth.get("student_name"):
        tally.names_total = 1
        tally.names_found = int(name_matches(truth["student_name"], result.student_name))
    tally.standards_found = int(result.standard == standard)
    return tally


def run(pipeline: str, only: str | None, verbose: bool) -> Tally:
    options = PIPELINES[pipeline]
    manifest = json.loads((SHEETS / "manifest.json").read_text(encoding="utf-8"))
    groups: dict[str, Tally] = defaultdict(Tally)
    overall = Tally()
    for entry in manifest["files"]:
        if only and only not in entry["file"]:
            continue
        for truth, image in zip(entry["pages"], load_pages(entry), strict=True):
            start = time.perf_counter()
            result = transcribe_page(image, options)
            tally = score_page(truth, entry["standard"], result, time.perf_counter() - start)
            if verbose:
                print(tally.row(f"{entry['file']}#{truth['page']}"))
                by_number = {q.number: q for q in result.questions}
                for q in truth["questions"]:
                    got = by_number.get(q["number"])
                    print(f"   {q['number']:>2} truth: {q['answer']}")
                    print(f"      ocr:   {got.answer if got else '<missing>'}  ({got.confidence if got else 0:.2f})")
            for key in (f"font {entry['font']}", f"style {entry['style']}", f"variant {entry['variant']}"):
                groups[key].add(tally)
            overall.add(tally)
    header = f"{'group':<34} pgs  recall  q-nums   names  stand.  s/page"
    print(f"\n== pipeline: {pipeline}\n{header}")
    for key in sorted(groups):
        print(groups[key].row(key))
    print(overall.row("ALL"))
    return overall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", choices=["final", "raw", "both"], default="both")
    parser.add_argument("--only", help="only files whose name contains this")
    parser.add_argument("--verbose", action="store_true", help="print every answer")
    args = parser.parse_args(argv)
    for pipeline in ("raw", "final") if args.pipeline == "both" else (args.pipeline,):
        run(pipeline, args.only, args.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
