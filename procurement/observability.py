"""Logs that say which request (and organization, user, Celery task) wrote them.

``RequestIdMiddleware`` (first in ``MIDDLEWARE``) takes the proxy's ``X-Request-ID`` when it
is a sane token, else makes one, keeps it in a context variable for the request and returns it
in the ``X-Request-ID`` header of every response. ``RequestContextMiddleware`` (after the
tenancy middleware) adds the user's and the organization's ids once the view is known.
``RequestContextFilter`` copies them onto every log record, with the Celery task's id and
name inside a task, and masks e-mail addresses in the message: logs carry ids, never
personal data. ``logging_config`` builds ``LOGGING``: readable text lines for the embedded
demo, one JSON object a line (python-json-logger) where ``LOG_FORMAT=json`` or in production.

Errors go to Sentry when ``SENTRY_DSN`` is set (``init_sentry``), otherwise to ``ADMINS`` by
Django's error e-mails (``parse_admins``).
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Any

from celery import current_task
from django.views.debug import SafeExceptionReporterFilter
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
org_id_var: ContextVar[int | None] = ContextVar("org_id", default=None)
user_id_var: ContextVar[int | None] = ContextVar("user_id", default=None)

# What a proxy may hand us: a UUID, a hex or base64url token, nginx's $request_id, AWS's
# "Root=1-…" trace id. Anything else (too long, spaces, quotes, newlines) is replaced.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{7,127}")
EMAIL_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
HEADER = "X-Request-ID"


def request_id_from(value: str | None) -> str:
    """The proxy's request id if it is a sane token, else a new one."""
    if value and SANE_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """First middleware: every response, including redirects and errors of the middlewares
    after it, carries the request id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_from(request.headers.get(HEADER))
        tokens = (request_id_var.set(request.request_id), org_id_var.set(None), user_id_var.set(None))
        try:
            response = self.get_response(request)
        finally:
            for var, token in zip((request_id_var, org_id_var, user_id_var), tokens, strict=True):
                var.reset(token)
        response[HEADER] = request.request_id
        return response


class RequestContextMiddleware:
    """After the tenancy middleware: the user's and organization's ids for the view's logs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            request.log_user_id = user.pk
            user_id_var.set(user.pk)
        organization = getattr(request, "organization", None)
        if organization is not None:
            request.log_org_id = organization.pk
            org_id_var.set(organization.pk)
        return None


class RequestContextFilter(logging.Filter):
    """Adds request_id, org_id, user_id, task_id and task_name to every record (None where
    there is none) and masks e-mail addresses in the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if hasattr(request, "request_id"):
            # Django logs 4xx and 5xx responses after the middlewares have returned, with the
            # request in the record: its ids are kept on it.
            record.request_id = request.request_id
            record.org_id = getattr(request, "log_org_id", None)
            record.user_id = getattr(request, "log_user_id", None)
        else:
            record.request_id = request_id_var.get()
            record.org_id = org_id_var.get()
            record.user_id = user_id_var.get()
        task = current_task
        task_id = getattr(getattr(task, "request", None), "id", None) if task else None
        record.task_id = task_id
        record.task_name = task.name if task_id else None
        message = record.getMessage()
        if "@" in message:
            record.msg, record.args = EMAIL_ADDRESS.sub("[e-mail]", message), ()
        return True


def masked_traceback(formatted: str) -> str:
    """A traceback quotes values too (a unique key's "Key (email)=(ann@…) already exists")."""
    return EMAIL_ADDRESS.sub("[e-mail]", formatted)


class TextLogFormatter(logging.Formatter):
    """The demo's readable lines, with the request id in brackets when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request_tag = f" [{request_id}]" if request_id else ""
        return super().format(record)

    def formatException(self, ei) -> str:  # noqa: N802
        return masked_traceback(super().formatException(ei))


class JsonLogFormatter(JsonFormatter):
    """One JSON object a line; the time in ISO 8601, UTC."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")

    def formatException(self, ei) -> str:  # noqa: N802
        return masked_traceback(super().formatException(ei))


JSON_FIELDS = ["asctime", "levelname", "name", "message", "request_id", "org_id", "user_id", "task_id", "task_name"]
# Attributes never written: Django's ``request`` (its path with the query string, and more)
# and the development server's socket.
NOT_LOGGED = [*RESERVED_ATTRS, "request", "server_time", "socket"]


def logging_config(*, fmt: str, level: str) -> dict[str, Any]:
    """``LOGGING`` for ``fmt`` "json" (production) or "text" (the embedded demo)."""
    formatters = {
        "text": {
            "()": "procurement.observability.TextLogFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s%(request_tag)s %(message)s",
        },
        "json": {
            "()": "procurement.observability.JsonLogFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "reserved_attrs": NOT_LOGGED,
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "procurement.observability.RequestContextFilter"}},
        "formatters": {"main": formatters["json" if fmt == "json" else "text"]},
        "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context"], "formatter": "main"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "axes": {"level": "WARNING"},
            "celery": {"level": "WARNING"},
            "weasyprint": {"level": "WARNING"},
            "fontTools": {"level": "WARNING"},
        },
    }


def parse_admins(value: str) -> list[tuple[str, str]]:
    """``ADMINS="Ann Ops <ann@example.com>,bob@example.com"`` → Django's list of (name, e-mail)."""
    return [(name or address, address) for name, address in getaddresses([value]) if "@" in address]


class PrivateExceptionReporterFilter(SafeExceptionReporterFilter):
    """Error e-mails to ADMINS without what people typed: every POST value is hidden (cookies
    and secret-looking settings already are)."""

    def get_post_parameters(self, request):
        if request is None:
            return {}
        return dict.fromkeys(request.POST, self.cleansed_substitute)


def init_sentry(*, dsn: str, environment: str, release: str | None, traces_sample_rate: float) -> None:
    """Sentry with its Django and Celery integrations: no personal data (user e-mails, IPs,
    cookies) and no request bodies."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        send_default_pii=False,
        max_request_body_size="never",  # no posted values, like the logs
        traces_sample_rate=traces_sample_rate,
        integrations=[DjangoIntegration(), CeleryIntegration()],
    )
