"""Log-in throttling: what django-axes counts, and the handler that decides a lock-out."""

from __future__ import annotations

import ipaddress

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


def axes_username(request, credentials) -> str:
    """Axes counts failures per (e-mail, IP); the e-mail is case-folded so that
    ``Ann@x`` and ``ann@x`` are one account, as they are at log-in."""
    raw = (credentials or {}).get("username") or request.POST.get("username", "")
    return raw.strip().lower()


def client_ip(request) -> str | None:
    """The address log-in throttling counts: REMOTE_ADDR, or behind the proxy the header it sets
    (``CLIENT_IP_HEADER``). Behind a proxy REMOTE_ADDR is the proxy's, so every client would share
    one lock-out."""
    if settings.CLIENT_IP_HEADER:
        value = request.headers.get(settings.CLIENT_IP_HEADER, "").strip()
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass  # no proxy in front of this request after all
    return request.META.get("REMOTE_ADDR")


class LockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler with a second limit: failures from one IP address across
    every account. Axes counts per (e-mail, IP), so nobody locks a victim out from elsewhere;
    on its own that lets one address try a few passwords at every account (a spray). Here an
    address with ``AXES_IP_FAILURE_LIMIT`` failures within the cool-off time is paused for all
    accounts, while every other address is left alone."""

    def is_locked(self, request, credentials=None) -> bool:
        return super().is_locked(request, credentials) or self.ip_failures(request) >= settings.AXES_IP_FAILURE_LIMIT

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        if (
            request is not None
            and not request.axes_locked_out
            and self.ip_failures(request) >= settings.AXES_IP_FAILURE_LIMIT
        ):
            request.axes_locked_out = True  # the middleware answers with the lock-out page
            request.axes_credentials = credentials

    def ip_failures(self, request) -> int:
        ip_address = getattr(request, "axes_ip_address", None)
        if not ip_address:
            return 0
        attempts = AccessAttempt.objects.filter(ip_address=ip_address)
        if settings.AXES_COOLOFF_TIME:
            attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
        return attempts.aggregate(failures=Sum("failures_since_start"))["failures"] or 0
