from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict:
    from organizations import permissions

    organization = getattr(request, "organization", None)
    return {
        **permissions.for_request(request),
        "organization": organization,
        "membership": getattr(request, "membership", None),
        "base_domain": settings.BASE_DOMAIN,
        "public_url": public_url(),
    }


def public_url(path: str = "/") -> str:
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return f"{settings.SITE_SCHEME}://{settings.BASE_DOMAIN}{port}{path}"
