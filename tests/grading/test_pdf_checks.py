"""The PDF checks that run in a sandbox child, which reads many files one after another in one process."""

from pathlib import Path

import pytest

from grading.file_tasks import FileProblem, check_pdf

BAD = Path(__file__).resolve().parent.parent / "fixtures" / "bad_inputs"


def _problem(name: str) -> FileProblem:
    with pytest.raises(FileProblem) as caught:
        check_pdf((BAD / name).read_bytes())
    return caught.value


def test_a_pdf_with_no_pages_after_a_password_protected_one_is_not_called_password_protected():
    # PDFium reports the last error it set in the process: the encrypted file's must not stick to the next file.
    assert "password" in _problem("encrypted.pdf").sentence
    problem = _problem("no-pages.pdf")
    assert (problem.code, problem.status) == ("UNSUPPORTED_FILE", 415)
    assert "password" not in problem.sentence
    assert "cannot be opened" in problem.sentence
