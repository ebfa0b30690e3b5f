"""Measure the offline reader on photographed handwritten quiz sheets, with a held-back part.

Renders one-page answer sheets (printed questions, ruled lines, the learner's name and answers in a handwriting
font), writes the known text beside them, photographs them (perspective, uneven light and shadow, blur, downscaling,
JPEG) and reads every sheet through the local provider's real page reading (``LocalProvider.extract_page`` on a
``PageSource``: the same decode, EXIF and OCR path as an upload). Reports, for the dev part and the held-back part
separately:

* answer-word recall: the share of the written answer words found in the answer read for the same question;
* sheets with every question found (all printed question numbers read);
* review of poor readings: the answers read poorly (under POORLY_READ of their words found) that the legibility rule
  sends to a person (``grading.pipeline.hard_to_read``), and the well-read ones it sends there needlessly;
* script grouping: the sheets, uploaded together as one batch of photos, that become a script of their own
  (each sheet is a different learner, or a second attempt under the same name);
* good sheet outscores poor: pairs of sheets in the same hand and standard, full answers against poor ones, graded by
  the local provider against the shipped mark scheme's points;
* seconds per page (reading only), with the load average, since the machine may be shared.

The split is fixed here: fonts and standards (texts) in HELD_BACK_* were never used to tune the reader. Tune on the
dev part only. Generation is deterministic (seeded).

Usage::

    .venv/bin/python scripts/measure_local_reading.py [--part dev|held-back|both] [--out DIR] [--verbose]

Needs the Debian font packages in ``FONT_PACKAGES`` (see README, "Offline reading").
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFont

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "scripts"))

import make_answer_sheets as sheets  # noqa: E402

FONT_ROOT = Path("/usr/share/fonts")
# (key, file under /usr/share/fonts, Debian package, pixel size at 150 dpi, slant)
DEV_FONTS = (
    ("breip", "truetype/breip/Breip.ttf", "fonts-breip", 42, 0.08),
    ("purisa", "truetype/tlwg/Purisa.ttf", "fonts-tlwg-purisa-ttf", 34, 0.0),
    ("rufscript", "truetype/rufscript/Rufscript010.ttf", "fonts-rufscript", 36, 0.05),
    ("humor-sans", "truetype/humor-sans/Humor-Sans.ttf", "fonts-humor-sans", 34, -0.05),
    ("dkg", "truetype/fifthhorseman/dkg.ttf", "fonts-dkg-handwriting", 46, 0.12),
    ("femkeklaver", "truetype/femkeklaver/femkeklaver.ttf", "fonts-femkeklaver", 40, 0.0),
    ("dancing-script", "opentype/dancingscript/DancingScript-Regular.otf", "fonts-dancingscript", 44, 0.0),
    ("kaushan-script", "opentype/kaushanscript/KaushanScript-Regular.otf", "fonts-kaushanscript", 38, 0.0),
)
# Never seen while the reader was tuned (the fixtures in tests/fixtures/sheets use the dev fonts only).
HELD_BACK_FONTS = (
    ("steve-hand", "truetype/sjfonts/SteveHand.ttf", "fonts-sjfonts", 40, 0.0),
    ("delphine", "truetype/sjfonts/Delphine.ttf", "fonts-sjfonts", 40, 0.05),
    ("because-we-learn", "opentype/bwht/BecauseWeLearn-Regular.otf", "fonts-bwht", 42, 0.0),
    ("dkg-italic", "truetype/fifthhorseman/dkgIt.ttf", "fonts-dkg-handwriting", 44, 0.0),
    ("comic-neue-light", "opentype/comic-neue/ComicNeue-Light.otf", "fonts-comic-neue", 36, -0.04),
)
FONT_PACKAGES = sorted({f[2] for f in DEV_FONTS + HELD_BACK_FONTS})
DEV_STANDARDS = tuple(range(1, 12))  # the texts of the fixture sheets the reader was tuned on
HELD_BACK_STANDARDS = (12, 13, 14, 15)
QUESTIONS_PER_SHEET = 3
FIRST_NAMES = ("Amara", "Ben", "Chen", "Dana", "Eli", "Fatima", "George", "Hana", "Ivan", "Jade", "Kofi", "Lena")
LAST_NAMES = ("Shah", "Baker", "Novak", "Reid", "Osei", "Lind", "Moreau", "Price", "Quinn", "Roth", "Saito", "Tate")
SEED = 2026
POORLY_READ = 0.6  # an answer with fewer of its written words read than this share is poorly read


@dataclass
class Sheet:
    key: str
    part: str
    font: str
    standard: int
    quality: str  # full | poor: the pair's good and poor sheet
    learner: str
    photo: bytes = b""
    truth: list[dict] = field(default_factory=list)  # number, question, answer as written


@dataclass
class Reading:
    sheet: Sheet
    result: object  # PageResult
    seconds: float
    cpu: float = 0.0
    found: int = 0
    total: int = 0
    all_questions: bool = False
    score: float = 0.0
    answers: list[tuple[float, bool]] = field(default_factory=list)  # per answer read: word recall, sent to review


# ------------------------------------------------------------------ the sheets


def _font(entry: tuple) -> ImageFont.FreeTypeFont:
    key, rel, package, size, _ = entry
    path = FONT_ROOT / rel
    if not path.exists():
        sys.exit(f"font {key!r} not found at {path}; install it with: apt-get install {package}")
    return ImageFont.truetype(str(path), size)


def plan_sheet(standard: sheets.Standard, quality: str, hand_measure) -> sheets.PageLayout:
    """Questions 1-3 of the standard with the chosen quality of answer, one page."""
    qfont = sheets.printed(sheets.QUESTION_SIZE)
    width = sheets.PAGE_W - 2 * sheets.MARGIN_X
    layout = sheets.PageLayout()
    for item in standard.quiz[:QUESTIONS_PER_SHEET]:
        question = sheets.clean_text(f"{item.number}. {item.question}")
        qlines = [" ".join(ws) for ws in sheets.wrap(question.split(), width, qfont.getlength)]
        full = sheets.wrap(sheets.clean_text(item.answers["full"]).split(), width - 60, hand_measure)
        n_rules = min(sheets.MAX_ANSWER_LINES, max(sheets.MIN_ANSWER_LINES, len(full)))
        words = sheets.clean_text(item.answers[quality]).split()
        for scale in (1.0, 0.9, 0.8):
            lines = [" ".join(ws) for ws in sheets.wrap(words, width - 60, lambda t, k=scale: hand_measure(t, k))]
            if len(lines) <= n_rules:
                break
        layout.questions.append(sheets.PlacedQuestion(item, quality, qlines, lines[:n_rules], n_rules, scale))
    return layout


def photograph(page: Image.Image, rng: np.random.Generator, hard: bool) -> bytes:
    """A phone photo of the page: perspective, uneven light and a shadow (make_answer_sheets.phone_photo), then
    optionally a hard-edged shadow and more blur, downscaled like a messaging app and saved as JPEG."""
    photo = np.asarray(sheets.phone_photo(page, rng)).astype(np.float32)
    h, w = photo.shape[:2]
    if hard:
        # The phone's own shadow: a darker band with a soft edge across one side of the sheet.
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, 2 * math.pi)
        edge = (xx - w / 2) * math.cos(angle) + (yy - h / 2) * math.sin(angle) - rng.uniform(0.1, 0.35) * w
        photo *= (1.0 - 0.35 / (1.0 + np.exp(np.clip(-edge / 12.0, -50, 50))))[..., None]
        sigma = rng.uniform(0.9, 1.3)
        photo = cv2.GaussianBlur(photo, (0, 0), sigma)
    width = int(rng.integers(1050, 1400))
    small = cv2.resize(
        np.clip(photo, 0, 255).astype(np.uint8), (width, int(h * width / w)), interpolation=cv2.INTER_AREA
    )
    buffer = io.BytesIO()
    Image.fromarray(small).save(buffer, "JPEG", quality=int(rng.integers(55, 85)))
    return buffer.getvalue()


def make_sheets(part: str, limit: int | None = None) -> list[Sheet]:
    """Two sheets per font (a good and a poor one by the same learner: a second attempt), each on its own standard
    of the part, half of them photographed in hard conditions. Deterministic."""
    fonts = DEV_FONTS if part == "dev" else HELD_BACK_FONTS
    standard_ids = DEV_STANDARDS if part == "dev" else HELD_BACK_STANDARDS
    standards = {s.id: s for s in sheets.load_standards(sheets.DEFAULT_STANDARDS)}
    out: list[Sheet] = []
    for index, entry in enumerate(fonts[:limit] if limit else fonts):
        rng = random.Random(f"{SEED}-{part}-{entry[0]}")
        nprng = np.random.default_rng(rng.randrange(2**32))
        standard = standards[standard_ids[index % len(standard_ids)]]
        learner = f"{FIRST_NAMES[index % 12]} {LAST_NAMES[(index * 5 + (part != 'dev')) % 12]}"
        font = _font(entry)
        ink = sheets.INKS[rng.choice(sorted(sheets.INKS))]
        for quality in ("full", "poor"):
            hand = sheets.Hand(font, entry[3], entry[4], ink, rng)
            layout = plan_sheet(standard, quality, hand.measure)
            spec = sheets.ScriptSpec(f"{part}-{entry[0]}", learner, entry[0], entry[3], entry[4], "", "phone", 0)
            page = sheets.render_page(spec, standard, layout, 1, 1, hand, rng)
            sheet = Sheet(f"{part}-{entry[0]}-{quality}", part, entry[0], standard.id, quality, learner)
            sheet.photo = photograph(page, nprng, hard=(quality == "poor") == bool(index % 2))
            sheet.truth = [
                {"number": q.item.number, "question": sheets.clean_text(q.item.question), "answer": q.answer}
                for q in layout.questions
            ]
            out.append(sheet)
    return out


# ------------------------------------------------------------------ the reading


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("'", ""))


def _page(sheet: Sheet, number: int):
    from grading.pages import PageSource

    class PhotoPage(PageSource):
        def read(self) -> bytes:
            return sheet.photo

    return PhotoPage(number=number, file_index=number - 1, path=f"{sheet.key}.jpg")


def warm_up() -> float:
    """Load the OCR models and word lists (once per process: a worker pays it when it reads its first page, not on
    every page) and return the CPU seconds that took, so the first sheet's time is a page's like the others'."""
    from grading.providers import local_ocr, ocr_legibility, ocr_spelling

    cpu = time.process_time()
    local_ocr.transcribe_page(Image.new("RGB", (400, 300), "white"))
    # The word lists of the legibility rule and of the spelling correction are loaded once per process too.
    ocr_legibility.known_share(ocr_spelling.correct("prefessicnal"))
    return time.process_time() - cpu


def read_sheets(batch: list[Sheet]) -> list[Reading]:
    from grading.pipeline import hard_to_read
    from grading.providers.local import LocalProvider

    provider = LocalProvider()
    warm_up()
    readings = []
    for number, sheet in enumerate(batch, start=1):
        started, cpu = time.perf_counter(), time.process_time()
        result = provider.extract_page(_page(sheet, number))
        reading = Reading(sheet, result, time.perf_counter() - started, time.process_time() - cpu)
        read = {q.number: q for q in result.extraction.questions} if result.extraction else {}
        for truth in sheet.truth:
            question = read.get(truth["number"])
            available = Counter(words(question.answer if question else ""))
            found, written = 0, words(truth["answer"])
            for word in written:
                if available[word] > 0:
                    available[word] -= 1
                    found += 1
            reading.total += len(written)
            reading.found += found
            if question is not None and question.answer.strip():
                reading.answers.append((found / max(1, len(written)), hard_to_read(question.legibility)))
        reading.all_questions = all(t["number"] in read for t in sheet.truth)
        readings.append(reading)
    return readings


def grouping(readings: list[Reading]) -> int:
    """How many sheets, uploaded together as one batch of photos in this order, end up as a script of their own."""
    from grading.grouping import group_into_scripts

    pages = [(_page(r.sheet, n), r.result) for n, r in enumerate(readings, start=1)]
    scripts = group_into_scripts(pages, tuple(range(1, QUESTIONS_PER_SHEET + 1)))
    return sum(1 for s in scripts if len(s.pages) == 1)


def _schemes() -> dict[tuple[int, int], dict]:
    data = json.loads((REPO_ROOT / "reference_pdfs" / "source" / "mark_schemes.json").read_text(encoding="utf-8"))
    return {(s["standard"], q["number"]): q for s in data["schemes"] for q in s["questions"]}


def _reference(standard: int) -> str:
    import pdfplumber

    with pdfplumber.open(REPO_ROOT / "reference_pdfs" / f"Standard-{standard}.pdf") as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages)


def score(readings: list[Reading]) -> None:
    """Grade what was read against the shipped scheme's points, as the local provider does; a question not found
    scores nothing."""
    from grading.providers.local import LocalProvider
    from grading.providers.schemas import AnswerToGrade, PointToJudge

    schemes, references, provider = _schemes(), {}, LocalProvider()
    for reading in readings:
        standard = reading.sheet.standard
        reference = references.setdefault(standard, _reference(standard))
        read = {q.number: q.answer for q in reading.result.extraction.questions} if reading.result.extraction else {}
        answers = []
        for truth in reading.sheet.truth:
            scheme = schemes[(standard, truth["number"])]
            points = [PointToJudge(i, p["statement"], p["marks"]) for i, p in enumerate(scheme["points"], start=1)]
            answers.append(
                AnswerToGrade(
                    truth["number"], scheme["text"], read.get(truth["number"], ""), scheme["max_marks"], points
                )
            )
        grades, _ = provider.grade_script(None, reference, answers)
        reading.score = sum(g.score or 0.0 for g in grades)


@dataclass
class Figures:
    part: str
    sheets: int
    recall: float
    all_found: int
    own_script: int
    pairs_won: int
    pairs: int
    seconds: list[float]
    cpu: list[float]
    answers: list[tuple[float, bool]]
    keys: list[str] = field(default_factory=list)  # the sheets, in the order of ``seconds`` and ``cpu``

    def review(self) -> tuple[int, int, int, int]:
        """(poorly read answers sent to review, poorly read answers, well-read ones sent, well-read ones)."""
        poor = [review for recall, review in self.answers if recall < POORLY_READ]
        well = [review for recall, review in self.answers if recall >= POORLY_READ]
        return sum(poor), len(poor), sum(well), len(well)

    def lines(self) -> list[str]:
        s = sorted(self.seconds)
        poor_sent, poor, well_sent, well = self.review()
        return [
            f"== {self.part}: {self.sheets} sheets ==",
            f"  answer-word recall                 {100 * self.recall:5.1f} %",
            f"  sheets with every question found   {self.all_found} of {self.sheets}"
            f" ({100 * self.all_found / self.sheets:.0f} %)",
            f"  sheets that are a script of their own   {self.own_script} of {self.sheets}",
            f"  good sheet outscores the poor one  {self.pairs_won} of {self.pairs} pairs",
            f"  poorly read answers (under {POORLY_READ:.0%} of words) sent to review   {poor_sent} of {poor}",
            f"  well-read answers sent to review   {well_sent} of {well}",
            f"  seconds per page (wall): median {statistics.median(s):.2f}, max {s[-1]:.2f}",
            f"  CPU seconds per page (all threads): median {statistics.median(self.cpu):.2f}, max {max(self.cpu):.2f}"
            + (f" ({self.keys[self.cpu.index(max(self.cpu))]})" if self.keys else ""),
        ]


def measure(part: str, limit: int | None = None, verbose: bool = False, out: Path | None = None) -> Figures:
    batch = make_sheets(part, limit)
    readings = read_sheets(batch)
    score(readings)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for r in readings:
            (out / f"{r.sheet.key}.jpg").write_bytes(r.sheet.photo)
            (out / f"{r.sheet.key}.json").write_text(
                json.dumps({"learner": r.sheet.learner, "standard": r.sheet.standard, "questions": r.sheet.truth})
            )
    pairs = [(a, b) for a, b in zip(readings[::2], readings[1::2], strict=True)]
    figures = Figures(
        part=part,
        sheets=len(readings),
        recall=sum(r.found for r in readings) / max(1, sum(r.total for r in readings)),
        all_found=sum(r.all_questions for r in readings),
        own_script=grouping(readings),
        pairs_won=sum(good.score > poor.score for good, poor in pairs),
        pairs=len(pairs),
        seconds=[r.seconds for r in readings],
        cpu=[r.cpu for r in readings],
        answers=[answer for r in readings for answer in r.answers],
        keys=[r.sheet.key for r in readings],
    )
    if verbose:
        for r in readings:
            numbers = [q.number for q in r.result.extraction.questions] if r.result.extraction else []
            name = r.result.extraction.student_name if r.result.extraction else None
            legibility = [q.legibility for q in r.result.extraction.questions] if r.result.extraction else []
            print(
                f"  {r.sheet.key:<34} recall {r.found:3d}/{r.total:<3d} questions {numbers} name {name!r}"
                f" legibility {legibility} score {r.score:g} {r.seconds:.2f}s ({r.cpu:.2f} s CPU)"
            )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("dev", "held-back", "both"), default="both")
    parser.add_argument("--out", type=Path, help="write the photos and their known text here")
    parser.add_argument("--verbose", action="store_true", help="one line per sheet")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quizmarker.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()
    print(f"dev: fonts {', '.join(f[0] for f in DEV_FONTS)}; standards {DEV_STANDARDS[0]}-{DEV_STANDARDS[-1]}")
    print(
        f"held-back (never tuned on): fonts {', '.join(f[0] for f in HELD_BACK_FONTS)}; standards "
        f"{HELD_BACK_STANDARDS[0]}-{HELD_BACK_STANDARDS[-1]}"
    )
    print(f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"loading the OCR models (once per process, not counted in any page): {warm_up():.2f} CPU seconds")
    parts = ("dev", "held-back") if args.part == "both" else (args.part,)
    for part in parts:
        figures = measure(part, verbose=args.verbose, out=args.out / part if args.out else None)
        print("\n".join(figures.lines()))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
