"""Help texts are read with their fields: every aria-describedby on a form page points at an element of the page
(Django's widgets point at <auto_id>_helptext; templates/_help_text.html draws the text under that id)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    ["/upload/", "/settings/", "/mark-schemes/new/", "/mark-schemes/import/", "/mark-schemes/subjects/"],
)
def test_every_field_description_is_on_the_page(web, personas, path):
    body = web(personas.alpha, personas.alice).get(path).content.decode()
    described = {ref for refs in re.findall(r'aria-describedby="([^"]+)"', body) for ref in refs.split()}
    ids = set(re.findall(r'\sid="([^"]+)"', body))
    assert described, f"{path}: no field with a description (a form field's help text is expected)"
    assert described - ids == set()
