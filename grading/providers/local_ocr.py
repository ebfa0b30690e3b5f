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
   the RapidOCR defaults, no angle classifier) on the page fitted within
   1400 px (a sixth less CPU than full size, no loss of recall measured).
3. Boxes are grouped into text lines (split only at wide gaps, such as
   between the printed "Name:" and the handwritten name), and each line is
   recognised in one crop, so the recogniser sees word context and spacing.
   Crops are stretched 1.3x horizontally (handwriting is narrower than the
   print the model was trained on) and recognised one at a time (batching,
   which pads every crop to the widest in the batch, made results depend on
   the neighbours; extra blank padding to the right cost a third more CPU
   for about one point of recall on photographed sheets).
4. CTC decoding restricted to Latin characters, so the recogniser's ~6,600
   CJK classes can never be emitted for an unclear letter; word spaces are
   taken from the gaps in the ink (:mod:`grading.providers.ocr_words`), as
   the model drops most of them.
5. Reading-order lines are split into questions: a line starting with a
   printed ``N.`` / ``N)`` / ``QN`` opens a question whose text runs to its
   ``?`` (or the end of the printed line); the lines below it, up to the next
   question, are the answer.

Step 1 lives in :mod:`grading.providers.ocr_prepare`, the line grouping of
step 3 in :mod:`grading.providers.ocr_lines`, step 5 (and the name and
standard lines) in :mod:`grading.providers.ocr_layout`; this module holds the
engine, detection and recognition.

The engine is a module-level lazy singleton guarded by a lock; inference is
serialised because the detector keeps per-call state.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from grading.providers import ocr_words
from grading.providers.ocr_layout import OcrQuestion, read_header, split_questions
from grading.providers.ocr_lines import Box, Line, group_lines, join_boxes, split_at_gaps
from grading.providers.ocr_prepare import prepare

if TYPE_CHECKING:
    from PIL import Image
    from rapidocr_onnxruntime import RapidOCR


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
    rec_pad: float = 1.0  # recogniser input width as a multiple of the crop's
    crop_pad: float = 0.1  # vertical margin around a line, as a fraction of its height
    page_width: int = 1240  # the page is resized to this width first
    det_side: int = 1400  # detection on the page fitted within this many pixels (0: RapidOCR's own sizing)
    word_gap: float = 0.2  # a gap in the ink this wide (x line height) is a word space (ocr_words); 0: none


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
    det_side=0,
    word_gap=0.0,
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

                # One thread per model: inference is serialised (_INFER_LOCK) and ONNX Runtime's second thread spins
                # while it waits, which on a busy 2-core host costs more CPU a page than it saves in time
                # (measured with scripts/measure_local_reading.py; the figures are in BENCHMARKS.md).
                _ENGINE = RapidOCR(print_verbose=False, intra_op_num_threads=1, inter_op_num_threads=1)
    return _ENGINE


_LATIN_MASK: np.ndarray | None = None


def _latin_mask(characters: list[str]) -> np.ndarray:
    global _LATIN_MASK
    if _LATIN_MASK is None or _LATIN_MASK.shape[0] != len(characters):
        mask = np.array([c in _LATIN for c in characters], dtype=bool)
        mask[0] = True  # CTC blank
        _LATIN_MASK = mask
    return _LATIN_MASK


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
        if not options.word_gap:
            results.append(_decode(preds, characters, options.latin_only)[0])
            continue
        mask = _latin_mask(characters) if options.latin_only else None
        chars = ocr_words.decode(preds[0], characters, mask)
        gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
        resized = min(norm.shape[2], math.ceil(img_h * ratio))
        results.append(
            ocr_words.spaced(
                chars,
                ocr_words.ink_gaps(gray, options.word_gap * options.rec_stretch),
                norm.shape[2] * crop.shape[1] / resized,
            )
        )
    return results


def _detect(page: np.ndarray, options: OcrOptions) -> list[Box]:
    engine = _engine()
    det = engine.text_det
    det.postprocess_op.box_thresh = options.box_thresh
    det.postprocess_op.unclip_ratio = options.unclip_ratio
    # The detector runs at full size above 736 px; handwriting is big enough to find at a smaller size, for less CPU.
    scale = min(1.0, options.det_side / max(page.shape[:2])) if options.det_side else 1.0
    if scale < 1.0:
        page = cv2.resize(page, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    boxes, _ = det(page)
    if boxes is None or len(boxes) == 0:
        return []
    return [
        Box(*(float(v) / scale for v in (b[:, 0].min(), b[:, 1].min(), b[:, 0].max(), b[:, 1].max()))) for b in boxes
    ]


def _crop(page: np.ndarray, x0: float, y0: float, x1: float, y1: float, pad: float) -> np.ndarray:
    h, w = page.shape[:2]
    pad_y = (y1 - y0) * pad
    pad_x = 6 + (y1 - y0) * 0.1
    top, bottom = max(0, int(y0 - pad_y)), min(h, int(y1 + pad_y) + 1)
    left, right = max(0, int(x0 - pad_x)), min(w, int(x1 + pad_x) + 1)
    return page[top:bottom, left:right]


def _read_lines(gray: np.ndarray, options: OcrOptions) -> list[Line]:
    page = cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    with _INFER_LOCK:
        if options.stock_engine:
            return _read_lines_raw(page, options)
        boxes = _detect(page, options)
        lines = group_lines(boxes)
        if options.line_level:
            parts = [split_at_gaps(ln) for ln in lines]
            segments = [seg for line_parts in parts for seg in line_parts]
            crops = [_crop(page, seg.x0, seg.y0, seg.x1, seg.y1, options.crop_pad) for seg in segments]
            for seg, (text, score) in zip(segments, _recognise(crops, options), strict=True):
                seg.text, seg.score = " ".join(text.split()), score
            for line, line_parts in zip(lines, parts, strict=True):
                join_boxes(line, line_parts)
        else:
            crops = [_crop(page, b.x0, b.y0, b.x1, b.y1, options.crop_pad) for b in boxes]
            for box, (text, score) in zip(boxes, _recognise(crops, options), strict=True):
                box.text, box.score = text.strip(), score
            for line in lines:
                join_boxes(line)
    return [ln for ln in lines if ln.text and ln.score >= options.text_score]


def _read_lines_raw(page: np.ndarray, options: OcrOptions) -> list[Line]:
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
            Box(
                float(pts[:, 0].min()),
                float(pts[:, 1].min()),
                float(pts[:, 0].max()),
                float(pts[:, 1].max()),
                text.strip(),
                float(score),
            )
        )
    lines = group_lines(boxes)
    for line in lines:
        join_boxes(line)
    return lines


def transcribe_page(
    image: Image.Image, options: OcrOptions | None = None, expected: dict[int, str] | None = None
) -> PageTranscription:
    """Transcribe one answer-sheet page (already EXIF-transposed, RGB); ``expected``: the mark scheme's questions
    (number → text), which anchor the question boundaries when given."""
    options = options or OcrOptions()
    page = prepare(image, options)
    lines = _read_lines(page, options)

    student_name, standard = read_header(lines)
    questions = split_questions(lines, expected or {})
    chars = sum(len(ln.text) for ln in lines)
    confidence = sum(ln.score * len(ln.text) for ln in lines) / chars if chars else 0.0
    return PageTranscription(
        student_name=student_name,
        standard=standard,
        questions=questions,
        text="\n".join(ln.text for ln in lines),
        confidence=round(confidence, 3),
    )


__all__ = ["OcrOptions", "OcrQuestion", "PageTranscription", "RAW_OPTIONS", "transcribe_page"]
