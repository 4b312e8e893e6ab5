"""Response headers that no installed library sends: Permissions-Policy, and no-store for signed-in pages.

The Content-Security-Policy comes from django-csp (``csp.middleware.CSPMiddleware``); Referrer-Policy,
Cross-Origin-Opener-Policy, X-Content-Type-Options and HSTS from Django's ``SecurityMiddleware``;
X-Frame-Options from ``XFrameOptionsMiddleware``. The settings live together in the "security headers"
block of ``procurement/settings/base.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers


def permissions_policy_header(policy: Mapping[str, Sequence[str]]) -> str:
    """``{"camera": [], "fullscreen": ["self"]}`` → ``camera=(), fullscreen=(self)``.

    An empty list turns the feature off for the page and every frame in it; ``"self"`` is written
    bare, any other origin quoted, as the header's structured-field syntax wants.
    """
    parts = []
    for feature, origins in policy.items():
        allowed = " ".join(origin if origin in {"self", "*"} else f'"{origin}"' for origin in origins)
        parts.append(f"{feature}=({allowed})")
    return ", ".join(parts)


class PermissionsPolicyMiddleware:
    """Adds ``Permissions-Policy`` (from ``settings.PERMISSIONS_POLICY``) to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response
        self.header = permissions_policy_header(getattr(settings, "PERMISSIONS_POLICY", {}))

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response


class NoStoreForAuthenticatedMiddleware:
    """Every response to a signed-in user says ``Cache-Control: no-store, private``.

    An organization's orders, bills and payments must not come back from a shared computer's
    back button after log-out, nor be kept by a proxy. Anonymous pages (the log-in page) and
    static files (served by WhiteNoise before this middleware runs) keep their own caching.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            # max-age=0, no-cache, no-store, must-revalidate, private (and Expires in the past).
            add_never_cache_headers(response)
        return response
