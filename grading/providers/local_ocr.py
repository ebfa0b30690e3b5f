"""Offline transcription of handwritten quiz answer sheets with RapidOCR.

Pure Python (no Django): takes a page image that has already been
EXIF-transposed and converted to RGB, and returns the student name, the Care
Certificate standard, and each numbered question with the handwritten answer
written below it.

Pipeline (``OcrOptions()`` defaults):

1. Page clean-up on a grayscale copy: find the sheet in a phone photo and
   flatten its perspective, divide out uneven lighting, deskew by maximising
   the row-projection variance, and erase the printed ruled lines with a
   morphological opening (strokes that cross a rule are restored).
2. Text detection with the PP-OCRv4 DB detector (looser box thresholds than
   the RapidOCR defaults, no angle classifier).
3. Boxes are grouped into text lines (split only at wide gaps, such as
   between the printed "Name:" and the handwritten name), and each line is
   recognised in one crop, so the recogniser sees word context and spacing.
   Crops are stretched 1.3x horizontally (handwriting is narrower than the
   print the model was trained on) and recognised one at a time with blank
   padding to the right, which measurably helps the model; batching, which
   pads every crop to the widest in the batch, made results depend on the
   neighbours.
4. CTC decoding restricted to Latin characters, so the recogniser's ~6,600
   CJK classes can never be emitted for an unclear letter.
5. Reading-order lines are split into questions: a line starting with a
   printed ``N.`` / ``N)`` / ``QN`` opens a question whose text runs to its
   ``?`` (or the end of the printed line); the lines below it, up to the next
   question, are the answer.

The engine is a module-level lazy singleton guarded by a lock; inference is
serialised because the detector keeps per-call state.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from PIL import Image
    from rapidocr_onnxruntime import RapidOCR


@dataclass
class OcrQuestion:
    number: int
    question: str
    answer: str
    confidence: float  # 0..1, from recognition scores; low -> needs human review


@dataclass
class PageTranscription:
    student_name: str | None
    standard: int | None  # from "Standard N" on the sheet if present
    questions: list[OcrQuestion]
    text: str  # full reading-order text
    confidence: float


@dataclass(frozen=True)
class OcrOptions:
    """Tuning knobs; the defaults are the measured best pipeline."""

    stock_engine: bool = False  # RapidOCR's own det+cls+rec call (the raw baseline)
    preprocess: bool = True  # page crop, lighting, deskew, ruled-line removal
    line_level: bool = True  # recognise whole grouped lines instead of boxes
    latin_only: bool = True  # mask non-Latin characters during CTC decoding
    use_cls: bool = False  # RapidOCR's 0/180 degree angle classifier
    box_thresh: float = 0.4
    unclip_ratio: float = 1.8
    text_score: float = 0.3  # lines recognised below this are dropped
    rec_stretch: float = 1.3  # horizontal stretch of crops before recognition
    rec_pad: float = 1.5  # recogniser input width as a multiple of the crop's
    crop_pad: float = 0.1  # vertical margin around a line, as a fraction of its height
    page_width: int = 1240  # the page is resized to this width first


RAW_OPTIONS = OcrOptions(
    stock_engine=True,
    preprocess=False,
    line_level=False,
    latin_only=False,
    use_cls=True,
    box_thresh=0.5,
    unclip_ratio=1.6,
    text_score=0.5,
    rec_stretch=1.0,
    rec_pad=1.0,
    crop_pad=0.12,
    page_width=0,
)

_ENGINE: RapidOCR | None = None
_ENGINE_LOCK = threading.Lock()
_INFER_LOCK = threading.Lock()
_LATIN = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"()-/&%£+=*@#")


def _engine() -> RapidOCR:
    global _ENGINE
    if _ENGINE is None:
        with _ENGINE_LOCK:
            if _ENGINE is None:
                from rapidocr_onnxruntime import RapidOCR

                _ENGINE = RapidOCR(print_verbose=False)
    return _ENGINE


_LATIN_MASK: np.ndarray | None = None


def _latin_mask(characters: list[str]) -> np.ndarray:
    global _LATIN_MASK
    if _LATIN_MASK is None or _LATIN_MASK.shape[0] != len(characters):
        mask = np.array([c in _LATIN for c in characters], dtype=bool)
        mask[0] = True  # CTC blank
        _LATIN_MASK = mask
    return _LATIN_MASK


# ------------------------------------------------------------------ geometry


@dataclass
class _Box:
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
class _Line:
    boxes: list[_Box] = field(default_factory=list)
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


def _group_lines(boxes: list[_Box]) -> list[_Line]:
    """Group boxes whose vertical extents overlap into lines, top to bottom."""
    lines: list[_Line] = []
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
            lines.append(_Line([box]))
    for line in lines:
        line.boxes.sort(key=lambda b: b.x0)
    lines.sort(key=lambda ln: (ln.y0 + ln.y1) / 2)
    return lines


# -------------------------------------------------------------- preprocessing


def _find_sheet(gray: np.ndarray) -> np.ndarray | None:
    """Perspective-correct the paper when it lies on a darker background."""
    h, w = gray.shape
    scale = 800.0 / max(h, w)
    small = cv2.resize(gray, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
    blur = cv2.GaussianBlur(small, (5, 5), 0)
    _, mask = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    contour = max(contours, key=cv2.contourArea)
    area = cv2.contourArea(contour) / (small.shape[0] * small.shape[1])
    if not 0.3 < area < 0.93:
        return None
    approx = cv2.approxPolyDP(contour, 0.02 * cv2.arcLength(contour, True), True)
    if len(approx) != 4:
        return None
    pts = approx.reshape(4, 2).astype(np.float32) / scale
    s, d = pts.sum(axis=1), np.diff(pts, axis=1).ravel()
    tl, br, tr, bl = pts[np.argmin(s)], pts[np.argmax(s)], pts[np.argmin(d)], pts[np.argmax(d)]
    width = int(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    height = int(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))
    src = np.array([tl, tr, br, bl], np.float32)
    dst = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(gray, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def _flatten_lighting(gray: np.ndarray) -> np.ndarray:
    """Divide by a blurred background estimate so paper is white everywhere."""
    h, w = gray.shape
    small = cv2.resize(gray, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    background = cv2.morphologyEx(small, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    background = cv2.medianBlur(background, 9)
    background = cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)
    flat = gray.astype(np.float32) / np.maximum(background.astype(np.float32), 1.0)
    flat = np.clip(flat * 255.0, 0, 255)
    # Stretch so the darkest ink is black.
    low = np.percentile(flat, 0.5)
    flat = np.clip((flat - low) * 255.0 / max(1.0, 255.0 - low), 0, 255)
    return flat.astype(np.uint8)


def _skew_angle(gray: np.ndarray) -> float:
    """Angle (degrees) that makes text rows and rules horizontal."""
    h, w = gray.shape
    scale = 600.0 / w
    small = cv2.resize(gray, (600, int(h * scale)), interpolation=cv2.INTER_AREA)
    ink = (small < 180).astype(np.float32)
    centre = (small.shape[1] / 2, small.shape[0] / 2)

    def score(angle: float) -> float:
        matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
        rotated = cv2.warpAffine(ink, matrix, (small.shape[1], small.shape[0]))
        return float(np.var(rotated.sum(axis=1)))

    coarse = max(np.arange(-5.0, 5.01, 0.5), key=score)
    fine = max(np.arange(coarse - 0.5, coarse + 0.51, 0.1), key=score)
    return float(fine)


def _rotate(gray: np.ndarray, angle: float) -> np.ndarray:
    h, w = gray.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT, borderValue=255)


def _remove_rules(gray: np.ndarray) -> np.ndarray:
    """Erase long horizontal lines, keeping the strokes that cross them."""
    h, w = gray.shape
    ink = (gray < 200).astype(np.uint8)
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(40, w // 12), 1)))
    horizontal = cv2.dilate(horizontal, np.ones((3, 1), np.uint8))
    strokes = ink & (1 - horizontal)
    bridged = cv2.morphologyEx(strokes, cv2.MORPH_CLOSE, np.ones((9, 1), np.uint8))
    erase = (horizontal == 1) & (bridged == 0)
    cleaned = gray.copy()
    cleaned[erase] = 255
    return cleaned


def _prepare(image: Image.Image, options: OcrOptions) -> np.ndarray:
    gray = np.asarray(image.convert("L"))
    if options.preprocess:
        sheet = _find_sheet(gray)
        if sheet is not None:
            gray = sheet
    if options.page_width and gray.shape[1] != options.page_width:
        scale = options.page_width / gray.shape[1]
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        gray = cv2.resize(gray, (options.page_width, int(gray.shape[0] * scale)), interpolation=interp)
    if options.preprocess:
        gray = _flatten_lighting(gray)
        angle = _skew_angle(gray)
        if abs(angle) >= 0.1:
            gray = _rotate(gray, angle)
        gray = _remove_rules(gray)
    return gray


# ------------------------------------------------------------- recognition


def _decode(preds: np.ndarray, characters: list[str], latin_only: bool) -> list[tuple[str, float]]:
    if latin_only:
        preds = np.where(_latin_mask(characters)[None, None, :], preds, 0.0)
    indices = preds.argmax(axis=2)
    probs = preds.max(axis=2)
    results = []
    for idx_row, prob_row in zip(indices, probs, strict=True):
        chars, scores, previous = [], [], -1
        for idx, prob in zip(idx_row, prob_row, strict=True):
            if idx != previous and idx != 0:
                chars.append(characters[idx])
                scores.append(prob)
            previous = idx
        text = "".join(chars)
        results.append((text, float(np.mean(scores)) if scores else 0.0))
    return results


def _recognise(crops: list[np.ndarray], options: OcrOptions) -> list[tuple[str, float]]:
    """Recognise each crop on its own (batching pads crops and changes results).

    Handwriting is narrower than the printed text the recogniser was trained
    on, so crops are stretched horizontally; blank space to the right of the
    text also measurably helps the model, so the input is padded.
    """
    rec = _engine().text_rec
    characters = rec.postprocess_op.character
    _, img_h, img_w = rec.rec_image_shape
    results = []
    for crop in crops:
        if options.rec_stretch != 1.0:
            width = max(8, int(crop.shape[1] * options.rec_stretch))
            crop = cv2.resize(crop, (width, crop.shape[0]), interpolation=cv2.INTER_CUBIC)
        ratio = crop.shape[1] / max(1, crop.shape[0])
        norm = rec.resize_norm_img(crop, max(img_w / img_h, ratio * options.rec_pad))
        preds = rec.session(norm[np.newaxis].astype(np.float32))[0]
        results.append(_decode(preds, characters, options.latin_only)[0])
    return results


def _detect(page: np.ndarray, options: OcrOptions) -> list[_Box]:
    engine = _engine()
    det = engine.text_det
    det.postprocess_op.box_thresh = options.box_thresh
    det.postprocess_op.unclip_ratio = options.unclip_ratio
    boxes, _ = det(page)
    if boxes is None or len(boxes) == 0:
        return []
    return [_Box(float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 0].max()), float(b[:, 1].max())) for b in boxes]


def _crop(page: np.ndarray, x0: float, y0: float, x1: float, y1: float, pad: float) -> np.ndarray:
    h, w = page.shape[:2]
    pad_y = (y1 - y0) * pad
    pad_x = 6 + (y1 - y0) * 0.1
    top, bottom = max(0, int(y0 - pad_y)), min(h, int(y1 + pad_y) + 1)
    left, right = max(0, int(x0 - pad_x)), min(w, int(x1 + pad_x) + 1)
    return page[top:bottom, left:right]


def _read_lines(gray: np.ndarray, options: OcrOptions) -> list[_Line]:
    page = cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    with _INFER_LOCK:
        if options.stock_engine:
            return _read_lines_raw(page, options)
        boxes = _detect(page, options)
        lines = _group_lines(boxes)
        if options.line_level:
            parts = [_segments(ln) for ln in lines]
            segments = [seg for line_parts in parts for seg in line_parts]
            crops = [_crop(page, seg.x0, seg.y0, seg.x1, seg.y1, options.crop_pad) for seg in segments]
            for seg, (text, score) in zip(segments, _recognise(crops, options), strict=True):
                seg.text, seg.score = " ".join(text.split()), score
            for line, line_parts in zip(lines, parts, strict=True):
                _join_boxes(line, line_parts)
        else:
            crops = [_crop(page, b.x0, b.y0, b.x1, b.y1, options.crop_pad) for b in boxes]
            for box, (text, score) in zip(boxes, _recognise(crops, options), strict=True):
                box.text, box.score = text.strip(), score
            for line in lines:
                _join_boxes(line)
    return [ln for ln in lines if ln.text and ln.score >= options.text_score]


def _read_lines_raw(page: np.ndarray, options: OcrOptions) -> list[_Line]:
    """RapidOCR's stock end-to-end call; boxes grouped into lines afterwards."""
    result, _ = _engine()(
        page,
        use_cls=options.use_cls,
        box_thresh=options.box_thresh,
        unclip_ratio=options.unclip_ratio,
        text_score=options.text_score,
    )
    boxes = []
    for points, text, score in result or []:
        pts = np.asarray(points, dtype=np.float32)
        boxes.append(
            _Box(
                float(pts[:, 0].min()),
                float(pts[:, 1].min()),
                float(pts[:, 0].max()),
                float(pts[:, 1].max()),
                text.strip(),
                float(score),
            )
        )
    lines = _group_lines(boxes)
    for line in lines:
        _join_boxes(line)
    return lines


def _segments(line: _Line) -> list[_Line]:
    """Split a line where a wide gap separates its boxes (e.g. "Name:" | name)."""
    height = max(1.0, line.y1 - line.y0)
    parts = [_Line([line.boxes[0]])]
    for box in line.boxes[1:]:
        if box.x0 - parts[-1].x1 > 1.2 * height:
            parts.append(_Line([box]))
        else:
            parts[-1].boxes.append(box)
    return parts


def _join_boxes(line: _Line, parts: list[_Box] | list[_Line] | None = None) -> None:
    texts = [b for b in (line.boxes if parts is None else parts) if b.text]
    line.text = " ".join(b.text for b in texts)
    total = sum(len(b.text) for b in texts)
    line.score = sum(b.score * len(b.text) for b in texts) / total if total else 0.0


# ------------------------------------------------------------------ layout

_QUESTION_START = re.compile(
    r"^\s*(?:Q(?:uestion)?\s*(?P<q>\d{1,2})\s*[.):]?|(?P<n>\d{1,2})\s*[.)])\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_STANDARD = re.compile(r"\bStandard\s*(\d{1,2})\b", re.IGNORECASE)
_NAME = re.compile(r"^\s*Name\s*[:;.,]?\s*(?P<name>.*)$", re.IGNORECASE)
_FOOTER = re.compile(r"^\s*Page\s*\d+\s*(?:of\s*\d+)?\s*$", re.IGNORECASE)


@dataclass
class _OpenQuestion:
    number: int
    text: str
    score: float
    line: _Line
    complete: bool  # its "?" has been read
    answer: list[_Line] = field(default_factory=list)

    def result(self) -> OcrQuestion:
        chars = sum(len(ln.text) for ln in self.answer)
        score = sum(ln.score * len(ln.text) for ln in self.answer) / chars if chars else self.score
        answer = " ".join(ln.text for ln in self.answer)
        return OcrQuestion(self.number, self.text, answer, round(score, 3))


def _question_start(line: _Line, previous: int | None) -> tuple[int, str] | None:
    """(number, rest of line) when the line opens the next question."""
    match = _QUESTION_START.match(line.text)
    if match is None:
        return None
    number = int(match.group("q") or match.group("n"))
    # Numbers run upwards; a handwritten "2." inside an answer list is not
    # taken for a new question unless it follows on from the current one.
    if number < 1 or (previous is not None and not previous < number <= previous + 3):
        return None
    return number, match.group("rest").strip()


def _split_questions(lines: list[_Line]) -> list[OcrQuestion]:
    done: list[OcrQuestion] = []
    current: _OpenQuestion | None = None
    for line in lines:
        if _FOOTER.match(line.text):
            continue
        start = _question_start(line, current.number if current else None)
        if start is not None:
            if current is not None:
                done.append(current.result())
            number, rest = start
            head, mark, tail = rest.partition("?")
            current = _OpenQuestion(number, head.strip() + mark, line.score, line, bool(mark))
            if tail.strip():
                current.answer.append(_Line(line.boxes, tail.strip(), line.score))
            continue
        if current is None:
            continue
        if not current.complete and current.answer == []:
            # A printed question wrapped onto a second, tightly spaced line
            # (answers sit on ruled lines further down).
            height = current.line.y1 - current.line.y0
            gap = line.y0 - current.line.y1
            if gap < 0.5 * height and abs(line.x0 - current.line.x0) < 0.8 * height:
                head, mark, tail = line.text.partition("?")
                current.text = f"{current.text} {head.strip()}{mark}"
                current.line = line
                current.complete = bool(mark)
                if tail.strip():
                    current.answer.append(_Line(line.boxes, tail.strip(), line.score))
                continue
            current.complete = True
        current.answer.append(line)
    if current is not None:
        done.append(current.result())
    return done


def transcribe_page(image: Image.Image, options: OcrOptions | None = None) -> PageTranscription:
    """Transcribe one answer-sheet page (already EXIF-transposed, RGB)."""
    options = options or OcrOptions()
    page = _prepare(image, options)
    lines = _read_lines(page, options)

    standard = None
    student_name = None
    for line in lines:
        if standard is None and (m := _STANDARD.search(line.text)):
            standard = int(m.group(1))
        if student_name is None and (m := _NAME.match(line.text)):
            name = m.group("name").strip(" :;.,")
            student_name = name or None
    questions = _split_questions(lines)
    chars = sum(len(ln.text) for ln in lines)
    confidence = sum(ln.score * len(ln.text) for ln in lines) / chars if chars else 0.0
    return PageTranscription(
        student_name=student_name,
        standard=standard,
        questions=questions,
        text="\n".join(ln.text for ln in lines),
        confidence=round(confidence, 3),
    )
