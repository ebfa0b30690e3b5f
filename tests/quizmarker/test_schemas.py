"""quizmarker.schemas.in_schema: entering the schema the connection is on already costs no `SET search_path`;
entering another one switches to it and back, as django-tenants' schema_context does."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from grading.models import Submission
from quizmarker.schemas import in_schema


def test_entering_the_schema_the_connection_is_on_sends_no_set_search_path(db, personas):
    with schema_context("alpha"):
        Submission.objects.exists()  # the connection's search_path is now alpha's
        with CaptureQueriesContext(connection) as queries:
            with in_schema("alpha"):
                Submission.objects.exists()
            Submission.objects.exists()
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["SELECT", "SELECT"]


def test_entering_another_schema_switches_to_it_and_back(db, personas):
    with schema_context("alpha"), CaptureQueriesContext(connection) as queries:
        with in_schema("beta"):
            assert connection.schema_name == "beta"
            Submission.objects.exists()
        assert connection.schema_name == "alpha"
        Submission.objects.exists()
    assert [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SET")] == [
        'SET search_path = "beta","public"',
        'SET search_path = "alpha","public"',
    ]
