"""Finding the sheet in a phone photo (grading.providers.ocr_prepare): the paper is cropped and flattened only when
its outline is a page's; an outline that follows a shadow's edge is left alone, so no text is cut off."""

from __future__ import annotations

import numpy as np
import pytest

from grading.providers.ocr_prepare import _find_sheet


def photo(paper: tuple[int, int, int, int], shadow_above: int = 0) -> np.ndarray:
    """A grey desk (1600 x 1300) with white paper at (x0, y0, x1, y1); optionally the paper above ``shadow_above`` in
    a shadow as dark as the desk."""
    image = np.full((1600, 1300), 90, np.uint8)
    x0, y0, x1, y1 = paper
    image[y0:y1, x0:x1] = 235
    image[y0:shadow_above, x0:x1] = 95
    return image


def test_an_a4_sheet_on_a_desk_is_cropped_to_the_paper():
    sheet = _find_sheet(photo((200, 150, 1100, 1423)))  # 900 x 1273: 1.41 : 1
    assert sheet is not None
    assert sheet.shape == pytest.approx((1273, 900), abs=12)


def test_a_sheet_whose_top_half_is_in_a_hard_shadow_is_not_cropped_to_its_lit_half():
    assert _find_sheet(photo((200, 150, 1100, 1423), shadow_above=560)) is None  # lit part 900 x 863: a square


def test_a_us_letter_sheet_is_a_page_too():
    sheet = _find_sheet(photo((200, 150, 1100, 1315)))  # 900 x 1165: 1.29 : 1
    assert sheet is not None
