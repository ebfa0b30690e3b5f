"""`manage.py grade_quiz` runs the same pipeline from the command line."""

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from grading.providers.local_ocr import transcribe_page
from tests.helpers import SHEETS


def test_grade_quiz_in_process_prints_transcription_scores_and_feedback(live_db, personas, capsys):
    call_command(
        "grade_quiz",
        "--org",
        "beta",
        "--standard",
        "1",
        "--sync",
        str(SHEETS / "s01_std01_breip_p1.png"),
        str(SHEETS / "s01_std01_breip_p2.png"),
    )
    out = capsys.readouterr().out
    # The name as the offline reader reads it ("Anelia Hushes" today; accuracy is measured elsewhere).
    with Image.open(SHEETS / "s01_std01_breip_p1.png") as page:
        name = transcribe_page(page.convert("RGB")).student_name
    assert name and f"{name} — Standard 1" in out
    assert "Q1. " in out and "working relationship" in out
    assert "Answer:" in out and "Score:" in out and "Feedback:" in out
    assert "Total:" in out
    assert "100%  Done" in out


def test_grade_quiz_explains_what_is_wrong(live_db, personas, tmp_path):
    with pytest.raises(CommandError, match="No organization with slug"):
        call_command("grade_quiz", "--org", "nosuch", str(SHEETS / "s01_std01_breip_p1.png"))
    with pytest.raises(CommandError, match="No such file"):
        call_command("grade_quiz", "--org", "beta", str(tmp_path / "missing.png"))
    junk = tmp_path / "notes.png"
    junk.write_text("<html>not an image</html>")
    with pytest.raises(CommandError, match="web page"):
        call_command("grade_quiz", "--org", "beta", str(junk))
