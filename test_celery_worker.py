"""A real Redis broker and a real worker: the outbox is delivered out of process, once."""

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import transaction

from accounts.mail import queue_email
from accounts.models import OutboundEmail
from procurement.celery import app

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.update(task_always_eager=False, broker_url=settings.REDIS_URL,
                    broker_transport_options={"polling_interval": 0.1})
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield
    app.conf.update(task_always_eager=True)


def test_queued_email_is_delivered_by_the_worker_once(worker):
    with transaction.atomic():
        email = queue_email(key="worker-test", to=["x@example.com"], template="connection_reactivated",
                            context={"actor": None, "actor_organization": {"name": "Acme"}, "url": "http://t/"})
    result_deadline = 100
    for _ in range(result_deadline):
        email.refresh_from_db()
        if email.status == OutboundEmail.Status.SENT:
            break
        import time

        time.sleep(0.1)
    assert email.status == "sent"
    assert len(mail.outbox) == 1
    # A second delivery of the same message (a retry) sends nothing more.
    from accounts.tasks import deliver_email

    assert deliver_email.delay(email.pk).get(timeout=10) == "nothing to do"
    assert len(mail.outbox) == 1
