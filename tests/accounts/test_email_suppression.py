"""Bounces and complaints from the ESP (Postmark's tracking webhook through anymail): recorded
once per address, never sent to again, shown to the organization's admins."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.mail import queue_email
from accounts.models import EmailSuppression, OutboundEmail
from accounts.roles import Role
from accounts.suppressions import lift_email_suppression, record_email_event
from accounts.tasks import deliver_email
from tests.factories import OrganizationFactory, UserFactory, member

URL = "/anymail/postmark/tracking/"
SECRET = "tandem-hook:0a9f3c7e51b2d4"

# Postmark's documented bounce webhook (https://postmarkapp.com/developer/webhooks/bounce-webhook).
BOUNCE = {
    "RecordType": "Bounce",
    "MessageStream": "outbound",
    "ID": 4323372036854775807,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "Tag": "Test",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Metadata": {"a_key": "a_value", "b_key": "b_value"},
    "ServerID": 23,
    "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
    "Details": "Test bounce details",
    "Email": "john@example.com",
    "From": "sender@example.com",
    "BouncedAt": "2019-11-05T16:33:54.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Test subject",
    "Content": "<Full dump of bounce>",
}
# Postmark's documented spam complaint webhook.
COMPLAINT = {
    "RecordType": "SpamComplaint",
    "MessageStream": "outbound",
    "ID": 42,
    "Type": "SpamComplaint",
    "TypeCode": 512,
    "Name": "Spam complaint",
    "Tag": "Test",
    "MessageID": "00000000-0000-0000-0000-000000000000",
    "Metadata": {"a_key": "a_value", "b_key": "b_value"},
    "ServerID": 1234,
    "Description": "",
    "Details": "Test spam complaint details",
    "Email": "john@example.com",
    "From": "sender@example.com",
    "BouncedAt": "2019-11-06T16:33:54.9070259Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": False,
    "Subject": "Test subject",
    "Content": "<Abuse report dump>",
}
# Postmark's documented delivery webhook: not a reason to stop sending.
DELIVERY = {
    "RecordType": "Delivery",
    "ServerID": 23,
    "MessageStream": "outbound",
    "MessageID": "00000000-0000-0000-0000-000000000000",
    "Recipient": "jane@example.com",
    "Tag": "welcome-email",
    "DeliveredAt": "2019-11-05T16:33:54.9070259Z",
    "Details": "Test delivery webhook details",
    "Metadata": {"a_key": "a_value", "b_key": "b_value"},
}


@pytest.fixture(autouse=True)
def _webhook_secret(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}


def post(payload: dict, auth: str | None = SECRET):
    headers = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    # A fresh client: the ESP has no session, cookie or CSRF token.
    return Client(enforce_csrf_checks=True).post(URL, json.dumps(payload), content_type="application/json", **headers)


def test_a_postmark_bounce_is_recorded_once(db):
    assert post(BOUNCE).status_code == 200
    assert post(BOUNCE).status_code == 200  # Postmark retries: the same event again
    (row,) = EmailSuppression.objects.all()
    assert row.address == "john@example.com"
    assert row.reason == EmailSuppression.Reason.BOUNCED
    assert row.description.startswith("The server was unable to deliver your message")
    assert (row.provider, row.provider_event_id) == ("Postmark", "4323372036854775807")
    seen = datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=UTC)
    assert row.first_seen_at == row.last_seen_at == seen


def test_a_later_complaint_updates_the_same_row(db):
    post(BOUNCE)
    post(COMPLAINT)
    (row,) = EmailSuppression.objects.all()
    assert row.reason == EmailSuppression.Reason.COMPLAINED
    assert row.provider_event_id == "42"
    assert row.description == "Test spam complaint details"  # Postmark's description is empty
    assert row.first_seen_at.date().isoformat() == "2019-11-05"
    assert row.last_seen_at.date().isoformat() == "2019-11-06"
    post(BOUNCE)  # the older event retried: the latest still describes the address
    row.refresh_from_db()
    assert row.reason == EmailSuppression.Reason.COMPLAINED


@pytest.mark.parametrize("auth", [None, "tandem-hook:wrong", "someone:else"])
def test_the_webhook_needs_the_basic_auth_secret(db, auth):
    response = post(BOUNCE, auth=auth)
    assert response.status_code == 400
    assert not EmailSuppression.objects.exists()


def test_a_delivery_changes_nothing(db):
    assert post(DELIVERY).status_code == 200
    assert not EmailSuppression.objects.exists()


def test_the_service_ignores_events_that_say_nothing_of_the_address(db):
    assert record_email_event(address="a@example.com", event_type="deferred") is None
    assert record_email_event(address="a@example.com", event_type="rejected", reject_reason="blocked") is None
    assert record_email_event(address="", event_type="bounced") is None
    assert record_email_event(address="A@Example.com", event_type="rejected", reject_reason="invalid").address == (
        "a@example.com"
    )
    assert EmailSuppression.objects.count() == 1


def _queue(org, *to: str) -> OutboundEmail:
    return queue_email(key=f"k-{'-'.join(to)}", to=list(to), template="member_invitation", context={}, organization=org)


def test_the_outbox_leaves_out_suppressed_recipients(db):
    post(BOUNCE)
    org = OrganizationFactory()
    email = _queue(org, "john@example.com", "jane@example.com")
    assert deliver_email.apply(args=[email.pk]).get() == "sent"
    (message,) = mail.outbox
    assert message.to == ["jane@example.com"]
    email.refresh_from_db()
    assert email.status == OutboundEmail.Status.SENT
    assert email.suppressed == ["john@example.com"]


def test_a_message_with_nobody_left_is_marked_and_not_sent(db):
    post(BOUNCE)
    email = _queue(OrganizationFactory(), "john@example.com")
    assert deliver_email.apply(args=[email.pk]).get() == "suppressed"
    assert deliver_email.apply(args=[email.pk]).get() == "nothing to do"
    assert mail.outbox == []
    email.refresh_from_db()
    assert (email.status, email.suppressed, email.attempts) == ("suppressed", ["john@example.com"], 0)


def test_a_platform_admin_lifts_a_suppression(db):
    post(BOUNCE)
    row = EmailSuppression.objects.get()
    with pytest.raises(Exception, match="Only a platform admin"):
        lift_email_suppression(suppression=row, by=UserFactory())
    lift_email_suppression(suppression=row, by=UserFactory(is_superuser=True, is_staff=True))
    assert not EmailSuppression.objects.exists()


def test_admins_see_a_bounced_badge_next_to_the_member(client, db):
    org = OrganizationFactory()
    admin = member(org)
    member(org, Role.BUYER, email="john@example.com")
    member(org, Role.BUYER, email="jane@example.com")
    post(BOUNCE)
    client.force_login(admin.user)
    page = client.get(reverse("accounts:members", args=[org.slug])).content.decode()
    assert page.count("badge text-bg-danger") == 1
    row = page[page.index("john@example.com") :][:600]
    assert ">bounced</span>" in row and "on 5 Nov 2019" in row and "unable to deliver your message" in row


def test_settings_say_the_notification_address_bounced(client, db):
    org = OrganizationFactory(notification_email="orders@example.com")
    admin = member(org)
    client.force_login(admin.user)
    url = reverse("accounts:settings", args=[org.slug])
    assert "Tandem sends it nothing more" not in client.get(url).content.decode()
    post({**COMPLAINT, "Email": "Orders@Example.com"})
    page = client.get(url).content.decode()
    assert "Notification e-mail orders@example.com" in page
    assert ">marked as spam</span>" in page and "Tandem sends it nothing more" in page


def test_production_refuses_the_webhook_without_a_secret(tmp_path):
    """anymail only warns when WEBHOOK_SECRET is missing; production makes that an error."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ANYMAIL_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="procurement.settings.production",
        SECRET_KEY="x7" * 30,
        ALLOWED_HOSTS="tandem.test",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL="redis://127.0.0.1:9/0",
        STATIC_ROOT=str(tmp_path / "static"),  # as on a fresh clone: nothing collected
    )
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "try:\n"
        f"    Client(HTTP_HOST='tandem.test').post('{URL}', '{{}}', content_type='application/json', secure=True)\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    root = Path(__file__).resolve().parent.parent.parent
    # The static files collected as the image does (the error page names them).
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"], cwd=root, env=env, capture_output=True, text=True
    )
    assert collected.returncode == 0, collected.stderr
    result = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True)
    assert result.stdout.strip() == "AnymailInsecureWebhookWarning", result.stderr


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_events_of_one_address_make_one_row():
    """The ESP sends a bounce and a complaint of one address at once (and retries): one row,
    no error, the latest event describing it."""

    def receive(payload):
        try:
            return post(payload).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(receive, [BOUNCE, COMPLAINT] * 6))
    assert statuses == [200] * 12
    (row,) = EmailSuppression.objects.all()
    assert row.reason == EmailSuppression.Reason.COMPLAINED
    assert row.first_seen_at.date().isoformat() == "2019-11-05"
