"""Generate the bad-input corpus in tests/fixtures/bad_inputs/ (committed) and its manifest.json.

    .venv/bin/python scripts/make_bad_inputs.py

Every case names what is sent (files from this folder, form fields or a JSON body) and the answer the API contract
promises: the status, the machine code and a word or two the sentence must contain. Output is deterministic, so
re-running it changes nothing unless this script changed. Cases too big to commit (a 17 MB file, 21 files) are
described here and built by the test at run time.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zlib
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "bad_inputs"


# --- Building blocks ------------------------------------------------------------------------------


def sheet_image(width: int = 900, height: int = 1200) -> Image.Image:
    """A small answer sheet with writing on it, good enough for every check and for the fake AI provider."""
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for y in range(60, height - 60, 45):
        draw.text((50, y), "1. What is duty of care? Keeping the people I support safe from harm.", fill=0)
    return image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def solid_png(width: int, height: int, rows: int | None = None) -> bytes:
    """A 1-bit PNG of one colour written row by row (never held in memory), optionally with only `rows` rows of
    data: a huge declared size in a few kilobytes."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height if rows is None else rows)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


def pdf_from_objects(objects: list[bytes], root: int = 1, extra_trailer: bytes = b"") -> bytes:
    """A hand-written PDF with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        root,
        extra_trailer,
        xref,
    )
    return bytes(out)


def text_page_objects(text: bytes, extra_catalog: bytes = b"") -> list[bytes]:
    stream = b"BT /F1 18 Tf 72 720 Td (" + text + b") Tj ET"
    return [
        b"<< /Type /Catalog /Pages 2 0 R " + extra_catalog + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]


def reportlab_pdf(pages: int, size=(612, 792), text: str | None = "1. What is duty of care?", **canvas_options):
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=size, invariant=1, **canvas_options)
    for number in range(pages):
        if text:
            pdf.setFont("Helvetica", 6 if size[0] < 200 else 14)
            pdf.drawString(10, size[1] - 20, f"{text} ({number + 1})")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def deflate_bomb_pdf(inflated_bytes: int) -> bytes:
    """A one-page PDF with a line of text whose content stream then runs on for ``inflated_bytes`` of spaces, deflated
    (about 1/1000 of that): small to send, gigabytes once a PDF library opens it, and not blank, so nothing but its
    size can refuse it. Written in chunks, so building it needs no memory."""
    compressor = zlib.compressobj(9)
    body = compressor.compress(b"BT /F1 18 Tf 72 720 Td (1. What is duty of care? Keeping people safe.) Tj ET\n")
    chunk = b" " * (1 << 20)
    body += b"".join(compressor.compress(chunk) for _ in range(inflated_bytes >> 20)) + compressor.flush()
    objects = text_page_objects(b"")
    objects[3] = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + body + b"\nendstream"
    return pdf_from_objects(objects)


def huge_page_pdf() -> bytes:
    """A few hundred bytes declaring one 14400 pt square page (200 inches, the most PDF allows) with a line of text:
    rendered at 150 dpi it would be 30000 × 30000 pixels."""
    objects = text_page_objects(b"1. What is duty of care? Keeping people safe.")
    objects[2] = objects[2].replace(b"/MediaBox [0 0 612 792]", b"/MediaBox [0 0 14400 14400]")
    return pdf_from_objects(objects)


def photo_with_location(fmt: str) -> bytes:
    """A sheet photographed sideways by a phone that wrote where and with what (EXIF GPS, make, model, serial number,
    XMP with a location): the page must come out upright, with none of that."""
    image = sheet_image().rotate(90, expand=True).convert("RGB")  # EXIF orientation 6 turns it back
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "PhoneModel 12"  # Model
    exif[0x0131] = "Camera App 1.0"  # Software
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    exif[0xA431] = "SERIAL-123456"  # BodySerialNumber
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 26.0), 3: "W", 4: (0.0, 7.0, 39.0)}  # GPS: London
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,30.44N" '
        b'exif:GPSLongitude="0,7.65W"/></rdf:RDF></x:xmpmeta>'
    )
    if fmt == "JPEG":
        return encode(image, "JPEG", quality=80, exif=exif.tobytes(), xmp=xmp, comment=b"Taken at 51.5074 N")
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp.decode())
    info.add_text("Location", "51.5074 N, 0.1278 W")
    return encode(image.convert("L"), "PNG", exif=exif.tobytes(), pnginfo=info, optimize=True)


# --- The corpus -----------------------------------------------------------------------------------

GOOD_PNG = encode(sheet_image(), "PNG", optimize=True)
GOOD_JPEG = encode(sheet_image().convert("RGB"), "JPEG", quality=60)


def files() -> dict[str, bytes]:
    """file name in the corpus -> content."""
    jpeg_middle = len(GOOD_JPEG) // 2
    png_idat = GOOD_PNG.index(b"IDAT")
    corrupt_png = bytearray(GOOD_PNG)
    corrupt_png[png_idat + 40 : png_idat + 240] = bytes(range(200))  # garbage in the compressed data
    corrupt_jpeg = bytearray(GOOD_JPEG)
    huffman = GOOD_JPEG.index(b"\xff\xc4")  # garble the Huffman tables: nothing after them can be decoded
    corrupt_jpeg[huffman + 4 : huffman + 40] = b"\xff" * 36
    cycle = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 3 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R] /Count 1 /Parent 2 0 R >>",  # pages tree 2 -> 3 -> 2 -> ...
    ]
    self_reference = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"]
    return {
        "empty.png": b"",
        "empty.pdf": b"",
        "only-whitespace.jpg": b"   \n\t  \n",
        "nul-bytes.png": b"\x00" * 4096,
        "sheet-png-named.jpg": GOOD_PNG,  # wrong extension for the content: accepted, read from the content
        "sheet-jpeg-named.pdf": GOOD_JPEG,
        "sheet-jpeg-named.txt": GOOD_JPEG,
        "windows-program.png": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 500,
        "linux-program.png": b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 500,
        "script.jpg": b"#!/bin/sh\nrm -rf / --no-preserve-root\n",
        "archive.png": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 200,
        "drawing.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><circle r="40"/></svg>',
        "drawing-as.png": b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)'
        b"</script></svg>",
        "page.html": b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
        "page-as.jpg": b"<html><head><title>x</title></head><body>hello</body></html>",
        "notes.txt": b"Question 1: Duty of care means keeping people safe.\n",
        "utf16.png": "not an image".encode("utf-16"),
        "truncated.jpg": GOOD_JPEG[:jpeg_middle],
        "truncated.png": GOOD_PNG[: len(GOOD_PNG) // 2],
        "header-only.png": GOOD_PNG[:33],
        "header-only.jpg": GOOD_JPEG[:20],
        "corrupt.png": bytes(corrupt_png),
        "corrupt.jpg": bytes(corrupt_jpeg),
        "fake-webp.webp": b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 40,
        "truncated.gif": encode(sheet_image(), "GIF")[:300],
        "bomb.png": solid_png(100_000, 100_000, rows=8),  # declares 10 gigapixels in a few kilobytes
        "huge-20000x20000.png": solid_png(20_000, 20_000),
        "one-pixel.png": encode(Image.new("L", (1, 1), 0), "PNG"),
        "one-pixel.gif": encode(Image.new("L", (1, 1), 0), "GIF"),
        "tiny-150.jpg": encode(sheet_image(150, 150).convert("RGB"), "JPEG"),
        "blank-white.png": encode(Image.new("L", (900, 1200), 255), "PNG", optimize=True),
        "blank-black.jpg": encode(Image.new("RGB", (900, 1200), 0), "JPEG"),
        "encrypted.pdf": reportlab_pdf(1, encrypt="open-sesame"),
        "javascript.pdf": pdf_from_objects(
            text_page_objects(b"Quiz", b"/OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> ")
        ),
        "launch-action.pdf": pdf_from_objects(
            text_page_objects(b"Quiz", b"/OpenAction << /S /Launch /F (calc.exe) >> ")
        ),
        "circular-pages.pdf": pdf_from_objects(cycle),
        "self-referencing-pages.pdf": pdf_from_objects(self_reference),
        "garbage-after-header.pdf": b"%PDF-1.7\n" + bytes(range(256)) * 8,
        "no-pages.pdf": pdf_from_objects(
            [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
        ),
        "500-pages.pdf": reportlab_pdf(500, size=(72, 72), text="Q"),
        "blank-pages.pdf": reportlab_pdf(3, text=None),
        "typed-one-page.pdf": pdf_from_objects(text_page_objects(b"1. What is duty of care? Keeping people safe.")),
        "sheet.png": GOOD_PNG,  # sent under hostile names
        "deflate-bomb.pdf": deflate_bomb_pdf(1 << 30),  # 1 MB that inflates to 1 GB
        "huge-page.pdf": huge_page_pdf(),
        "photo-with-location.jpg": photo_with_location("JPEG"),
        "photo-with-location.png": photo_with_location("PNG"),
    }


def case(case_id: str, status: int, code: str | None, *, words: str = "", **request) -> dict:
    return {"id": case_id, "status": status, "code": code, "words": words, **request}


def upload(case_id, file, status, code, words="", name=None, **fields):
    return case(
        case_id,
        status,
        code,
        words=words,
        endpoint="upload",
        files=[{"file": file, "name": name or file}],
        fields=fields,
    )


def cases() -> list[dict]:
    unsupported, validation, too_large = "UNSUPPORTED_FILE", "VALIDATION_ERROR", "FILE_TOO_LARGE"
    return [
        # Content checks (the type comes from the bytes, never the name)
        upload("empty-file", "empty.png", 400, validation, "empty"),
        upload("empty-pdf", "empty.pdf", 400, validation, "empty"),
        upload("only-whitespace", "only-whitespace.jpg", 415, unsupported, "not a file type"),
        upload("nul-bytes", "nul-bytes.png", 415, unsupported, "not a file type"),
        upload("png-named-jpg", "sheet-png-named.jpg", 202, None),
        upload("jpeg-named-pdf", "sheet-jpeg-named.pdf", 202, None),
        upload("jpeg-named-txt", "sheet-jpeg-named.txt", 202, None),
        upload("windows-program-as-png", "windows-program.png", 415, unsupported, "Windows program"),
        upload("linux-program-as-png", "linux-program.png", 415, unsupported, "program"),
        upload("shell-script-as-jpg", "script.jpg", 415, unsupported, "script"),
        upload("zip-as-png", "archive.png", 415, unsupported, "ZIP"),
        upload("svg", "drawing.svg", 415, unsupported, "SVG"),
        upload("svg-with-script-as-png", "drawing-as.png", 415, unsupported, "not a photo"),
        upload("html", "page.html", 415, unsupported, "web page"),
        upload("html-as-jpg", "page-as.jpg", 415, unsupported, "web page"),
        upload("plain-text", "notes.txt", 415, unsupported, "not a file type"),
        upload("utf16-text-as-png", "utf16.png", 415, unsupported, "not a file type"),
        upload("truncated-jpeg", "truncated.jpg", 415, unsupported, "damaged"),
        upload("truncated-png", "truncated.png", 415, unsupported, "damaged"),
        upload("png-header-only", "header-only.png", 415, unsupported, "damaged"),
        upload("jpeg-header-only", "header-only.jpg", 415, unsupported, "damaged"),
        upload("corrupt-png", "corrupt.png", 415, unsupported, "damaged"),
        upload("corrupt-jpeg", "corrupt.jpg", 415, unsupported, "damaged"),
        upload("fake-webp", "fake-webp.webp", 415, unsupported, "damaged"),
        upload("truncated-gif", "truncated.gif", 415, unsupported, "damaged"),
        upload("decompression-bomb", "bomb.png", 413, too_large, "megapixels"),
        upload("image-20000x20000", "huge-20000x20000.png", 413, too_large, "megapixels"),
        upload("one-pixel-png", "one-pixel.png", 400, validation, "too small"),
        upload("one-pixel-gif", "one-pixel.gif", 400, validation, "too small"),
        upload("tiny-jpeg", "tiny-150.jpg", 400, validation, "too small"),
        upload("blank-white-page", "blank-white.png", 400, validation, "blank"),
        upload("blank-black-page", "blank-black.jpg", 400, validation, "blank"),
        upload("encrypted-pdf", "encrypted.pdf", 415, unsupported, "password"),
        upload("pdf-with-javascript", "javascript.pdf", 415, unsupported, "scripts"),
        upload("pdf-with-launch-action", "launch-action.pdf", 415, unsupported, "scripts"),
        upload("pdf-circular-page-tree", "circular-pages.pdf", 415, unsupported, "pages"),
        upload("pdf-self-referencing-page-tree", "self-referencing-pages.pdf", 415, unsupported, "pages"),
        upload("pdf-garbage-after-header", "garbage-after-header.pdf", 415, unsupported, "damaged"),
        upload("pdf-without-pages", "no-pages.pdf", 415, unsupported, "cannot be opened"),
        upload("pdf-500-pages", "500-pages.pdf", 413, too_large, "at most 50"),
        upload("pdf-blank-pages", "blank-pages.pdf", 400, validation, "blank"),
        # Hostile files: a deflate bomb is refused before anything inflates it; a page claiming to be 200 inches
        # square is accepted and rendered within the pixel cap; location and camera metadata are removed
        upload("pdf-deflate-bomb", "deflate-bomb.pdf", 413, too_large, "expands to more than"),
        upload("pdf-huge-page", "huge-page.pdf", 202, None),
        upload("jpeg-with-location", "photo-with-location.jpg", 202, None),
        upload("png-with-location", "photo-with-location.png", 202, None),
        # Hostile names on good content: accepted, stored under generated names
        upload("path-traversal-name", "sheet.png", 202, None, name="../../../../etc/passwd.png"),
        upload("windows-path-traversal-name", "sheet.png", 202, None, name="..\\..\\windows\\system32\\a.png"),
        upload("absolute-path-name", "sheet.png", 202, None, name="/var/lib/quizmarker/uploads/x.png"),
        upload("unicode-name", "sheet.png", 202, None, name="Zoë Ångström — 学生 📝 quiz.png"),
        upload("control-characters-in-name", "sheet.png", 202, None, name="a\u202egnp.exe\u0007.png"),
        upload("very-long-name", "sheet.png", 202, None, name="a" * 300 + ".png"),
        upload("typed-pdf-named-png", "typed-one-page.pdf", 202, None, name="typed.png"),
        # Fields and JSON bodies
        case("upload-without-files", 400, validation, words="files", endpoint="upload", files=[], fields={}),
        upload("upload-unknown-standard", "sheet.png", 400, validation, "standard", standard_id=42),
        upload("upload-standard-not-a-number", "sheet.png", 400, validation, "", standard_id="three"),
        upload("upload-session-not-a-uuid", "sheet.png", 400, validation, "", session_id="../../etc"),
        upload(
            "upload-other-organizations-session",
            "sheet.png",
            404,
            "NOT_FOUND",
            "session",
            session_id="{beta_session_id}",
        ),
        case("grade-empty-body", 400, validation, endpoint="grade", json={}),
        case(
            "grade-missing-standard",
            400,
            validation,
            words="standard",
            endpoint="grade",
            json={"upload_job_id": "{alpha_completed_upload_id}"},
        ),
        case(
            "grade-id-wrong-type",
            400,
            validation,
            endpoint="grade",
            json={"upload_job_id": {"id": 5}, "standard_id": 3},
        ),
        case(
            "grade-standard-wrong-type",
            400,
            validation,
            endpoint="grade",
            json={"upload_job_id": "{alpha_completed_upload_id}", "standard_id": "three"},
        ),
        case(
            "grade-standard-as-list",
            400,
            validation,
            endpoint="grade",
            json={"upload_job_id": "{alpha_completed_upload_id}", "standard_id": [3]},
        ),
        case("grade-body-is-a-list", 400, validation, endpoint="grade", json=[1, 2, 3]),
        case("grade-body-is-a-string", 400, validation, endpoint="grade", json="grade please"),
        case("grade-invalid-json", 400, validation, endpoint="grade", raw='{"upload_job_id": '),
        case(
            "grade-unknown-standard",
            400,
            validation,
            words="standard",
            endpoint="grade",
            json={"upload_job_id": "{alpha_completed_upload_id}", "standard_id": 99},
        ),
        case(
            "grade-both-kinds-of-id",
            400,
            validation,
            endpoint="grade",
            json={
                "upload_job_id": "{alpha_completed_upload_id}",
                "submission_id": "{alpha_submission_id}",
                "standard_id": 3,
            },
        ),
        case(
            "grade-other-organizations-upload",
            404,
            "NOT_FOUND",
            endpoint="grade",
            json={"upload_job_id": "{beta_completed_upload_id}", "standard_id": 3},
        ),
        case(
            "grade-other-organizations-submission",
            404,
            "NOT_FOUND",
            endpoint="grade",
            json={"submission_id": "{beta_submission_id}", "standard_id": 3},
        ),
        case(
            "job-of-other-organization",
            404,
            "NOT_FOUND",
            endpoint="get",
            path="/api/v1/jobs/{beta_completed_upload_id}",
        ),
        case(
            "job-result-of-other-organization",
            404,
            "NOT_FOUND",
            endpoint="get",
            path="/api/v1/jobs/{beta_completed_upload_id}/result",
        ),
        case(
            "cancel-job-of-other-organization",
            404,
            "NOT_FOUND",
            endpoint="delete",
            path="/api/v1/jobs/{beta_completed_upload_id}",
        ),
        case("job-id-not-a-uuid", 404, "NOT_FOUND", endpoint="get", path="/api/v1/jobs/..%2F..%2Fetc%2Fpasswd"),
        case("jobs-page-not-a-number", 400, validation, endpoint="get", path="/api/v1/jobs?page=abc&per_page=-1"),
        case("jobs-unknown-status-filter", 400, validation, endpoint="get", path="/api/v1/jobs?status=exploded"),
        # Built at test time (too big to commit)
        case("file-of-17-mb", 413, too_large, words="at most 16 MB", endpoint="upload", generated="17mb"),
        case("twenty-one-files", 400, validation, words="at most 20", endpoint="upload", generated="21files"),
    ]


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    corpus = files()
    for name, data in corpus.items():
        (OUT / name).write_bytes(data)
    manifest = {
        "about": "Generated by scripts/make_bad_inputs.py; each case's expected status and contract code.",
        "cases": cases(),
    }
    for item in manifest["cases"]:
        for entry in item.get("files", []):
            assert entry["file"] in corpus, entry
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    total = sum((OUT / name).stat().st_size for name in corpus)
    print(f"{len(corpus)} files, {len(manifest['cases'])} cases, {total / 1e6:.2f} MB in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
