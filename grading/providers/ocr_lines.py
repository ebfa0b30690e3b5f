"""Text-line geometry for the offline reader: detected boxes, grouped into reading-order lines."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Box:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str = ""
    score: float = 0.0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass
class Line:
    boxes: list[Box] = field(default_factory=list)
    text: str = ""
    score: float = 0.0

    @property
    def x0(self) -> float:
        return min(b.x0 for b in self.boxes)

    @property
    def x1(self) -> float:
        return max(b.x1 for b in self.boxes)

    @property
    def y0(self) -> float:
        return float(np.median([b.y0 for b in self.boxes]))

    @property
    def y1(self) -> float:
        return float(np.median([b.y1 for b in self.boxes]))


def group_lines(boxes: list[Box]) -> list[Line]:
    """Group boxes whose vertical extents overlap into lines, top to bottom."""
    lines: list[Line] = []
    for box in sorted(boxes, key=lambda b: b.cy):
        best, best_overlap = None, 0.0
        for line in lines[-4:]:
            top, bottom = max(box.y0, line.y0), min(box.y1, line.y1)
            overlap = (bottom - top) / max(1.0, min(box.height, line.y1 - line.y0))
            if overlap > best_overlap:
                best, best_overlap = line, overlap
        if best is not None and best_overlap > 0.5:
            best.boxes.append(box)
        else:
            lines.append(Line([box]))
    for line in lines:
        line.boxes.sort(key=lambda b: b.x0)
    lines.sort(key=lambda ln: (ln.y0 + ln.y1) / 2)
    return lines


def split_at_gaps(line: Line) -> list[Line]:
    """Split a line where a wide gap separates its boxes (e.g. "Name:" | name)."""
    height = max(1.0, line.y1 - line.y0)
    parts = [Line([line.boxes[0]])]
    for box in line.boxes[1:]:
        if box.x0 - parts[-1].x1 > 1.2 * height:
            parts.append(Line([box]))
        else:
            parts[-1].boxes.append(box)
    return parts


def join_boxes(line: Line, parts: list[Box] | list[Line] | None = None) -> None:
    texts = [b for b in (line.boxes if parts is None else parts) if b.text]
    line.text = " ".join(b.text for b in texts)
    total = sum(len(b.text) for b in texts)
    line.score = sum(b.score * len(b.text) for b in texts) / total if total else 0.0
