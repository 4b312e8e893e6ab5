"""Logs and errors: JSON lines with the request's ids, X-Request-ID, no personal data, Sentry or ADMINS."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.test import RequestFactory
from django.urls import reverse

from accounts.roles import Role
from accounts.tasks import deliver_email
from procurement.observability import logging_config, parse_admins
from tests.factories import OrganizationFactory, member

ROOT = Path(__file__).resolve().parent.parent
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


@pytest.fixture
def json_log(settings):
    """Production's logging (LOG_FORMAT=json) with its handler writing into a buffer."""
    touched = ["", "axes", "celery", "weasyprint", "fontTools", "django", "django.request", "accounts"]
    saved = {name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers)) for name in touched}
    logging.config.dictConfig(logging_config(fmt="json", level="DEBUG"))
    logging.getLogger("axes").setLevel(logging.DEBUG)  # the log-in test reads everything axes says
    buffer = io.StringIO()
    (handler,) = logging.getLogger().handlers
    handler.setStream(buffer)

    def lines() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines()]

    lines.raw = buffer.getvalue
    yield lines
    for name, (level, handlers) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_json_line_carries_time_level_logger_message_and_the_request_ids(client, db, json_log):
    m = member(OrganizationFactory(), Role.BUYER)
    client.force_login(m.user)
    url = f"/o/{m.organization.slug}/purchase-orders/PO-999999/"
    response = client.get(url, HTTP_X_REQUEST_ID="proxy-4f2a9c1e-77")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "proxy-4f2a9c1e-77"
    (line,) = [line for line in json_log() if line["logger"] == "django.request"]
    assert line["level"] == "WARNING"
    assert line["message"] == f"Not Found: {url}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
    assert line["request_id"] == "proxy-4f2a9c1e-77"
    assert line["org_id"] == m.organization.pk
    assert line["user_id"] == m.user.pk
    assert line["task_id"] is None
    assert "request" not in line  # Django's request object (query string, headers) is never written


def test_outside_a_request_the_ids_are_empty(json_log):
    logging.getLogger("accounts").warning("nightly job done")
    (line,) = json_log()
    assert line["message"] == "nightly job done"
    assert line["request_id"] is None and line["org_id"] is None and line["user_id"] is None


@pytest.mark.parametrize("sent", ["", "short", "has space in it", 'quote"injection-12345', "x" * 200, "new\nline-1234"])
def test_an_insane_request_id_from_the_proxy_is_replaced(client, db, sent):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=sent)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_every_response_carries_a_request_id(client, db):
    ids = {client.get(path)["X-Request-ID"] for path in ["/healthz", "/", reverse("accounts:login"), "/o/nope/"]}
    assert len(ids) == 4  # a new one each time: the anonymous redirect and the 404 too


def test_a_log_in_writes_no_email_address(client, db, json_log):
    m = member(OrganizationFactory(), email="ann.buyer@example.com")
    url = reverse("accounts:login")
    start = len(json_log.raw())  # from here on: the log-in only
    for _ in range(2):
        client.post(url, {"username": m.user.email, "password": "wrong"})
    response = client.post(url, {"username": m.user.email, "password": "demo"})
    assert response.status_code == 302
    client.get(response["Location"], follow=True)
    written = json_log.raw()[start:]
    assert "AXES" in written  # axes did log the failures and the log-in
    assert not EMAIL.search(written), written
    assert "demo" not in written and "wrong" not in written


def test_email_addresses_in_a_message_are_masked(json_log):
    logging.getLogger("accounts").warning("bounce for %s from %s", "ann@example.com", "Postmark")
    (line,) = json_log()
    assert line["message"] == "bounce for [e-mail] from Postmark"


def test_email_addresses_in_a_traceback_are_masked(json_log):
    try:
        raise ValueError("duplicate key value: Key (email)=(ann@example.com) already exists.")
    except ValueError:
        logging.getLogger("accounts").exception("could not save")
    (line,) = json_log()
    assert "Key (email)=([e-mail]) already exists" in line["exc_info"]
    assert "ann@example.com" not in json.dumps(line)


def test_a_celery_task_logs_its_id_and_name(db, json_log, settings):
    from accounts.mail import queue_email

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2  # refused
    org = OrganizationFactory()
    email = queue_email(key="t-1", to=["a@example.com"], template="member_invitation", context={}, organization=org)
    result = deliver_email.apply(args=[email.pk], task_id="task-abc-123")
    assert result.get() == "failed"
    (line,) = [line for line in json_log() if line["logger"] == "accounts.tasks"]
    assert line["task_id"] == "task-abc-123"
    assert line["task_name"] == "accounts.tasks.deliver_email"
    assert line["message"].startswith(f"e-mail {email.pk} failed (attempt 1)")


def test_text_logs_stay_readable_in_the_demo(client, db, settings):
    logging.config.dictConfig(logging_config(fmt="text", level="INFO"))
    buffer = io.StringIO()
    (handler,) = logging.getLogger().handlers
    handler.setStream(buffer)
    try:
        logging.getLogger("accounts").warning("outside a request")
        client.get("/no-such-page/", HTTP_X_REQUEST_ID="demo-request-0001")
    finally:
        logging.config.dictConfig(settings.LOGGING)
        logging.getLogger().handlers[:] = []
    first, second = buffer.getvalue().splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING accounts outside a request", first)
    assert second.endswith(" WARNING django.request [demo-request-0001] Not Found: /no-such-page/")


def test_admins_come_from_the_environment():
    assert parse_admins("Ann Ops <ann@example.com>, bob@example.com") == [
        ("Ann Ops", "ann@example.com"),
        ("bob@example.com", "bob@example.com"),
    ]
    assert parse_admins("") == []


def test_error_emails_to_admins_hide_what_was_posted(settings, db):
    settings.ADMINS = [("Ann Ops", "ops@example.com")]
    request = RequestFactory().post("/o/x/bills/new/", {"supplier_invoice": "SECRET-INVOICE-42", "note": "private"})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("django.request").error(
            "Internal Server Error: %s", request.path, exc_info=True, extra={"status_code": 500, "request": request}
        )
    (message,) = mail.outbox
    assert message.to == ["ops@example.com"]
    assert "RuntimeError" in message.body
    assert "SECRET-INVOICE-42" not in message.body and "private" not in message.body


def _settings_in_subprocess(tmp_path: Path, code: str, **extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SENTRY_", "ADMINS"))}
    env.update(
        DJANGO_SETTINGS_MODULE="procurement.settings.production",
        SECRET_KEY="x7" * 30,
        ALLOWED_HOSTS="tandem.test",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        **extra,
    )
    script = f"import django; django.setup(); from django.conf import settings; import sentry_sdk; {code}"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_sentry_starts_only_with_a_dsn_and_then_replaces_admin_emails(tmp_path):
    code = "print(sentry_sdk.get_client().is_active(), settings.ADMINS)"
    admins = "Ann Ops <ann@example.com>"
    assert _settings_in_subprocess(tmp_path, code, ADMINS=admins) == "False [('Ann Ops', 'ann@example.com')]"
    # A DSN on a closed local port: nothing is sent anywhere.
    dsn = f"https://key@127.0.0.1:{free_port()}/1"
    options = (
        "c = sentry_sdk.get_client(); "
        "print(c.is_active(), c.options['send_default_pii'], c.options['max_request_body_size'], "
        "c.options['environment'], settings.ADMINS)"
    )
    assert _settings_in_subprocess(tmp_path, options, ADMINS=admins, SENTRY_DSN=dsn, SENTRY_ENVIRONMENT="staging") == (
        "True False never staging []"
    )


def test_production_logs_json_and_the_demo_text(tmp_path):
    code = "print(settings.LOGGING['formatters']['main']['()'])"
    assert _settings_in_subprocess(tmp_path, code) == "procurement.observability.JsonLogFormatter"
    assert _settings_in_subprocess(tmp_path, code, LOG_FORMAT="text") == "procurement.observability.TextLogFormatter"
