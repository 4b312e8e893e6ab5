"""A Redis outage never fails a person's action, and the work catches up once Redis is back.

The broker here is a real Redis started by the test on a port of its own: first nothing
listens there (the outage), then a redis-server is started on it (Redis is back).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import OutboundEmail
from accounts.tasks import deliver_pending_emails
from billing.models import Bill, Invoice
from billing.tasks import issue_missing_documents
from orders.models import PurchaseOrder
from orders.services import negotiation
from procurement.background import DeferredWorkMiddleware, deferred_work, enqueue
from procurement.celery import app
from tests.factories import Trade

REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _reset_connection_pools():
    """Celery keeps its publishing connections once made: start again from the new broker URL."""
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def broker(url: str):
    keys = ("task_always_eager", "broker_url", "broker_transport_options")
    saved = {key: app.conf[key] for key in keys}
    app.conf.update(
        task_always_eager=False,
        broker_url=url,
        # The settings' options (time-outs included), whatever an earlier test left in the app's conf.
        broker_transport_options={**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "polling_interval": 0.1},
    )
    _reset_connection_pools()
    try:
        yield
    finally:
        app.conf.update(saved)
        _reset_connection_pools()


@contextmanager
def redis_server(port: int):
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def accepted_order() -> tuple[Trade, PurchaseOrder]:
    trade = Trade()
    po = trade.sent()
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    return trade, po


def test_enqueue_reports_a_broker_that_is_down_instead_of_raising():
    with broker(f"redis://127.0.0.1:{free_port()}/0"):
        token = deferred_work.set([])
        try:
            assert enqueue(deliver_pending_emails) is False
            assert deferred_work.get() == ["accounts.tasks.deliver_pending_emails"]
        finally:
            deferred_work.reset(token)


@pytest.mark.django_db(transaction=True)
def test_confirm_order_succeeds_and_says_so_while_the_broker_is_down(client):
    trade, po = accepted_order()
    client.force_login(trade.buyer.user)
    with broker(f"redis://127.0.0.1:{free_port()}/0"):
        response = client.post(
            reverse("orders:po-confirm", kwargs={"org_slug": trade.customer.slug, "number": po.number})
        )
    assert response.status_code == 302
    po.refresh_from_db()
    assert po.status == "confirmed"
    page = client.get(response["Location"]).content.decode()
    assert "could not be queued just now" in page
    assert DeferredWorkMiddleware.MESSAGE.split(";")[0] in page
    assert not Invoice.objects.exists()  # the documents wait for the broker…
    confirmation = OutboundEmail.objects.filter(subject__contains="is confirmed")
    assert confirmation.count() == 2 and set(confirmation.values_list("status", flat=True)) == {"queued"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server to start a broker of its own")
def test_after_an_outage_the_sweeps_make_each_document_and_send_each_email_once(client):
    trade, po = accepted_order()  # its e-mails were sent (tasks run in-process until the outage)
    before = set(OutboundEmail.objects.values_list("pk", flat=True))
    mail.outbox.clear()
    client.force_login(trade.buyer.user)
    port = free_port()
    with broker(f"redis://127.0.0.1:{port}/0"):
        # The outage: Confirm order succeeds, nothing reaches a worker.
        response = client.post(
            reverse("orders:po-confirm", kwargs={"org_slug": trade.customer.slug, "number": po.number})
        )
        assert response.status_code == 302
        po.refresh_from_db()
        assert po.status == "confirmed" and not Invoice.objects.exists()
        stuck = set(OutboundEmail.objects.exclude(pk__in=before).values_list("pk", flat=True))
        assert stuck and set(OutboundEmail.objects.filter(pk__in=stuck).values_list("status", flat=True)) == {"queued"}
        assert mail.outbox == []

        # Redis is back, with a worker; some minutes have passed when beat runs its sweeps.
        earlier = timezone.now() - timedelta(minutes=10)
        PurchaseOrder.objects.filter(pk=po.pk).update(confirmed_at=earlier)
        OutboundEmail.objects.update(created_at=earlier)
        with redis_server(port), start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            for _ in range(2):  # beat runs them again later: nothing more happens
                issue_missing_documents.delay()
                deliver_pending_emails.delay()
                assert wait_for(
                    lambda: (
                        Invoice.objects.exists()
                        and Bill.objects.exists()
                        and not OutboundEmail.objects.exclude(status="sent").exists()
                    )
                ), list(OutboundEmail.objects.values_list("subject", "status"))
            # Both sweeps twice, and the worker has had time for any duplicate to arrive.
            time.sleep(1)

    assert Invoice.objects.filter(purchase_order=po).count() == 1
    assert Bill.objects.filter(purchase_order=po).count() == 1
    emails = OutboundEmail.objects.exclude(pk__in=before)
    assert stuck < set(emails.values_list("pk", flat=True))  # the documents' own e-mails too
    assert all(email.status == "sent" and email.attempts == 1 for email in emails)
    sent = [(message.subject, tuple(message.to)) for message in mail.outbox]
    assert len(sent) == len(set(sent)) == emails.count()  # each e-mail once


def test_a_stalled_broker_holds_a_request_for_one_time_out_not_for_ever():
    """A Redis that accepts connections but never answers (a failover, a dead NAT entry)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # connections are accepted by the kernel; nothing ever replies
    try:
        with broker(f"redis://127.0.0.1:{listener.getsockname()[1]}/0"):
            token = deferred_work.set([])
            try:
                started = time.monotonic()
                assert enqueue(deliver_pending_emails) is False
                first = time.monotonic() - started
                assert first < 30, first  # without a socket time-out it waits for ever
                started = time.monotonic()
                assert enqueue(deliver_pending_emails) is False  # the same request: not tried again
                assert time.monotonic() - started < 0.5
                assert deferred_work.get() == ["accounts.tasks.deliver_pending_emails"] * 2
            finally:
                deferred_work.reset(token)
    finally:
        listener.close()
