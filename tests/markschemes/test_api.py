"""API v1 mark schemes: the contract's envelope, who may write, versions through PATCH, bad input as a 400 that
names the field, and other organizations' schemes answering 404."""

from __future__ import annotations

import copy

import pytest
from django_tenants.utils import schema_context

from markschemes.models import MarkScheme, SchemeState
from tests.helpers import api_error

pytestmark = pytest.mark.django_db

URL = "/api/v1/mark-schemes"

BODY = {
    "standard": 3,
    "title": "Standard 3: our own quiz",
    "questions": [
        {
            "number": 2,
            "text": "What is a near miss?",
            "max_marks": "1.5",
            "points": [{"text": "mistake noticed before harm", "marks": 1.5}],
        },
        {
            "number": 1,
            "text": "What does duty of care mean?",
            "max_marks": 2,
            "model_answer": "A legal duty to act in the person's best interests.",
            "points": [
                {"text": "legal obligation", "marks": 1},
                {"text": "best interests", "marks": 1},
                {"text": "avoid harm", "marks": 1},
            ],
        },
    ],
}


def _body(**edits):
    data = copy.deepcopy(BODY)
    for path, value in edits.items():
        target = data
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value
    return data


def _content(scheme: dict) -> dict:
    """A scheme's answer without its generated ids and times."""
    return {
        **{k: scheme[k] for k in ("standard", "title", "version", "state", "origin", "total_marks", "created_by")},
        "questions": [
            {**q, "points": [{"text": p["text"], "marks": p["marks"]} for p in q["points"]]}
            for q in scheme["questions"]
        ],
    }


def _count(organization) -> int:
    with schema_context(organization.schema_name):
        return MarkScheme.objects.count()


def test_an_owner_creates_a_draft_and_gets_it_back_exactly(api, personas):
    response = api(personas.alpha, personas.alice).post(URL, BODY, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["success"] is True
    assert _content(body["data"]) == {
        "standard": 3,
        "title": "Standard 3: our own quiz",
        "version": 1,
        "state": "draft",
        "origin": "organization",
        "total_marks": "3.50",
        "created_by": "alice@alpha.test",
        "questions": [
            {
                "number": 1,
                "text": "What does duty of care mean?",
                "max_marks": "2.00",
                "model_answer": "A legal duty to act in the person's best interests.",
                "points": [
                    {"text": "legal obligation", "marks": "1.00"},
                    {"text": "best interests", "marks": "1.00"},
                    {"text": "avoid harm", "marks": "1.00"},
                ],
            },
            {
                "number": 2,
                "text": "What is a near miss?",
                "max_marks": "1.50",
                "model_answer": "",
                "points": [{"text": "mistake noticed before harm", "marks": "1.50"}],
            },
        ],
    }
    assert body["data"]["published_at"] is None
    detail = api(personas.alpha, personas.bob).get(f"{URL}/{body['data']['id']}")
    assert detail.status_code == 200 and detail.json()["data"] == body["data"]


def test_assessors_list_the_shipped_schemes_by_standard_and_state(api, personas):
    client = api(personas.alpha, personas.bob)
    body = client.get(URL, {"standard": 3, "state": "published"}).json()
    assert (body["success"], body["data"]["page"], body["data"]["per_page"], body["data"]["total"]) == (
        True,
        1,
        20,
        1,
    )
    (scheme,) = body["data"]["mark_schemes"]
    assert (scheme["standard"], scheme["version"], scheme["state"], scheme["origin"], scheme["total_marks"]) == (
        3,
        1,
        "published",
        "default",
        "15.00",
    )
    assert [(p["text"], p["marks"]) for p in scheme["questions"][0]["points"]] == [
        ("legal obligation", "1.00"),
        ("act in the best interests", "1.00"),
        ("avoid harm", "1.00"),
        ("work within competence", "1.00"),
    ]
    everything = client.get(URL, {"per_page": 4, "page": 2}).json()["data"]
    assert (everything["total"], [s["standard"] for s in everything["mark_schemes"]]) == (15, [5, 6, 7, 8])
    assert client.get(URL, {"state": "draft"}).json()["data"]["total"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [({"state": "retired"}, "state"), ({"standard": 16}, "standard"), ({"per_page": 0}, "per_page")],
)
def test_a_bad_list_query_is_a_validation_error(api, personas, query, field):
    body = api_error(api(personas.alpha, personas.bob).get(URL, query), 400, "VALIDATION_ERROR")
    assert list(body["details"]) == [field]


def test_an_admin_edits_a_draft_in_place(api, personas):
    client = api(personas.alpha, personas.dana)
    draft = client.post(URL, BODY, format="json").json()["data"]
    response = client.patch(
        f"{URL}/{draft['id']}", {"title": "Renamed", "id": 999, "state": "published"}, format="json"
    )
    assert response.status_code == 200
    edited = response.json()["data"]
    assert (edited["id"], edited["version"], edited["state"], edited["title"]) == (draft["id"], 1, "draft", "Renamed")
    assert _content(edited)["questions"] == _content(draft)["questions"]
    response = client.patch(
        f"{URL}/{draft['id']}", {"questions": [BODY["questions"][0] | {"number": 5}]}, format="json"
    )
    assert [(q["number"], q["max_marks"]) for q in response.json()["data"]["questions"]] == [(5, "1.50")]


def test_editing_a_published_scheme_makes_the_next_version_and_publishing_archives_the_old(api, personas):
    client = api(personas.alpha, personas.alice)
    v1 = client.get(URL, {"standard": 4, "state": "published"}).json()["data"]["mark_schemes"][0]
    questions = copy.deepcopy(v1["questions"])
    questions[0]["max_marks"] = "1"
    response = client.patch(f"{URL}/{v1['id']}", {"questions": questions}, format="json")
    assert response.status_code == 201, response.json()
    v2 = response.json()["data"]
    assert (v2["key"], v2["version"], v2["state"], v2["created_by"]) == (v1["key"], 2, "draft", "alice@alpha.test")
    assert v2["questions"][0]["max_marks"] == "1.00"
    unchanged = client.get(f"{URL}/{v1['id']}").json()["data"]
    assert (unchanged["state"], unchanged["questions"]) == ("published", v1["questions"])

    again = api_error(client.patch(f"{URL}/{v1['id']}", {"title": "Another"}, format="json"), 409, "DRAFT_EXISTS")
    assert again["details"] == {"draft_id": v2["id"], "version": 2}
    assert again["error"] == "Version 2 of this scheme is already a draft; edit that draft."

    published = client.post(f"{URL}/{v2['id']}/publish")
    assert published.status_code == 200
    assert (published.json()["data"]["state"], published.json()["data"]["published_by"]) == (
        "published",
        "alice@alpha.test",
    )
    assert client.get(f"{URL}/{v1['id']}").json()["data"]["state"] == "archived"
    twice = api_error(client.post(f"{URL}/{v2['id']}/publish"), 409, "SCHEME_NOT_DRAFT")
    assert twice["error"] == "Only a draft can be published; version 2 is published."
    assert twice["details"] == {"state": "published"}


def test_a_new_version_keeps_the_standard(api, personas):
    client = api(personas.alpha, personas.alice)
    v1 = client.get(URL, {"standard": 4, "state": "published"}).json()["data"]["mark_schemes"][0]
    body = api_error(client.patch(f"{URL}/{v1['id']}", {"standard": 5}, format="json"), 400, "VALIDATION_ERROR")
    sentence = "A new version keeps its scheme's standard or subject; create a new scheme instead."
    assert body["details"] == {"standard": [sentence]}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (_body(questions=[]), "questions", "A mark scheme needs at least one question."),
        ({"standard": 3, "title": "No questions"}, "questions", "A mark scheme needs at least one question."),
        (
            _body(questions__1__max_marks=0),
            "questions[1].max_marks",
            "Question 1's maximum must be more than 0 and at most 100 marks (got 0).",
        ),
        (
            _body(questions__0__max_marks=101, questions__0__points__0__marks=101),
            "questions[0].max_marks",
            "Question 2's maximum must be more than 0 and at most 100 marks (got 101).",
        ),
        (_body(questions__1__number=2), "questions[1].number", "Question number 2 appears twice."),
        (
            _body(questions__1__max_marks=4),
            "questions[1].points",
            "Question 1's marking points add up to 3 marks, so its maximum of 4 can never be reached.",
        ),
        (
            _body(questions__0__points__0__text=""),
            "questions[0].points[0].text",
            "Question 2, marking point 1's statement is empty.",
        ),
        ([1, 2], "scheme", "Send the mark scheme as a JSON object with a standard, a title and questions."),
    ],
)
def test_a_bad_scheme_is_refused_naming_the_field_and_nothing_is_saved(api, personas, body, field, message):
    before = _count(personas.alpha)
    response = api(personas.alpha, personas.alice).post(URL, body, format="json")
    assert response.json() == {
        "success": False,
        "error": message,
        "code": "VALIDATION_ERROR",
        "details": {field: [message]},
    }
    assert response.status_code == 400
    assert _count(personas.alpha) == before


def test_a_bad_edit_leaves_the_draft_as_it_was(api, personas):
    client = api(personas.alpha, personas.alice)
    draft = client.post(URL, BODY, format="json").json()["data"]
    body = api_error(
        client.patch(f"{URL}/{draft['id']}", {"questions": _body(questions__1__number=2)["questions"]}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    assert body["details"] == {"questions[1].number": ["Question number 2 appears twice."]}
    assert client.get(f"{URL}/{draft['id']}").json()["data"] == draft


def test_assessors_read_but_do_not_write(api, personas):
    owner, assessor = api(personas.alpha, personas.alice), api(personas.alpha, personas.bob)
    draft = owner.post(URL, BODY, format="json").json()["data"]
    before = _count(personas.alpha)
    for response in (
        assessor.post(URL, BODY, format="json"),
        assessor.patch(f"{URL}/{draft['id']}", {"title": "Mine now"}, format="json"),
        assessor.post(f"{URL}/{draft['id']}/publish"),
    ):
        body = api_error(response, 403, "PERMISSION_DENIED")
        assert body["error"] == "Only the organization's owners and admins may do this."
    assert _count(personas.alpha) == before
    assert assessor.get(f"{URL}/{draft['id']}").json()["data"] == draft


def test_outsiders_get_404_and_each_organization_sees_only_its_own(api, personas):
    draft = api(personas.alpha, personas.alice).post(URL, BODY, format="json").json()["data"]
    outsider = api(personas.alpha, personas.charlie)
    for response in (
        outsider.get(URL),
        outsider.get(f"{URL}/{draft['id']}"),
        outsider.post(URL, BODY, format="json"),
        outsider.patch(f"{URL}/{draft['id']}", {"title": "x"}, format="json"),
        outsider.post(f"{URL}/{draft['id']}/publish"),
    ):
        api_error(response, 404, "NOT_FOUND")
    own = api(personas.beta, personas.charlie).get(URL, {"per_page": 100}).json()["data"]
    assert own["total"] == 15 and "Standard 3: our own quiz" not in [s["title"] for s in own["mark_schemes"]]
    with schema_context(personas.alpha.schema_name):
        assert MarkScheme.objects.get(pk=draft["id"]).state == SchemeState.DRAFT


def test_signing_in_is_required(api, personas):
    api_error(api(personas.alpha).get(URL), 401, "NOT_AUTHENTICATED")


def test_an_unknown_id_is_not_found(api, personas):
    client = api(personas.alpha, personas.alice)
    for response in (
        client.get(f"{URL}/999999"),
        client.patch(f"{URL}/999999", {"title": "x"}, format="json"),
        client.post(f"{URL}/999999/publish"),
    ):
        body = api_error(response, 404, "NOT_FOUND")
        assert body["error"] == "No mark scheme with that id in this organization."
