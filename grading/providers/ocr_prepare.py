"""Page clean-up before the offline reader detects text: find the sheet in a phone photo and flatten its
perspective, divide out uneven lighting, deskew, and erase printed ruled lines. Pure image work (no Django)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from PIL import Image

    from grading.providers.local_ocr import OcrOptions


SHEET_SHAPE = (1.15, 1.75)  # a photographed page's long side : short side, with some perspective


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
    if not _plausible_sheet([tl, tr, br, bl]):
        return None
    width = int(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    height = int(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))
    src = np.array([tl, tr, br, bl], np.float32)
    dst = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(gray, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def _plausible_sheet(corners: list[np.ndarray]) -> bool:
    """A photographed sheet is a mildly distorted rectangle. A hard shadow across the paper can make the outline
    follow the shadow's edge instead: then the quadrilateral has a corner far from square or sides of very different
    lengths, and warping it would shear the text; or it outlines only the lit part of the sheet, which is no longer a
    page's shape (A4 is 1.41 : 1, US letter 1.29 : 1): cropping to it would lose the text in the shadow. The page is
    better read uncropped."""
    for i in range(4):
        a, b, c = corners[i - 1], corners[i], corners[(i + 1) % 4]
        u, v = a - b, c - b
        cosine = float(np.dot(u, v) / max(1e-6, np.linalg.norm(u) * np.linalg.norm(v)))
        if abs(cosine) > 0.26:  # more than 15 degrees from square
            return False
    sides = [float(np.linalg.norm(corners[(i + 1) % 4] - corners[i])) for i in range(4)]
    across, down = max(sides[0], sides[2]), max(sides[1], sides[3])
    return (
        min(sides[0], sides[2]) / max(1e-6, across) > 0.8
        and min(sides[1], sides[3]) / max(1e-6, down) > 0.8
        and SHEET_SHAPE[0] <= max(across, down) / max(1e-6, min(across, down)) <= SHEET_SHAPE[1]
    )


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


def prepare(image: Image.Image, options: OcrOptions) -> np.ndarray:
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
