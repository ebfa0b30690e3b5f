"""The mark-scheme pages: every member reads them, owners and admins write, the services' errors appear beside the
field they name, and editing a published scheme starts its next version."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from markschemes.models import MarkScheme, SchemeState
from markschemes.services import published_for_standard

pytestmark = pytest.mark.django_db

GOOD_QUESTIONS = [
    {
        "number": "1",
        "text": "What does duty of care mean?",
        "max_marks": "2",
        "points": "1 | legal obligation\n1 | best interests\n\n1 | avoid harm",
        "model_answer": "A legal duty to act in the person's best interests.",
    },
    {"number": "2", "text": "What is a near miss?", "max_marks": "1.5", "points": "1.5 | mistake noticed before harm"},
]


def _post(standard="3", title="Standard 3: our own quiz", questions=GOOD_QUESTIONS, blanks=2, initial=0, **extra):
    data = {"standard": standard, "title": title, **extra}
    forms = [*questions, *({} for _ in range(blanks))]
    data.update({"q-TOTAL_FORMS": str(len(forms)), "q-INITIAL_FORMS": str(initial)})
    for i, form in enumerate(forms):
        for field in ("number", "text", "max_marks", "points", "model_answer"):
            data[f"q-{i}-{field}"] = form.get(field, "")
        if form.get("DELETE"):
            data[f"q-{i}-DELETE"] = "on"
    return data


def _content(scheme: MarkScheme):
    return [
        (q.number, q.text, q.max_marks, q.model_answer, [(p.statement, p.marks) for p in q.points.all()])
        for q in scheme.questions.prefetch_related("points")
    ]


def _fieldset(html: str, n: int) -> str:
    return html.split(f'id="question-{n}"', 1)[1].split("</fieldset>", 1)[0]


def _count(organization) -> int:
    with schema_context(organization.schema_name):
        return MarkScheme.objects.count()


def test_an_owner_writes_a_scheme_on_the_page_and_it_is_saved_as_a_draft(web, personas):
    client = web(personas.alpha, personas.alice)
    assert "Create draft" in client.get("/mark-schemes/new/").content.decode()
    response = client.post("/mark-schemes/new/", _post())
    assert response.status_code == 302
    with schema_context("alpha"):
        scheme = MarkScheme.objects.get(title="Standard 3: our own quiz")
        assert (scheme.standard, scheme.version, scheme.state, scheme.created_by) == (
            3,
            1,
            SchemeState.DRAFT,
            "alice@alpha.test",
        )
        assert _content(scheme) == [
            (
                1,
                "What does duty of care mean?",
                Decimal("2"),
                "A legal duty to act in the person's best interests.",
                [("legal obligation", Decimal("1")), ("best interests", Decimal("1")), ("avoid harm", Decimal("1"))],
            ),
            (2, "What is a near miss?", Decimal("1.5"), "", [("mistake noticed before harm", Decimal("1.5"))]),
        ]
    assert response["Location"] == f"/mark-schemes/{scheme.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "is saved as a draft" in page and "Publish…" in page and "Edit draft" in page


@pytest.mark.parametrize(
    ("questions", "block", "message"),
    [
        (
            [GOOD_QUESTIONS[0], {**GOOD_QUESTIONS[1], "number": "1"}],
            2,
            "Question number 1 appears twice.",
        ),
        (
            [{**GOOD_QUESTIONS[0], "max_marks": "4"}, GOOD_QUESTIONS[1]],
            1,
            "Question 1&#x27;s marking points add up to 3 marks, so its maximum of 4 can never be reached.",
        ),
        (
            [GOOD_QUESTIONS[0], {**GOOD_QUESTIONS[1], "max_marks": "0"}],
            2,
            "Question 2&#x27;s maximum must be more than 0 and at most 100 marks (got 0).",
        ),
        (
            [GOOD_QUESTIONS[0], {**GOOD_QUESTIONS[1], "max_marks": "101", "points": "101 | everything"}],
            2,
            "Question 2&#x27;s maximum must be more than 0 and at most 100 marks (got 101).",
        ),
        (
            [GOOD_QUESTIONS[0], {**GOOD_QUESTIONS[1], "points": "mistake noticed before harm"}],
            2,
            "Line 1 needs its marks first, then a bar: “1 | mistake noticed before harm”.",
        ),
    ],
)
def test_a_bad_scheme_is_shown_again_with_the_error_beside_its_question(web, personas, questions, block, message):
    before = _count(personas.alpha)
    response = web(personas.alpha, personas.dana).post("/mark-schemes/new/", _post(questions=questions))
    assert response.status_code == 400
    html = response.content.decode()
    assert message in _fieldset(html, block)
    assert message not in _fieldset(html, 3 - block)
    assert "What is a near miss?" in html, "what was typed is kept"
    assert _count(personas.alpha) == before


def test_a_scheme_without_questions_says_so_above_the_form(web, personas):
    response = web(personas.alpha, personas.alice).post("/mark-schemes/new/", _post(questions=[]))
    assert response.status_code == 400
    assert re.search(
        r'class="form-error" role="alert"><span class="line">A mark scheme needs at least one question.',
        response.content.decode(),
    )


def test_editing_a_published_scheme_starts_the_next_version_and_publishing_asks_first(web, personas):
    client = web(personas.alpha, personas.alice)
    with schema_context("alpha"):
        v1 = published_for_standard(4)
        v1_content = _content(v1)
        first = v1.questions.first()
    page = client.get(f"/mark-schemes/{v1.pk}/").content.decode()
    assert "Edit (starts version 2)" in page
    form = client.get(f"/mark-schemes/{v1.pk}/edit/").content.decode()
    assert "Save as version 2 (draft)" in form and re.search(r'<select name="standard"[^>]* disabled', form)
    questions = [
        {"number": str(q[0]), "text": q[1], "max_marks": str(q[2]), "points": "\n".join(f"{m} | {s}" for s, m in q[4])}
        for q in v1_content
    ]
    questions[0]["max_marks"] = "1"
    questions[1]["DELETE"] = True
    response = client.post(
        f"/mark-schemes/{v1.pk}/edit/", _post(standard="9", title=v1.title, questions=questions, initial=len(questions))
    )
    assert response.status_code == 302
    with schema_context("alpha"):
        v2 = MarkScheme.objects.get(key=v1.key, version=2)
        assert (v2.state, v2.standard, v2.questions.count()) == (SchemeState.DRAFT, 4, len(questions) - 1)
        assert v2.questions.get(number=first.number).max_marks == Decimal("1")
        assert _content(MarkScheme.objects.get(pk=v1.pk)) == v1_content
    assert response["Location"] == f"/mark-schemes/{v2.pk}/"
    # The published version's edit now leads to the open draft.
    assert client.get(f"/mark-schemes/{v1.pk}/edit/")["Location"] == f"/mark-schemes/{v2.pk}/edit/"

    confirm = client.get(f"/mark-schemes/{v2.pk}/publish/").content.decode()
    assert "Publish version 2?" in confirm and "Version 1, published now, will be archived." in confirm
    with schema_context("alpha"):
        assert MarkScheme.objects.get(pk=v2.pk).state == SchemeState.DRAFT, (
            "looking at the confirmation changes nothing"
        )
    done = client.post(f"/mark-schemes/{v2.pk}/publish/", follow=True).content.decode()
    assert "Version 2 of “" in done and "Version 1 is archived." in done
    with schema_context("alpha"):
        assert published_for_standard(4).pk == v2.pk
        assert MarkScheme.objects.get(pk=v1.pk).state == SchemeState.ARCHIVED


def test_assessors_read_schemes_but_cannot_change_them(web, personas):
    client = web(personas.alpha, personas.bob)
    listing = client.get("/mark-schemes/").content.decode()
    assert listing.count('<section class="card flush" aria-labelledby="standard-') == 15
    assert "New mark scheme" not in listing
    with schema_context("alpha"):
        scheme = published_for_standard(3)
    detail = client.get(f"/mark-schemes/{scheme.pk}/").content.decode()
    assert "work within competence" in detail and "Edit" not in detail.split("</h1>", 1)[1].split("Question 1", 1)[0]
    before = _count(personas.alpha)
    assert client.get("/mark-schemes/new/").status_code == 403
    assert client.post("/mark-schemes/new/", _post()).status_code == 403
    assert client.post(f"/mark-schemes/{scheme.pk}/edit/", _post()).status_code == 403
    assert client.post(f"/mark-schemes/{scheme.pk}/publish/").status_code == 403
    assert _count(personas.alpha) == before


def test_outsiders_are_turned_away(web, personas):
    response = web(personas.alpha, personas.charlie).get("/mark-schemes/")
    assert response.status_code == 403
    assert "Standard 3" not in response.content.decode()


def test_the_admin_console_lists_an_organizations_schemes_read_only(web, personas):
    page = web(None, personas.root).get(f"/admin/organizations/organization/{personas.alpha.pk}/data/").content.decode()
    table = page.split('id="mark-schemes"', 1)[1].split("</table>", 1)[0]
    # the 15 shipped schemes (own subjects' schemes, which other tests may have committed, are listed after them)
    assert table.count("<tr><td>Standard ") == 15
    assert (
        "<td>Standard 3</td><td>Standard 3: Duty of care</td><td>1</td><td>Published</td>"
        "<td>Shipped with QuizMarker</td><td>5</td><td>15</td>" in table
    )
