"""Every paged list of API v1 takes the same ``?page=&per_page=`` (quizmarker.api.PageQuery) and answers the same
envelope (``{<items>: [...], page, per_page, total}``); a page number or size out of range is a 400 naming it."""

from __future__ import annotations

import pytest

from tests.helpers import api_data, api_error

pytestmark = pytest.mark.django_db

LISTS = {
    "/api/v1/jobs": "jobs",
    "/api/v1/sessions": "sessions",
    "/api/v1/submissions": "submissions",
    "/api/v1/students": "students",
    "/api/v1/mark-schemes": "mark_schemes",
}


@pytest.mark.parametrize("url", LISTS)
def test_a_list_answers_one_page_in_the_contracts_shape(api, personas, url):
    data = api_data(api(personas.alpha, personas.alice).get(url, {"page": 2, "per_page": 3}))
    assert set(data) == {LISTS[url], "page", "per_page", "total"}
    assert (data["page"], data["per_page"]) == (2, 3)
    assert len(data[LISTS[url]]) <= 3 and isinstance(data["total"], int)


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize(("query", "field"), [({"page": 0}, "page"), ({"per_page": 101}, "per_page")])
def test_a_page_out_of_range_is_a_400_naming_the_field(api, personas, url, query, field):
    body = api_error(api(personas.alpha, personas.alice).get(url, query), 400, "VALIDATION_ERROR")
    assert list(body["details"]) == [field]
