"""The one door webhooks use to reach the outside world (tests patch or serve this)."""

from __future__ import annotations

import requests


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST the body and return the status code. Redirects are not followed (a receiver answers where it is)."""
    response = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    response.close()
    return response.status_code
