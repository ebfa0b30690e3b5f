"""Word spaces from the ink, for the recogniser's CTC output.

RapidOCR's PP-OCRv4 recogniser was trained mostly on Chinese text, where spaces are rare: on handwriting (and on
small print) it reads the letters of a line well but drops most of the spaces ("Awrkingrelaticnshipisprefessicnal"),
and then hardly a word matches. The gaps between words are plain to see in the image, though: this module decodes
the CTC output with the input column of every character, finds the columns with no ink across the middle band of the
line (where every letter has ink; the band skips a ruled line, ascenders and descenders), and puts a space between
two characters when a gap wider than ``min_gap`` × the line's height lies between them.

Pure numpy/OpenCV; measured on ``scripts/measure_local_reading.py``'s dev part.
"""

from __future__ import annotations

import cv2
import numpy as np

_NO_SPACE_BEFORE = set(".,;:!?)'\"")


def decode(preds: np.ndarray, characters: list[str], mask: np.ndarray | None) -> list[tuple[str, float, float]]:
    """Greedy CTC decoding of one line: (character, probability, centre as a fraction of the input width)."""
    if mask is not None:
        preds = np.where(mask[None, :], preds, 0.0)
    indices = preds.argmax(axis=1)
    probs = preds.max(axis=1)
    steps = len(indices)
    out, previous = [], -1
    for step, (idx, prob) in enumerate(zip(indices, probs, strict=True)):
        if idx != previous and idx != 0:
            out.append((characters[idx], float(prob), (step + 0.5) / steps))
        previous = idx
    return out


def ink_gaps(gray: np.ndarray, min_gap: float) -> list[float]:
    """Centres (in columns) of the ink-free runs at least ``min_gap`` × the crop's height wide, between ink."""
    height = gray.shape[0]
    band = gray[int(height * 0.2) : max(int(height * 0.2) + 1, int(height * 0.8))]
    threshold, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink = (band < threshold).any(axis=0)
    columns = np.flatnonzero(ink)
    if len(columns) < 2:
        return []
    gaps = []
    widths = np.diff(columns)
    for i in np.flatnonzero(widths > max(2.0, min_gap * height)):
        gaps.append((columns[i] + columns[i + 1]) / 2)
    return gaps


def spaced(chars: list[tuple[str, float, float]], gaps: list[float], text_width: float) -> tuple[str, float]:
    """The line's text with a space wherever an ink gap lies between two characters, and its mean probability.

    ``text_width``: how many columns of the crop the recogniser's full input width stands for (the text is resized to
    the input's height and padded on the right, so one input column is ``text_width`` / input width crop columns)."""
    text: list[str] = []
    previous = None
    for char, _, centre in chars:
        column = centre * text_width
        if (
            previous is not None
            and char != " "
            and text[-1] != " "
            and char not in _NO_SPACE_BEFORE
            and any(previous < gap < column for gap in gaps)
        ):
            text.append(" ")
        text.append(char)
        previous = column
    score = float(np.mean([p for _, p, _ in chars])) if chars else 0.0
    return "".join(text), score
