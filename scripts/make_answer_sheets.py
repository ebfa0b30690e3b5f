"""Generate synthetic handwritten Care Certificate quiz answer sheets.

The sheets are the test corpus for the offline OCR transcription path
(``grading/providers/local_ocr.py``).  Every sheet has a printed header, a
printed "Name:" line with the student's name handwritten, and numbered printed
questions, each followed by ruled lines carrying a handwritten answer.
Handwriting is simulated with handwriting/script fonts shipped by Debian
``fonts-*`` packages; per-student variation in size, slant, ink colour,
baseline wobble and word spacing keeps the scripts from looking identical.

Output (deterministic for a given standards file):

* ``tests/fixtures/sheets/*.png`` / ``*.jpg`` - clean scans, phone photos and
  an image stored rotated with an EXIF orientation tag;
* ``tests/fixtures/sheets/*.pdf`` - a multi-page scanned PDF (images only) and
  a typed PDF with a real text layer;
* ``tests/fixtures/sheets/manifest.json`` - the ground truth per file/page.

Usage::

    python scripts/make_answer_sheets.py \
        [--standards reference_pdfs/source/standards.json] \
        [--out tests/fixtures/sheets]

The fonts must be installed (``apt-get install`` the packages named in
``FONTS`` and ``PRINTED_FONT``); the script stops with the package name when
one is missing.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STANDARDS = REPO_ROOT / "reference_pdfs" / "source" / "standards.json"
DEFAULT_OUT = REPO_ROOT / "tests" / "fixtures" / "sheets"

PAGE_W, PAGE_H = 1240, 1754  # A4 portrait at 150 dpi
DPI = 150
MARGIN_X = 95
PRINT_COLOUR = (25, 25, 25)
RULE_COLOUR = (170, 185, 205)
QUALITIES = ("full", "partial", "poor")
QUALITY_WEIGHTS = (0.45, 0.35, 0.2)
MAX_ANSWER_LINES = 4
MIN_ANSWER_LINES = 2
MAX_PAGES = 3
FIXED_DATE = time.gmtime(1736154000)  # 2025-01-06


@dataclass(frozen=True)
class FontSpec:
    key: str
    path: str
    package: str
    style: str  # "print" or "cursive"


FONT_ROOT = Path("/usr/share/fonts")
PRINTED_FONT = FontSpec("dejavu-sans", "truetype/dejavu/DejaVuSans.ttf", "fonts-dejavu-core", "typed")
PRINTED_BOLD = FontSpec("dejavu-sans-bold", "truetype/dejavu/DejaVuSans-Bold.ttf", "fonts-dejavu-core", "typed")
FONTS: dict[str, FontSpec] = {
    spec.key: spec
    for spec in (
        FontSpec("breip", "truetype/breip/Breip.ttf", "fonts-breip", "print"),
        FontSpec("purisa", "truetype/tlwg/Purisa.ttf", "fonts-tlwg-purisa-ttf", "print"),
        FontSpec("rufscript", "truetype/rufscript/Rufscript010.ttf", "fonts-rufscript", "print"),
        FontSpec("humor-sans", "truetype/humor-sans/Humor-Sans.ttf", "fonts-humor-sans", "print"),
        FontSpec("dkg", "truetype/fifthhorseman/dkg.ttf", "fonts-dkg-handwriting", "print"),
        FontSpec(
            "because-we-organize",
            "opentype/bwht/BecauseWeOrganize-Regular.otf",
            "fonts-bwht",
            "print",
        ),
        FontSpec("femkeklaver", "truetype/femkeklaver/femkeklaver.ttf", "fonts-femkeklaver", "print"),
        FontSpec(
            "dancing-script",
            "opentype/dancingscript/DancingScript-Regular.otf",
            "fonts-dancingscript",
            "cursive",
        ),
        FontSpec(
            "kaushan-script",
            "opentype/kaushanscript/KaushanScript-Regular.otf",
            "fonts-kaushanscript",
            "cursive",
        ),
        FontSpec("kristi", "truetype/kristi/Kristi.ttf", "fonts-kristi", "cursive"),
    )
}

INKS = {
    "black": (22, 22, 30),
    "blue": (20, 45, 150),
    "dark-blue": (15, 30, 95),
    "blue-black": (30, 35, 70),
}


@dataclass(frozen=True)
class ScriptSpec:
    """One student's script: which font, how it is written and delivered."""

    script_id: str
    student: str
    font: str
    size: int
    slant: float  # horizontal shear; positive leans right
    ink: str
    variant: str  # clean | phone | exif | scanned_pdf | typed_pdf
    seed: int
    max_questions: int = 6


SCRIPTS: tuple[ScriptSpec, ...] = (
    ScriptSpec("s01", "Amelia Hughes", "breip", 44, 0.10, "blue", "clean", 101),
    ScriptSpec("s02", "Oliver Patel", "purisa", 34, 0.0, "black", "clean", 102),
    ScriptSpec("s03", "Grace O'Connor", "rufscript", 36, 0.05, "dark-blue", "phone", 103),
    ScriptSpec("s04", "Mohammed Khan", "humor-sans", 34, -0.05, "black", "exif", 104),
    ScriptSpec("s05", "Sophie Williams", "dkg", 46, 0.12, "blue", "clean", 105),
    ScriptSpec("s06", "Jack Thompson", "because-we-organize", 42, 0.0, "blue-black", "phone", 106),
    ScriptSpec("s07", "Chloe Evans", "dancing-script", 44, 0.0, "blue", "clean", 107),
    ScriptSpec("s08", "Daniel Roberts", "kaushan-script", 38, 0.0, "black", "phone", 108),
    ScriptSpec("s09", "Isla Morgan", "kristi", 50, 0.05, "dark-blue", "clean", 109),
    ScriptSpec("s10", "Priya Shah", "femkeklaver", 40, 0.0, "blue", "scanned_pdf", 110),
    ScriptSpec("s11", "Thomas Wright", "", 0, 0.0, "black", "typed_pdf", 111),
    ScriptSpec("s12", "Ellie Davies", "dancing-script", 42, 0.0, "black", "phone", 112),
    ScriptSpec("s13", "Ryan Clarke", "breip", 40, -0.08, "blue-black", "phone", 113),
)


# --------------------------------------------------------------------------- data


@dataclass
class QuizItem:
    number: int
    question: str
    answers: dict[str, str]


@dataclass
class Standard:
    id: int
    title: str
    quiz: list[QuizItem]


def load_standards(path: Path) -> list[Standard]:
    if not path.exists():
        sys.exit(f"standards file not found: {path}")
    data = json.loads(path.read_text(encoding="utf-8"))
    # Accept both {"standards": [...]} and a bare list of standards.
    records = data["standards"] if isinstance(data, dict) else data
    standards = []
    for raw in records:
        quiz = [
            QuizItem(
                number=int(q["number"]),
                question=str(q["question"]).strip(),
                answers={
                    "full": str(q["full_answer"]).strip(),
                    "partial": str(q["partial_answer"]).strip(),
                    "poor": str(q["poor_answer"]).strip(),
                },
            )
            for q in raw.get("quiz", [])
        ]
        if quiz:
            standards.append(Standard(int(raw["id"]), str(raw["title"]).strip(), quiz))
    if not standards:
        sys.exit(f"no standards with quiz questions in {path}")
    return standards


def font_path(spec: FontSpec) -> Path:
    path = FONT_ROOT / spec.path
    if not path.exists():
        sys.exit(f"font {spec.key!r} not found at {path}; install it with: apt-get install {spec.package}")
    return path


def check_fonts() -> None:
    for spec in (PRINTED_FONT, PRINTED_BOLD, *FONTS.values()):
        font_path(spec)


def printed(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(PRINTED_BOLD if bold else PRINTED_FONT)), size)


def clean_text(text: str) -> str:
    """Normalise typographic characters the handwriting fonts may lack."""
    table = str.maketrans(
        {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u2026": "..."}
    )
    return " ".join(text.translate(table).split())


def wrap(words: list[str], width: float, measure) -> list[list[str]]:
    lines: list[list[str]] = []
    current: list[str] = []
    for word in words:
        candidate = " ".join([*current, word])
        if current and measure(candidate) > width:
            lines.append(current)
            current = [word]
        else:
            current.append(word)
    if current:
        lines.append(current)
    return lines


# ------------------------------------------------------------------ handwriting


@dataclass
class Hand:
    """Renders text as simulated handwriting for one student."""

    font: ImageFont.FreeTypeFont
    size: int
    slant: float
    ink: tuple[int, int, int]
    rng: random.Random

    def measure(self, text: str, scale: float = 1.0) -> float:
        return self.font.getlength(text) * scale * 1.06 + 4

    def render_line(self, text: str, scale: float = 1.0) -> Image.Image:
        """Return an RGBA image of one handwritten line; baseline at 72 % height.

        ``scale`` shrinks the writing, as a student squeezing a long answer in.
        """
        words = text.split()
        size = int(self.size * scale)
        height = int(size * 2.0)
        width = int(self.measure(text, scale) + size * 2 + len(words) * 8)
        layer = Image.new("L", (width, height), 0)
        x = size * 0.3
        baseline = height * 0.72
        drift = 0.0
        ascent = self.font.getmetrics()[0] * scale
        for word in words:
            jitter = self.rng.uniform(0.94, 1.06)
            font = self.font.font_variant(size=max(8, int(size * jitter)))
            w = int(font.getlength(word)) + 8
            word_img = Image.new("L", (w, height), 0)
            ImageDraw.Draw(word_img).text((4, 0), word, font=font, fill=255)
            angle = self.rng.uniform(-1.8, 1.8)
            word_img = word_img.rotate(angle, resample=Image.BICUBIC, center=(4, ascent))
            drift = max(-4.0, min(4.0, drift + self.rng.uniform(-1.5, 1.5)))
            y = int(baseline - font.getmetrics()[0] + drift)
            layer.paste(
                Image.fromarray(
                    np.maximum(np.asarray(layer.crop((int(x), y, int(x) + w, y + height))), np.asarray(word_img))
                ),
                (int(x), y),
            )
            x += font.getlength(word + " ") + self.rng.uniform(-2, 6)
        if self.slant:
            shift = abs(self.slant) * height
            layer = layer.transform(
                (int(width + shift), height),
                Image.AFFINE,
                (1, self.slant, -shift if self.slant > 0 else 0, 0, 1, 0),
                resample=Image.BICUBIC,
            )
        alpha = layer.point(lambda v: int(v * self.rng.uniform(0.9, 1.0)))
        ink = Image.new("RGBA", layer.size, (*self.ink, 255))
        ink.putalpha(alpha)
        return ink


# ----------------------------------------------------------------------- layout


@dataclass
class PlacedQuestion:
    item: QuizItem
    quality: str
    question_lines: list[str]
    answer_lines: list[str]
    n_rules: int
    hand_scale: float = 1.0

    @property
    def answer(self) -> str:
        return " ".join(self.answer_lines)


@dataclass
class PageLayout:
    questions: list[PlacedQuestion] = field(default_factory=list)


QUESTION_SIZE = 28
QUESTION_LEADING = 36
RULE_GAP = 68
HEADER_BOTTOM_FIRST = 330
HEADER_BOTTOM_NEXT = 250
FOOTER_TOP = 1660


def block_height(q: PlacedQuestion) -> int:
    return len(q.question_lines) * QUESTION_LEADING + 8 + q.n_rules * RULE_GAP + 30


def plan_script(spec: ScriptSpec, standard: Standard, hand_measure, rng: random.Random) -> list[PageLayout]:
    qfont = printed(QUESTION_SIZE)
    text_width = PAGE_W - 2 * MARGIN_X
    placed: list[PlacedQuestion] = []
    for item in standard.quiz[: spec.max_questions]:
        quality = rng.choices(QUALITIES, QUALITY_WEIGHTS)[0]
        question = clean_text(f"{item.number}. {item.question}")
        qlines = [" ".join(ws) for ws in wrap(question.split(), text_width, qfont.getlength)]
        # The printed sheet gives every student the same space: enough ruled
        # lines for a full answer, between MIN_ and MAX_ANSWER_LINES.
        full_lines = wrap(clean_text(item.answers["full"]).split(), text_width - 60, hand_measure)
        n_rules = min(MAX_ANSWER_LINES, max(MIN_ANSWER_LINES, len(full_lines)))
        answer_words = clean_text(item.answers[quality]).split()
        for hand_scale in (1.0, 0.9, 0.8):
            alines = [
                " ".join(ws) for ws in wrap(answer_words, text_width - 60, lambda t, k=hand_scale: hand_measure(t, k))
            ]
            if len(alines) <= n_rules:
                break
        alines = alines[:n_rules]  # what did not fit is not written
        placed.append(PlacedQuestion(item, quality, qlines, alines, n_rules, hand_scale))

    pages: list[PageLayout] = [PageLayout()]
    y = HEADER_BOTTOM_FIRST
    for q in placed:
        h = block_height(q)
        if y + h > FOOTER_TOP and pages[-1].questions:
            if len(pages) == MAX_PAGES:
                break
            pages.append(PageLayout())
            y = HEADER_BOTTOM_NEXT
        pages[-1].questions.append(q)
        y += h
    return pages


def draw_header(draw: ImageDraw.ImageDraw, standard: Standard, page_no: int) -> int:
    draw.text((MARGIN_X, 70), "Care Certificate Quiz", font=printed(44, bold=True), fill=PRINT_COLOUR)
    title = clean_text(f"Standard {standard.id}: {standard.title}")
    draw.text((MARGIN_X, 140), title, font=printed(30, bold=True), fill=PRINT_COLOUR)
    draw.line((MARGIN_X, 195, PAGE_W - MARGIN_X, 195), fill=PRINT_COLOUR, width=3)
    return HEADER_BOTTOM_FIRST if page_no == 1 else HEADER_BOTTOM_NEXT


def draw_footer(draw: ImageDraw.ImageDraw, page_no: int, n_pages: int) -> None:
    font = printed(22)
    text = f"Page {page_no} of {n_pages}"
    draw.text(((PAGE_W - font.getlength(text)) / 2, 1690), text, font=font, fill=PRINT_COLOUR)


def paste_hand(page: Image.Image, line_img: Image.Image, x: int, baseline_y: int) -> None:
    y = int(baseline_y - line_img.height * 0.72)
    page.alpha_composite(line_img, (x, max(0, y)))


def render_page(
    spec: ScriptSpec,
    standard: Standard,
    layout: PageLayout,
    page_no: int,
    n_pages: int,
    hand: Hand,
    rng: random.Random,
) -> Image.Image:
    paper = (252, 252, 250)
    page = Image.new("RGBA", (PAGE_W, PAGE_H), (*paper, 255))
    draw = ImageDraw.Draw(page)
    y = draw_header(draw, standard, page_no)
    if page_no == 1:
        label_font = printed(28)
        draw.text((MARGIN_X, 232), "Name:", font=label_font, fill=PRINT_COLOUR)
        x0 = MARGIN_X + int(label_font.getlength("Name: ")) + 6
        draw.line((x0, 266, PAGE_W - MARGIN_X, 266), fill=RULE_COLOUR, width=2)
        paste_hand(page, hand.render_line(spec.student), x0 + 20, 260)
    qfont = printed(QUESTION_SIZE)
    for q in layout.questions:
        for line in q.question_lines:
            draw.text((MARGIN_X, y), line, font=qfont, fill=PRINT_COLOUR)
            y += QUESTION_LEADING
        y += 8
        for i in range(q.n_rules):
            rule_y = y + (i + 1) * RULE_GAP
            draw.line((MARGIN_X, rule_y, PAGE_W - MARGIN_X, rule_y), fill=RULE_COLOUR, width=2)
            if i < len(q.answer_lines):
                indent = MARGIN_X + 25 + rng.randint(-8, 14)
                paste_hand(page, hand.render_line(q.answer_lines[i], q.hand_scale), indent, rule_y - 6)
        y += q.n_rules * RULE_GAP + 30
    draw_footer(draw, page_no, n_pages)
    return page.convert("RGB")


# --------------------------------------------------------------------- variants


def scan_effects(img: Image.Image, rng: np.random.Generator, skew: float) -> Image.Image:
    """A flatbed scan: tiny skew, slight blur, grey-ish paper, mild noise."""
    out = img.rotate(skew, resample=Image.BICUBIC, fillcolor=(250, 250, 248))
    out = out.filter(ImageFilter.GaussianBlur(0.5))
    arr = np.asarray(out).astype(np.float32) * 0.97
    arr += rng.normal(0, 4.0, arr.shape[:2])[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def phone_photo(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The page photographed on a desk: perspective, rotation, shading, noise."""
    src = np.asarray(img)
    out_w, out_h = 1400, 1900
    angle = math.radians(rng.uniform(-4, 4))
    scale = rng.uniform(0.86, 0.92)
    cx, cy = out_w / 2 + rng.uniform(-25, 25), out_h / 2 + rng.uniform(-25, 25)
    corners = np.array([[0, 0], [PAGE_W, 0], [PAGE_W, PAGE_H], [0, PAGE_H]], np.float32)
    centred = (corners - [PAGE_W / 2, PAGE_H / 2]) * scale
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    dst = centred @ rot.T + [cx, cy]
    # Perspective: the top edge is further from the camera than the bottom.
    keystone = rng.uniform(15, 35)
    dst[0, 0] += keystone
    dst[1, 0] -= keystone
    dst += rng.uniform(-10, 10, dst.shape)
    matrix = cv2.getPerspectiveTransform(corners, dst.astype(np.float32))
    warped = cv2.warpPerspective(src, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR)
    mask = (
        cv2.warpPerspective(
            np.full((PAGE_H, PAGE_W), 255, np.uint8), matrix, (out_w, out_h), flags=cv2.INTER_LINEAR
        ).astype(np.float32)[..., None]
        / 255.0
    )
    desk = np.empty((out_h, out_w, 3), np.float32)
    desk[:] = rng.choice([[112, 86, 62], [80, 82, 88], [150, 140, 125]])
    desk += rng.normal(0, 6, (out_h, out_w, 1))
    photo = warped.astype(np.float32) * mask + desk * (1 - mask)
    # Uneven lighting: a linear gradient and a soft blob of shadow.
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    gx, gy = rng.uniform(-1, 1, 2)
    gradient = 1.0 - 0.22 * ((gx * xx / out_w + gy * yy / out_h) - min(gx, 0) - min(gy, 0)) / (abs(gx) + abs(gy) + 1e-6)
    sx, sy = rng.uniform(0.2, 0.8) * out_w, rng.uniform(0.2, 0.8) * out_h
    shadow = 1.0 - 0.18 * np.exp(-(((xx - sx) / (out_w * 0.35)) ** 2 + ((yy - sy) / (out_h * 0.3)) ** 2))
    photo *= (gradient * shadow)[..., None]
    photo *= np.array([1.0, 0.98, 0.93])  # warm indoor light
    photo += rng.normal(0, 5.0, photo.shape)
    photo = cv2.GaussianBlur(np.clip(photo, 0, 255).astype(np.uint8), (3, 3), 0.7)
    return Image.fromarray(photo)


def jpeg_bytes(img: Image.Image, quality: int, exif: Image.Exif | None = None) -> bytes:
    buf = io.BytesIO()
    kwargs = {"quality": quality, "optimize": True}
    if exif is not None:
        kwargs["exif"] = exif.tobytes()
    img.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def typed_pdf(path: Path, spec: ScriptSpec, standard: Standard, pages: list[PageLayout]) -> None:
    """A typed answer sheet with a real text layer (reportlab)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    width, height = A4
    scale = width / PAGE_W  # layout pixels -> points
    pdf = canvas.Canvas(str(path), pagesize=A4, invariant=1)  # invariant: reproducible bytes
    pdf.setTitle(f"Care Certificate Quiz - Standard {standard.id}")
    for page_no, layout in enumerate(pages, start=1):

        def at(y_px: float) -> float:
            return height - y_px * scale

        pdf.setFont("Helvetica-Bold", 44 * scale)
        pdf.drawString(MARGIN_X * scale, at(110), "Care Certificate Quiz")
        pdf.setFont("Helvetica-Bold", 30 * scale)
        pdf.drawString(MARGIN_X * scale, at(168), clean_text(f"Standard {standard.id}: {standard.title}"))
        y = HEADER_BOTTOM_NEXT
        if page_no == 1:
            pdf.setFont("Helvetica", 28 * scale)
            pdf.drawString(MARGIN_X * scale, at(260), f"Name: {spec.student}")
            y = HEADER_BOTTOM_FIRST
        for q in layout.questions:
            pdf.setFont("Helvetica", QUESTION_SIZE * scale)
            for line in q.question_lines:
                pdf.drawString(MARGIN_X * scale, at(y + 26), line)
                y += QUESTION_LEADING
            y += 8
            pdf.setFont("Courier", 28 * scale)
            for i in range(q.n_rules):
                rule_y = y + (i + 1) * RULE_GAP
                pdf.setStrokeColorRGB(0.67, 0.72, 0.8)
                pdf.line(MARGIN_X * scale, at(rule_y), (PAGE_W - MARGIN_X) * scale, at(rule_y))
                if i < len(q.answer_lines):
                    pdf.drawString((MARGIN_X + 25) * scale, at(rule_y - 8), q.answer_lines[i])
            y += q.n_rules * RULE_GAP + 30
        pdf.setFont("Helvetica", 22 * scale)
        pdf.drawCentredString(width / 2, at(1712), f"Page {page_no} of {len(pages)}")
        pdf.showPage()
    pdf.save()


# ------------------------------------------------------------------------- main


def page_truth(layout: PageLayout, page_no: int, spec: ScriptSpec) -> dict:
    return {
        "page": page_no,
        "student_name": spec.student if page_no == 1 else None,
        "questions": [
            {
                "number": q.item.number,
                "question": clean_text(q.item.question),
                "answer": q.answer,
                "quality": q.quality,
            }
            for q in layout.questions
        ],
    }


def typed_measure(text: str, scale: float = 1.0) -> float:
    """Width of a typed answer line (DejaVu Sans stands in for Courier)."""
    return printed(28).getlength(text) * 1.05 * scale


def generate(standards: list[Standard], out: Path, standards_path: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.suffix.lower() in {".png", ".jpg", ".pdf"} or old.name == "manifest.json":
            old.unlink()
    files: list[dict] = []
    for index, spec in enumerate(SCRIPTS):
        rng = random.Random(spec.seed)
        np_rng = np.random.default_rng(spec.seed)
        standard = standards[index % len(standards)]
        if spec.variant == "typed_pdf":
            pages = plan_script(spec, standard, typed_measure, rng)
            name = f"{spec.script_id}_std{standard.id:02d}_typed.pdf"
            typed_pdf(out / name, spec, standard, pages)
            files.append(
                manifest_entry(
                    name,
                    spec,
                    standard,
                    "Helvetica/Courier (typed)",
                    "typed",
                    None,
                    [page_truth(p, i, spec) for i, p in enumerate(pages, 1)],
                )
            )
            continue
        font_spec = FONTS[spec.font]
        hand = Hand(
            ImageFont.truetype(str(font_path(font_spec)), spec.size),
            spec.size,
            spec.slant,
            INKS[spec.ink],
            rng,
        )
        pages = plan_script(spec, standard, hand.measure, rng)
        images = [
            render_page(spec, standard, layout, i, len(pages), hand, rng) for i, layout in enumerate(pages, start=1)
        ]
        stem = f"{spec.script_id}_std{standard.id:02d}_{spec.font}"
        if spec.variant == "scanned_pdf":
            scans = [scan_effects(img, np_rng, float(np_rng.uniform(-0.8, 0.8))).convert("L") for img in images]
            name = f"{stem}_scan.pdf"
            scans[0].save(
                out / name,
                "PDF",
                resolution=DPI,
                save_all=True,
                append_images=scans[1:],
                creationDate=FIXED_DATE,  # reproducible bytes
                modDate=FIXED_DATE,
            )
            files.append(
                manifest_entry(
                    name,
                    spec,
                    standard,
                    spec.font,
                    font_spec.style,
                    font_spec.package,
                    [page_truth(p, i, spec) for i, p in enumerate(pages, 1)],
                )
            )
            continue
        for page_no, (layout, img) in enumerate(zip(pages, images, strict=True), start=1):
            truth = [page_truth(layout, page_no, spec)]
            if spec.variant == "clean":
                name = f"{stem}_p{page_no}.png"
                img.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(out / name, optimize=True)
            elif spec.variant == "phone":
                name = f"{stem}_p{page_no}_phone.jpg"
                (out / name).write_bytes(jpeg_bytes(phone_photo(img, np_rng), quality=72))
            elif spec.variant == "exif":
                name = f"{stem}_p{page_no}_exif6.jpg"
                exif = Image.Exif()
                exif[0x0112] = 6  # Orientation: rotate 90 CW to display
                stored = img.transpose(Image.Transpose.ROTATE_90)
                (out / name).write_bytes(jpeg_bytes(stored, quality=85, exif=exif))
            else:
                raise ValueError(f"unknown variant {spec.variant}")
            files.append(manifest_entry(name, spec, standard, spec.font, font_spec.style, font_spec.package, truth))
    manifest = {
        "description": "Synthetic handwritten Care Certificate quiz sheets; ground truth per page.",
        "generator": "scripts/make_answer_sheets.py",
        "standards_source": str(standards_path.relative_to(REPO_ROOT))
        if standards_path.is_relative_to(REPO_ROOT)
        else standards_path.name,
        "dpi": DPI,
        "files": files,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def manifest_entry(
    name: str,
    spec: ScriptSpec,
    standard: Standard,
    font: str,
    style: str,
    package: str | None,
    pages: list[dict],
) -> dict:
    return {
        "file": name,
        "script": spec.script_id,
        "standard": standard.id,
        "standard_title": clean_text(standard.title),
        "student_name": spec.student,
        "font": font,
        "font_package": package,
        "style": style,
        "variant": spec.variant,
        "ink": spec.ink,
        "pages": pages,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--standards", type=Path, default=DEFAULT_STANDARDS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    check_fonts()
    standards = load_standards(args.standards.resolve())
    manifest = generate(standards, args.out.resolve(), args.standards.resolve())
    total = sum(f.stat().st_size for f in args.out.iterdir())
    n_pages = sum(len(f["pages"]) for f in manifest["files"])
    print(f"wrote {len(manifest['files'])} files, {n_pages} pages, {total / 1e6:.1f} MB to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
