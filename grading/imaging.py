"""Image helpers that need no Django, so the file sandbox's child processes can use them: the image as a person sees it
(``flatten``) and the same file without location, camera or editing metadata (``without_metadata``).

Metadata is removed without re-encoding where the format allows it: a JPEG keeps its compressed picture data and
loses its EXIF, XMP, IPTC/Photoshop and comment segments and anything appended after the end of the image (phones put
depth maps and previews there, with EXIF of their own); a PNG loses its text, time and EXIF chunks. The one EXIF field
kept is the orientation, rewritten alone, so that every reader still turns the page upright. GIF and WebP pages are
re-encoded as PNG, upright, with nothing but pixels.
"""

from __future__ import annotations

import io
import re
import struct
import zlib

from PIL import Image, ImageOps

ORIENTATION = 0x0112

# JPEG markers after which entropy-coded data ends: 0xFF followed by anything but a stuffed zero, a restart marker or
# another fill byte.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# PNG chunks that carry pixels or how to show them; everything else (tEXt, zTXt, iTXt with XMP, eXIf, tIME, private
# chunks) is dropped.
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"bKGD", b"pHYs"}


def flatten(image: Image.Image) -> Image.Image:
    """The image as a person sees it, in 8 bits: transparency over white paper (a transparent PNG would otherwise turn
    black), 16-bit greys scaled down (converting them directly clips every value above 255 to white), CMYK and the
    rest in RGB. RGB, L and opaque palette images come back unchanged."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode == "F":
        return image.convert("L")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGB", rgba.size, "white")
        paper.paste(rgba, mask=rgba.getchannel("A"))
        return paper
    if image.mode not in ("RGB", "L", "P", "1"):
        return image.convert("RGB")
    return image


def _orientation_exif(orientation: int) -> bytes:
    """A TIFF block (with JPEG's ``Exif\\0\\0`` prefix) holding only the orientation."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return exif.tobytes()


def _keep_jpeg_segment(marker: int, body: bytes) -> bool:
    if marker == 0xE0:
        return body.startswith(b"JFIF\x00")
    if marker == 0xE2:
        return body.startswith(b"ICC_PROFILE\x00")  # colour; MPF (secondary images) goes
    if marker == 0xEE:
        return body.startswith(b"Adobe")  # tells the decoder how colours were transformed
    return not (0xE0 <= marker <= 0xEF or marker == 0xFE)  # other APPn (EXIF, XMP, IPTC, ...) and comments go


def _jpeg_without_metadata(data: bytes, orientation: int) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    kept: list[bytes] = []
    dropped = False
    position = 2
    while position < len(data):
        if data[position] != 0xFF:
            raise ValueError("JPEG segment does not start with a marker")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xD9:  # end of image: whatever follows (appended previews, depth maps) is dropped
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            kept.append(data[position : position + 2])
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        end = position + 2 + length
        if _keep_jpeg_segment(marker, data[position + 4 : end]):
            kept.append(data[position:end])
        else:
            dropped = True
        position = end
        if marker == 0xDA:  # start of scan: the compressed picture runs to the next real marker
            found = _NEXT_MARKER.search(data, position)
            scan_end = found.start() if found else len(data)
            kept.append(data[position:scan_end])
            position = scan_end
    if not dropped and position + 2 >= len(data):
        return data  # nothing to remove: the very same bytes, so the caller can keep the file as it is
    header = [b"\xff\xd8"]
    if kept and kept[0][:2] == b"\xff\xe0":  # JFIF's APP0 stays first
        header.append(kept.pop(0))
    if orientation in range(2, 9):
        exif = _orientation_exif(orientation)
        header.append(b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif)
    return b"".join(header + kept + [b"\xff\xd9"])


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png_without_metadata(data: bytes, orientation: int) -> bytes:
    out = [data[:8]]
    dropped = False
    position = 8
    while position + 8 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if kind == b"IDAT" and orientation in range(2, 9) and out[-1][4:8] != b"IDAT":
            out.append(_png_chunk(b"eXIf", _orientation_exif(orientation)[6:]))  # PNG's eXIf has no Exif\0\0 prefix
        if kind in _PNG_KEEP:
            out.append(data[position:end])
        else:
            dropped = True
        position = end
        if kind == b"IEND":
            break
    if not dropped and position >= len(data):
        return data  # nothing to remove (an eXIf with the orientation would have been dropped and rewritten)
    return b"".join(out)


def without_metadata(data: bytes, image: Image.Image) -> tuple[bytes, str]:
    """``data`` (the file ``image`` was opened from) without metadata, and its format ("PNG" or "JPEG"). When there
    is nothing to remove, the bytes returned are ``data`` itself."""
    orientation = image.getexif().get(ORIENTATION, 1)
    if image.format == "JPEG":
        return _jpeg_without_metadata(data, orientation), "JPEG"
    if image.format == "PNG":
        return _png_without_metadata(data, orientation), "PNG"
    image.seek(0)
    upright = flatten(ImageOps.exif_transpose(image))
    buffer = io.BytesIO()
    upright.save(buffer, format="PNG")
    return buffer.getvalue(), "PNG"
