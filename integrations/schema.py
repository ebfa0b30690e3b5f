"""OpenAPI schema machinery (drf-spectacular): the contract's envelope around every answer, the error responses each
endpoint can give, and the schema's description. Documentation serializers for the endpoints are in
``integrations.docs``.

Regenerate the committed copy with ``python manage.py spectacular --file docs/openapi.yaml`` (a test fails when it
is stale).
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from quizmarker.api import IsOrganizationAdmin

ERROR_CODES = {
    "VALIDATION_ERROR": (400, "A field is missing or invalid; `details` maps field names to messages."),
    "NOT_AUTHENTICATED": (401, "No credentials, or a token that is invalid or revoked."),
    "PERMISSION_DENIED": (403, "Your role may not do this, or the organization has been deactivated."),
    "PLAN_LIMIT_EXCEEDED": (403, "The plan's monthly quiz limit; details: plan, quiz_limit, quizzes_this_month."),
    "BUDGET_EXCEEDED": (403, "The organization's monthly AI budget is spent; details: budget_usd, spent_usd."),
    "NOT_FOUND": (404, "No such object in this organization (also when you are not a member of it)."),
    "METHOD_NOT_ALLOWED": (405, "The endpoint does not answer this HTTP method."),
    "JOB_NOT_COMPLETED": (409, "The job has not completed yet; details: status, progress."),
    "JOB_ALREADY_FINISHED": (409, "The job has already finished and cannot be cancelled; details: status."),
    "JOB_ALREADY_RUNNING": (409, "These scripts are already being graded; details: submission_ids."),
    "SCRIPT_ALREADY_GRADED": (409, "The script is graded or being graded: its pages stay; details: status."),
    "DRAFT_EXISTS": (409, "The mark scheme already has a draft version: edit that one; details: draft_id, version."),
    "SCHEME_NOT_DRAFT": (409, "Only a draft mark scheme can be published; details: state."),
    "JOB_EXPIRED": (410, "The job expired: its files, input and result were removed (details: files_removed_at)."),
    "FILE_TOO_LARGE": (413, "A file is larger than the upload limit."),
    "UNSUPPORTED_FILE": (415, "A file is not an image or PDF we can read."),
    "UNSUPPORTED_MEDIA_TYPE": (415, "The request body's Content-Type is not accepted."),
    "THROTTLED": (429, "Too many requests; wait `Retry-After` seconds (details.retry_after_seconds)."),
    "SERVICE_UNAVAILABLE": (503, "A service QuizMarker depends on is briefly unavailable; retry after Retry-After."),
}


class ErrorSerializer(serializers.Serializer):
    """The contract's error envelope."""

    success = serializers.BooleanField(default=False, help_text="Always false for errors.")
    error = serializers.CharField(help_text="A sentence for a person.")
    code = serializers.CharField(help_text="A machine code: " + ", ".join(ERROR_CODES) + ".")
    details = serializers.DictField(help_text="More about the error, e.g. field → messages for VALIDATION_ERROR.")

    class Meta:
        ref_name = "Error"


def _example(code: str, message: str, details: dict | None = None) -> OpenApiExample:
    return OpenApiExample(
        code,
        value={"success": False, "error": message, "code": code, "details": details or {}},
        response_only=True,
        status_codes=[str(ERROR_CODES[code][0])],
    )


_DEFAULT_EXAMPLES = {
    "VALIDATION_ERROR": ("Some fields are missing or invalid; see details.", {"standard_id": ["Enter a number."]}),
    "NOT_AUTHENTICATED": ("Authentication credentials were not provided or are invalid.", None),
    "PERMISSION_DENIED": ("Only the organization's owners and admins may do this.", None),
    "NOT_FOUND": ("Not found.", None),
    "THROTTLED": ("Too many requests; try again in 120 seconds.", {"retry_after_seconds": 120}),
    "SERVICE_UNAVAILABLE": (
        "A service QuizMarker depends on is briefly unavailable; please try again in a minute.",
        None,
    ),
}


def error_response(*codes: str, examples: dict[str, tuple[str, dict | None]] | None = None) -> OpenApiResponse:
    """An error response for ``extend_schema(responses={409: error_response("JOB_NOT_COMPLETED")})``."""
    examples = examples or {}
    description = " ".join(f"`{code}`: {ERROR_CODES[code][1]}" for code in codes)
    return OpenApiResponse(
        ErrorSerializer,
        description=description,
        examples=[
            _example(code, *(examples.get(code) or _DEFAULT_EXAMPLES.get(code) or (ERROR_CODES[code][1], None)))
            for code in codes
        ],
    )


def envelope(schema: dict) -> dict:
    return {
        "type": "object",
        "required": ["success", "data"],
        "properties": {"success": {"type": "boolean", "enum": [True]}, "data": schema},
    }


class EnvelopeAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema for the contract: success bodies are ``{"success": true, "data": ...}`` and every
    operation lists the errors it can answer with (unless the view documents that status itself)."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None or not path.startswith("/api/v1/"):
            return operation
        responses = operation.setdefault("responses", {})
        for status, response in responses.items():
            if not str(status).startswith("2"):
                continue
            if not response.get("description"):
                response["description"] = "Accepted." if str(status) == "202" else "OK."
            for media in (response.get("content") or {}).values():
                if "schema" in media:
                    media["schema"] = envelope(media["schema"])
                for example in (media.get("examples") or {}).values():
                    value = example.get("value")
                    if not (isinstance(value, dict) and "success" in value):
                        example["value"] = {"success": True, "data": value}
        admin_only = any(isinstance(p, IsOrganizationAdmin) for p in self.view.get_permissions())
        for status, codes in self._default_errors(operation).items():
            if str(status) not in responses:
                responses[str(status)] = self._error_body(codes, admin_only)
        return operation

    def _default_errors(self, operation) -> dict[int, tuple[str, ...]]:
        open_endpoint = all(isinstance(p, AllowAny) for p in self.view.get_permissions())
        errors: dict[int, tuple[str, ...]] = {}
        if self.method in ("POST", "PUT", "PATCH") or any(
            p.get("in") == "query" for p in operation.get("parameters", [])
        ):
            errors[400] = ("VALIDATION_ERROR",)
        if not open_endpoint:
            errors[401] = ("NOT_AUTHENTICATED",)
            errors[403] = ("PERMISSION_DENIED",)
        errors[404] = ("NOT_FOUND",)
        if getattr(self.view, "throttle_classes", None):
            errors[429] = ("THROTTLED",)
        errors[503] = ("SERVICE_UNAVAILABLE",)
        return errors

    def _error_body(self, codes: tuple[str, ...], admin_only: bool) -> dict:
        component = self.resolve_serializer(ErrorSerializer, "response")
        first = codes[0]
        message, details = _DEFAULT_EXAMPLES.get(first) or (ERROR_CODES[first][1], None)
        if first == "PERMISSION_DENIED" and not admin_only:
            message = "This organization has been deactivated."
        body = {
            "description": " ".join(f"`{code}`: {ERROR_CODES[code][1]}" for code in codes),
            "content": {
                "application/json": {
                    "schema": component.ref,
                    "examples": {
                        first: {
                            "value": {"success": False, "error": message, "code": first, "details": details or {}},
                            "summary": first,
                        }
                    },
                }
            },
        }
        if first in ("THROTTLED", "SERVICE_UNAVAILABLE"):
            body["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again."}
            }
        return body


# --- Hooks -------------------------------------------------------------------------------------------


def only_api_v1(endpoints, **kwargs):
    """The schema documents API v1 only (not the pages, allauth or the admin)."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]


DESCRIPTION = (
    """\
QuizMarker reads photographed or scanned answer sheets, grades them against the Care Certificate standards and
reports the scores. This API lets your own systems do the same.

## Addressing
Every organization has its own host, `https://<organization>.<domain>` (in development
`http://<organization>.localhost:8000`). A client that cannot resolve that name may connect to the server's address
and send the header `Host: <organization>.<domain>`.

## Authentication
Send `Authorization: Token <key>`. Create a key on the **Account → API tokens** page (`/account/tokens/`): it starts
with `qm_`, is shown once and can be revoked there; several per person are allowed (creating one needs a confirmed
email address and a signed-in session: a request made with a token cannot create, list or revoke tokens). Keys issued
by an operator with `python manage.py drf_create_token <email>` work the same way. A token acts as its user, with the
user's role (assessors see their own jobs, owners and admins the whole organization's), and only in the organization
it was created in — elsewhere it answers `401`; a super admin's token works in every organization. Changing or
resetting the password revokes all of the user's tokens. Objects of an organization you do not belong to answer
`404`, never their data. Browser sessions work too (cookie
`sessionid`, with a CSRF token for writes).

## Envelope
Every JSON answer is `{"success": true, "data": ...}` or
`{"success": false, "error": "<sentence>", "code": "<MACHINE_CODE>", "details": {...}}`.
Error codes: """
    + ", ".join(f"`{code}` ({status})" for code, (status, _) in ERROR_CODES.items())
    + """.

## Jobs
Uploading and grading are background jobs: `POST /api/v1/upload` and `POST /api/v1/grade` answer `202` with a
`job_id`. Either follow `GET /api/v1/jobs/{job_id}/events` (server-sent events: each change as it happens, ending
with the job), poll `GET /api/v1/jobs/{job_id}` (never throttled; every 2 s is fine) until `status` is `completed`
or `failed`, or receive a webhook. Uploads are throttled to 20 an hour per user and grading to 15. An upload sent
with `grade=true` needs no `POST /api/v1/grade`: its scripts are graded as soon as they are read, and the upload job's
result names the grading job (`grading_job_id`).

## Webhooks
Organization owners and admins register endpoints (`/settings/webhooks/` or `POST /api/v1/webhooks`) for the events
`job.completed`, `job.failed`, `submission.graded` and `submission.reviewed`. Upload and grade requests may also give
a `callback_url` that receives that job's `job.completed` or `job.failed`, signed with the organization's callback
secret (an admin reveals it by rotating it: `POST /api/v1/webhooks/callback-secret`). Each delivery is a `POST` of

    {"id": "<event id>", "event": "job.completed", "created_at": "<ISO 8601>", "organization": "<slug>",
     "data": {...}}

with headers `X-QuizMarker-Event`, `X-QuizMarker-Delivery` (the delivery's id) and
`X-QuizMarker-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. Verify the signature over
the raw body and reject timestamps more than five minutes old. Answer with any 2xx within 10 seconds; anything else
is retried with exponential backoff (30 s, 1 min, 2 min, ... at most 3 h apart) for a day, so handle an event id you
have already seen as a duplicate. Payloads carry ids, statuses and scores only — never a student's name, answers or
feedback: fetch those with your token.
"""
)


EVENT_STREAMS = {
    "/api/v1/jobs/{job_id}/events": (
        "job_id",
        "jobs_events",
        "Follow a job live (server-sent events)",
        "/api/v1/jobs/{job_id}",
        "A `text/event-stream`: one `data: {job object}` event (the job as `GET /api/v1/jobs/{job_id}` shows it) "
        "now and at each change of progress, step or status, ending after the terminal status (`completed`, "
        "`failed` or `cancelled`); a comment line `: keepalive` every 15 s. Same authentication and visibility as "
        "the job itself. Send `Accept: text/event-stream`.",
    ),
    "/api/v1/sessions/{session_id}/events": (
        "session_id",
        "sessions_events",
        "Follow a grading session's jobs live (server-sent events)",
        "/api/v1/sessions/{session_id}",
        "A `text/event-stream` of every job of the session (reading, the grading it starts, the summary email): one "
        "`data: {job object}` event per job now, then one per change, ending once none of its jobs is queued or "
        "processing. Same authentication and visibility as the session.",
    ),
}


def _event_stream_paths(result) -> None:
    """The event streams are async Django views, not DRF views: documented here, with the error answers of the
    detail endpoint whose rules they share."""
    for path, (parameter, operation_id, summary, detail, description) in EVENT_STREAMS.items():
        errors = result["paths"][detail]["get"]["responses"]
        result["paths"][path] = {
            "get": {
                "operationId": operation_id,
                "summary": summary,
                "description": description,
                "parameters": [
                    {"in": "path", "name": parameter, "schema": {"type": "string", "format": "uuid"}, "required": True}
                ],
                "tags": [detail.split("/")[3]],
                "security": result["paths"][detail]["get"]["security"],
                "responses": {
                    "200": {
                        "description": "The stream of events.",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **{code: errors[code] for code in ("401", "403", "404") if code in errors},
                },
            }
        }


def finish_schema(result, generator, request, public):
    """Description, the Error component for every operation, and stable ordering."""
    result["info"]["description"] = DESCRIPTION
    _event_stream_paths(result)
    result["info"]["contact"] = {"name": "QuizMarker"}
    return result
