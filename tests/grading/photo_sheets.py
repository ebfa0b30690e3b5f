"""Photographed-looking Standard 3 answer sheets, made at test time with Pillow: printed header, "Name:" line and
numbered questions (the shipped Standard 3 scheme's), answers in a handwriting font, then the page put on a desk,
turned a little, lit unevenly, blurred and saved as a phone's JPEG. Also the bad inputs: a blank page, a sheet
upside down, a photo of something that is not a quiz."""

from __future__ import annotations

import io
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageFilter, ImageFont

STANDARD_3 = {
    1: "What does duty of care mean?",
    2: "Give an example of a dilemma between a person's rights and your duty of care.",
    3: "What should you do if someone makes a complaint to you?",
}
FONTS = Path("/usr/share/fonts")
PRINTED = FONTS / "truetype/dejavu/DejaVuSans.ttf"
HAND = FONTS / "truetype/tlwg/Purisa.ttf"
W, H = 1240, 1754


def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path if path.exists() else PRINTED), size)


def _page(name: str | None, answers: dict[int, str], questions: dict[int, str]) -> Image.Image:
    page = Image.new("RGB", (W, H), (250, 249, 245))
    draw = ImageDraw.Draw(page)
    printed, bold, hand = _font(PRINTED, 28), _font(PRINTED, 40), _font(HAND, 34)
    draw.text((95, 70), "Care Certificate Quiz", font=bold, fill=(20, 20, 20))
    draw.text((95, 140), "Standard 3: Duty of care", font=printed, fill=(20, 20, 20))
    draw.text((95, 220), "Name:", font=printed, fill=(20, 20, 20))
    if name:
        draw.text((230, 210), name, font=hand, fill=(25, 40, 120))
    y = 320
    for number, question in questions.items():
        draw.text((95, y), f"{number}. {question}", font=printed, fill=(20, 20, 20))
        y += 70
        for line in _wrap(answers.get(number, ""), hand, W - 220):
            draw.text((110, y), line, font=hand, fill=(25, 40, 120))
            y += 62
        y += 50
    return page


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, current = [], ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if font.getlength(candidate) > width and current:
            lines.append(current)
            current = word
        else:
            current = candidate
    return [*lines, current] if current else lines


def _photographed(page: Image.Image, turn: float = 1.2) -> Image.Image:
    """On a desk, turned a little, darker towards one corner, slightly out of focus."""
    desk = Image.new("RGB", (W + 160, H + 160), (96, 80, 64))
    desk.paste(page.rotate(turn, resample=Image.BICUBIC, expand=False, fillcolor=(96, 80, 64)), (80, 80))
    shade = Image.linear_gradient("L").resize(desk.size).point(lambda v: 255 - v // 5)
    lit = Image.composite(desk, Image.new("RGB", desk.size, (0, 0, 0)), shade)
    return lit.filter(ImageFilter.GaussianBlur(0.8))


def _jpeg(image: Image.Image, filename: str) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return SimpleUploadedFile(filename, buffer.getvalue(), content_type="image/jpeg")


def sheet_photo(filename: str, name: str | None, answers: dict[int, str], questions=STANDARD_3, turn=1.2):
    return _jpeg(_photographed(_page(name, answers, questions), turn), filename)


def upside_down_photo(filename: str, name: str, answers: dict[int, str]):
    return _jpeg(_photographed(_page(name, answers, STANDARD_3)).rotate(180), filename)


def blank_photo(filename: str):
    return _jpeg(_photographed(Image.new("RGB", (W, H), (250, 249, 245))), filename)


def not_a_quiz_photo(filename: str):
    """A shopping list on a fridge: words, no name line, no numbered questions."""
    page = Image.new("RGB", (W, H), (250, 249, 245))
    draw = ImageDraw.Draw(page)
    hand = _font(HAND, 44)
    for row, item in enumerate(["Shopping", "milk and bread", "tomatoes", "washing powder", "birthday card"]):
        draw.text((140, 200 + row * 110), item, font=hand, fill=(25, 40, 120))
    return _jpeg(_photographed(page, turn=-2.0), filename)
