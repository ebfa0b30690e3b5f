"""The REST API's shared pieces: the contract's envelope, error codes (and the HTTP status of each kind of
:mod:`quizmarker.errors` domain error) and organization access."""

from __future__ import annotations

import logging
from typing import Any

import kombu.exceptions
import redis.exceptions
from django.db import OperationalError as DatabaseOperationalError
from django.db import connection
from django.http import Http404, JsonResponse
from django_tenants.utils import get_public_schema_name
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from organizations import permissions
from organizations.services import audit_outsider_access, membership_for
from quizmarker import errors

logger = logging.getLogger(__name__)


def ok(data: Any, status_code: int = status.HTTP_200_OK, headers: dict | None = None) -> Response:
    return Response({"success": True, "data": data}, status=status_code, headers=headers)


class PageQuery(serializers.Serializer):
    """A list's ``?page=&per_page=``; a list with filters subclasses it and adds them."""

    page = serializers.IntegerField(min_value=1, max_value=100_000, default=1)
    per_page = serializers.IntegerField(min_value=1, max_value=100, default=20)


def paged(queryset, params: dict, serializer_class, key: str) -> dict:
    """One page of a list, in the contract's shape: ``{key: [...], "page", "per_page", "total"}``."""
    page, per_page = params["page"], params["per_page"]
    rows = queryset[(page - 1) * per_page : page * per_page]
    return {key: serializer_class(rows, many=True).data, "page": page, "per_page": per_page, "total": queryset.count()}


def page_serializer(key: str, item_serializer: type[serializers.Serializer], ref_name: str) -> type:
    """The schema of what ``paged`` answers (for the OpenAPI document): ``{key: [items], page, per_page, total}``,
    named ``ref_name`` among the schema's components."""
    fields = {
        key: item_serializer(many=True),
        "page": serializers.IntegerField(),
        "per_page": serializers.IntegerField(),
        "total": serializers.IntegerField(),
    }
    meta = type("Meta", (), {"ref_name": ref_name})
    return type(f"{ref_name}Serializer", (serializers.Serializer,), {**fields, "Meta": meta})


def error_body(message: str, code: str, details: dict | None = None) -> dict:
    return {"success": False, "error": message, "code": code, "details": details or {}}


class ApiError(exceptions.APIException):
    """An error with the contract's machine code, a sentence for a person and optional details."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status_code: int = 400,
        details: dict | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.details = details or {}
        self.retry_after = retry_after  # seconds, sent as Retry-After (a 503 that will pass)


# The HTTP status of each kind of domain error; a kind not listed takes its nearest listed base class's.
DOMAIN_STATUS: dict[type[errors.DomainError], int] = {
    errors.DomainError: status.HTTP_400_BAD_REQUEST,
    errors.Invalid: status.HTTP_400_BAD_REQUEST,
    errors.TooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    errors.Unsupported: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    errors.NotFound: status.HTTP_404_NOT_FOUND,
    errors.Conflict: status.HTTP_409_CONFLICT,
    errors.NotAllowed: status.HTTP_403_FORBIDDEN,
    errors.LimitReached: status.HTTP_403_FORBIDDEN,  # the contract's PLAN_LIMIT_EXCEEDED is a 403, not a 429
    errors.Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def status_for(error: errors.DomainError | type[errors.DomainError]) -> int:
    """The HTTP status the API (and a page) answers a domain error with."""
    kind = error if isinstance(error, type) else type(error)
    return next(DOMAIN_STATUS[base] for base in kind.__mro__ if base in DOMAIN_STATUS)


def api_error(error: errors.DomainError) -> ApiError:
    return ApiError(
        error.message,
        code=error.code,
        status_code=status_for(error),
        details=error.details,
        retry_after=error.retry_after,
    )


def denied(message: str) -> ApiError:
    """The contract's 403 (PERMISSION_DENIED) with ``message``."""
    return ApiError(message, code="PERMISSION_DENIED", status_code=403)


DEACTIVATED = "This organization has been deactivated."

_CODES = [
    (exceptions.NotAuthenticated, "NOT_AUTHENTICATED", "Authentication credentials were not provided or are invalid."),
    (exceptions.AuthenticationFailed, "NOT_AUTHENTICATED", None),
    (exceptions.PermissionDenied, "PERMISSION_DENIED", None),
    (exceptions.NotFound, "NOT_FOUND", "Not found."),
    (exceptions.MethodNotAllowed, "METHOD_NOT_ALLOWED", None),
    (exceptions.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", None),
    (exceptions.NotAcceptable, "NOT_ACCEPTABLE", None),
    (exceptions.ParseError, "VALIDATION_ERROR", None),
    (exceptions.ValidationError, "VALIDATION_ERROR", "Some fields are missing or invalid; see details."),
    (exceptions.Throttled, "THROTTLED", None),
]

_UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
    DatabaseOperationalError,
)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, _UNAVAILABLE):
        logger.warning(
            "Service unavailable while handling %s: %s", context.get("request") and context["request"].path, exc
        )
        return Response(
            error_body(
                "A service QuizMarker depends on is briefly unavailable; please try again in a minute.",
                "SERVICE_UNAVAILABLE",
            ),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "30"},
        )
    from rest_framework.views import exception_handler as drf_exception_handler  # lazy: views import our settings

    if isinstance(exc, errors.DomainError):
        exc = api_error(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        response.data = error_body(str(exc.detail), exc.error_code, exc.details)
        if exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response
    code, message = next(
        ((code, message) for exc_type, code, message in _CODES if isinstance(exc, exc_type)), ("ERROR", None)
    )
    details: dict = {}
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
    if isinstance(exc, exceptions.ParseError):  # the parser's own words ("JSON parse error - Expecting ...")
        details = {"parse_error": str(exc.detail)}
        message = "The request body could not be read; send valid JSON (or form data for uploads)."
    if isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 60)
        details = {"retry_after_seconds": wait}
        message = f"Too many requests; try again in {wait} seconds."
        response["Retry-After"] = str(wait)
    if message is None:
        message = str(exc.detail) if not isinstance(exc.detail, (list, dict)) else "The request was not accepted."
    response.data = error_body(message, code, details)
    return response


def api_not_found(request, *args, **kwargs) -> JsonResponse:
    return JsonResponse(error_body(f"There is no API endpoint at {request.path}.", "NOT_FOUND"), status=404)


class AddressesOrganization(BasePermission):
    """An authenticated user addresses an active organization; the view checks membership itself (cheaply)."""

    def has_permission(self, request, view) -> bool:
        organization = getattr(request, "organization", None)
        if organization is None or connection.schema_name == get_public_schema_name():
            raise exceptions.NotFound("Address an organization by its host, e.g. demo.localhost.")
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if not organization.is_active and not request.user.is_superuser:
            raise denied(DEACTIVATED)
        audit_outsider_access(request, organization, "its API")
        return True


class IsOrganizationMember(BasePermission):
    """The request addresses an active organization the user belongs to (super admins may address any).

    Others get 404 — the contract never confirms that another organization's objects exist.
    """

    def has_permission(self, request, view) -> bool:
        organization = getattr(request, "organization", None)
        if organization is None or connection.schema_name == get_public_schema_name():
            raise exceptions.NotFound("Address an organization by its host, e.g. demo.localhost.")
        user = request.user
        if not user or not user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if user.is_superuser:
            request.membership = membership_for(user, organization)
            audit_outsider_access(request, organization, "its API", request.membership)
            return True
        if not organization.is_active:
            raise denied(DEACTIVATED)
        request.membership = membership_for(user, organization)
        if request.membership is None:
            raise exceptions.NotFound("Not found.")
        return True


class IsOrganizationAdmin(IsOrganizationMember):
    def has_permission(self, request, view) -> bool:
        super().has_permission(request, view)
        if permissions.manages(request.user, request.membership):
            return True
        raise denied("Only the organization's owners and admins may do this.")
