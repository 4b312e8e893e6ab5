"""A real Redis broker and a real worker: the outbox is delivered out of band, once."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import transaction

from accounts.mail import queue_email
from accounts.models import OutboundEmail
from accounts.tasks import deliver_email
from procurement.celery import app

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(settings):
    keys = ("task_always_eager", "broker_url", "result_backend", "task_ignore_result", "broker_transport_options")
    saved = {k: app.conf[k] for k in keys}
    app.conf.update(
        task_always_eager=False,
        broker_url=settings.REDIS_URL,
        result_backend=settings.REDIS_URL,
        task_ignore_result=False,
        broker_transport_options={**saved["broker_transport_options"], "polling_interval": 0.1},
    )
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield
    app.conf.update(saved)


def test_queued_email_is_delivered_by_the_worker_once(worker):
    with transaction.atomic():
        email = queue_email(
            key="worker-test",
            to=["x@example.com"],
            template="connection_reactivated",
            context={"actor": None, "actor_organization": {"name": "Acme"}, "url": "http://t/"},
        )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        email.refresh_from_db()
        if email.status == OutboundEmail.Status.SENT:
            break
        time.sleep(0.1)
    assert email.status == "sent"
    assert len(mail.outbox) == 1
    # The same task again (a retry, a duplicate delivery) finds it sent and sends nothing.
    result = deliver_email.apply_async(args=[email.pk], ignore_result=False)
    assert result.get(timeout=15) == "nothing to do"
    assert len(mail.outbox) == 1
