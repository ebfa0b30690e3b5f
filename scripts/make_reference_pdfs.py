"""Generate the Care Certificate reference PDFs from reference_pdfs/source/standards.json.

Usage:
    .venv/bin/python scripts/make_reference_pdfs.py [--source PATH] [--out-dir DIR]

Writes reference_pdfs/Standard-{n}.pdf for every standard in the JSON file. Output is
byte-for-byte reproducible because reportlab's invariant mode is switched on.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, StyleSheet1, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
)

rl_config.invariant = 1

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO_ROOT / "reference_pdfs" / "source" / "standards.json"
DEFAULT_OUT_DIR = REPO_ROOT / "reference_pdfs"
FOOTER_TEXT = "QuizMarker reference material: Care Certificate Standard {number} - {title}"
AUTHOR = "QuizMarker"


def build_styles() -> StyleSheet1:
    styles = getSampleStyleSheet()
    styles.add(
        ParagraphStyle(
            "StandardTitle",
            parent=styles["Title"],
            fontSize=20,
            leading=24,
            alignment=TA_LEFT,
            spaceAfter=6 * mm,
        )
    )
    styles.add(
        ParagraphStyle(
            "OutcomeHeading",
            parent=styles["Heading2"],
            fontSize=13,
            leading=16,
            spaceBefore=5 * mm,
            spaceAfter=2 * mm,
            textColor=colors.HexColor("#1f3b5a"),
        )
    )
    styles.add(ParagraphStyle("Point", parent=styles["BodyText"], fontSize=10.5, leading=14))
    styles.add(ParagraphStyle("Intro", parent=styles["BodyText"], fontSize=11, leading=15))
    return styles


def outcome_flowables(outcome: dict[str, Any], styles: StyleSheet1) -> list[Flowable]:
    heading = Paragraph(escape(f"{outcome['number']} {outcome['heading']}"), styles["OutcomeHeading"])
    bullets = ListFlowable(
        [ListItem(Paragraph(escape(point), styles["Point"])) for point in outcome["points"]],
        bulletType="bullet",
        start="\u2022",
        leftIndent=6 * mm,
        bulletFontName="Symbol",
        bulletFontSize=9,
    )
    return [KeepTogether([heading, bullets])]


def standard_flowables(standard: dict[str, Any], styles: StyleSheet1) -> list[Flowable]:
    story: list[Flowable] = [
        Paragraph(escape(f"Standard {standard['id']}: {standard['title']}"), styles["StandardTitle"]),
        Paragraph(escape(standard["introduction"]), styles["Intro"]),
        Spacer(1, 2 * mm),
    ]
    for outcome in standard["outcomes"]:
        story.extend(outcome_flowables(outcome, styles))
    return story


def footer_painter(standard: dict[str, Any]) -> Callable[[Canvas, SimpleDocTemplate], None]:
    text = FOOTER_TEXT.format(number=standard["id"], title=standard["title"])

    def paint(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(colors.grey)
        canvas.drawString(doc.leftMargin, 12 * mm, text)
        canvas.drawRightString(A4[0] - doc.rightMargin, 12 * mm, f"Page {doc.page}")
        canvas.restoreState()

    return paint


def write_standard_pdf(standard: dict[str, Any], out_dir: Path, styles: StyleSheet1) -> Path:
    path = out_dir / f"Standard-{standard['id']}.pdf"
    doc = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=22 * mm,
        title=f"Standard {standard['id']}: {standard['title']}",
        author=AUTHOR,
        subject="Care Certificate reference material",
        creator=AUTHOR,
        invariant=1,
    )
    painter = footer_painter(standard)
    doc.build(standard_flowables(standard, styles), onFirstPage=painter, onLaterPages=painter)
    return path


def load_standards(source: Path) -> list[dict[str, Any]]:
    with source.open(encoding="utf-8") as handle:
        standards: list[dict[str, Any]] = json.load(handle)
    return standards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    styles = build_styles()
    for standard in load_standards(args.source):
        path = write_standard_pdf(standard, args.out_dir, styles)
        print(f"wrote {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}")


if __name__ == "__main__":
    main()
