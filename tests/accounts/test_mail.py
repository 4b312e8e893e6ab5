"""The outbox: rendered in the transaction, sent after commit by a task, never twice."""

import pytest
from django.core import mail
from django.db import transaction

from accounts import services
from accounts.mail import queue_email
from accounts.models import OutboundEmail
from accounts.tasks import deliver_email, deliver_pending_emails
from tests.factories import OrganizationFactory, member


def _queue(key="k1", context=None):
    return queue_email(
        key=key,
        to=["x@example.com"],
        template="connection_reactivated",
        context=context or {"actor": None, "actor_organization": {"name": "<b>Acme</b>"}, "url": "http://t/x"},
    )


def test_nothing_is_sent_before_commit_and_a_rollback_sends_nothing(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _queue()
    assert len(callbacks) == 1 and not mail.outbox


def test_a_retried_task_does_not_send_twice(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        email = _queue()
    assert len(mail.outbox) == 1
    assert deliver_email.apply(args=[email.pk]).get() == "nothing to do"
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.status == "sent" and email.attempts == 1


def test_the_same_key_queues_one_message(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = _queue()
        second = _queue()
    assert first.pk == second.pk and len(mail.outbox) == 1


def test_html_part_is_escaped_and_text_part_is_plain(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _queue()
    message = mail.outbox[0]
    html = message.alternatives[0][0]
    assert "&lt;b&gt;Acme&lt;/b&gt;" in html and "<b>Acme</b>" not in html
    assert "<b>Acme</b>" in message.subject  # subject and text are plain text, not HTML
    assert "http://t/x" in message.body


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionError("provider down")


def test_a_failing_provider_never_fails_the_action(db, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.accounts.test_mail.BrokenBackend"
    org = OrganizationFactory()
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invite_member(by=member(org), email="x@example.com", roles=["buyer"])
    assert invitation.pk  # the action stands
    email = OutboundEmail.objects.get()
    assert email.status == "failed" and "provider down" in email.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert deliver_pending_emails.apply().get() == 1
    email.refresh_from_db()
    assert email.status == "sent" and len(mail.outbox) == 1


def test_sent_through_anymail(db, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        email = _queue()
    assert mail.outbox[0].anymail_test_params["to"][0].addr_spec == "x@example.com"
    email.refresh_from_db()
    assert email.status == "sent" and email.provider_message_id == "0"  # the test backend numbers messages


def test_queueing_inside_a_rolled_back_transaction_leaves_nothing(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        _queue()
        raise RuntimeError
    assert not OutboundEmail.objects.exists() and not mail.outbox
