"""A worker killed (SIGKILL) in the middle of the documents task, then a new worker: exactly
one invoice, one bill and one e-mail of each kind (SPEC §6).

First the pool process running the task is killed: ``reject_on_worker_lost`` puts the task back
and the worker's next pool process takes it. Then the whole worker is killed: ``acks_late`` left
the task unacknowledged, so a new worker gets it. Without either setting the task would be lost
and this test would time out. Real Redis, real worker processes, PostgreSQL (the workers read
the test database)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import OutboundEmail
from billing.models import Bill, BillLine, Invoice, InvoiceLine
from billing.tasks import issue_documents
from orders.models import OrderEvent, PurchaseOrder, SalesOrder
from orders.services import negotiation
from procurement.celery import app
from tests.factories import Trade

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[1]


def _worker(queue: str, log: Path, pool: str = "solo", **env) -> subprocess.Popen:
    """A worker process on the test database and this test's queue, in its own process group."""
    db = connection.settings_dict
    command = [sys.executable, "-m", "celery", "-A", "procurement", "worker", f"--pool={pool}", "--concurrency=1"]
    command += ["-Q", queue, "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "INFO"]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        start_new_session=True,  # the worker and its pool process die together (os.killpg)
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "procurement.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            **env,
        },
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _waiting_backends() -> set[int]:
    """The database sessions waiting on a lock (the task, on the order's row)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # inside a transaction the view is a snapshot
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return {row[0] for row in cursor.fetchall()}


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.fixture
def queue():
    """A queue of this test's own on the real broker (the app's routing is left alone)."""
    name = f"kill-test-{uuid.uuid4().hex[:8]}"
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield name
    app.conf.task_always_eager = eager
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(name)


def test_a_worker_killed_mid_task_leaves_the_documents_to_the_next_one(queue, tmp_path):
    trade = Trade()
    po = trade.sent()
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    # Confirmed, and its documents' task on the broker for the workers (on this test's queue; the
    # confirmation's own scheduling is tested elsewhere).
    PurchaseOrder.objects.filter(pk=po.pk).update(status="confirmed", confirmed_at=timezone.now())
    SalesOrder.objects.filter(pk=po.sales_order.pk).update(status="confirmed")
    issue_documents.apply_async(args=[po.pk], queue=queue)
    assert not Invoice.objects.exists()
    log = tmp_path / "workers.log"

    first = None
    try:
        with transaction.atomic():  # hold the order's row: the task starts, then waits on it
            PurchaseOrder.objects.select_for_update().get(pk=po.pk)
            first = _worker(queue, log, pool="prefork")
            _wait(_waiting_backends, 60, "the worker to start the task and wait on the order's lock")
            waiting = _waiting_backends()
            (child,) = _children(first.pid)  # --concurrency=1: one pool process
            os.kill(child, signal.SIGKILL)  # the pool process dies mid-task
            _wait(lambda: _waiting_backends() - waiting, 60, "the task to be taken again by a new pool process")
            os.killpg(first.pid, signal.SIGKILL)  # now the whole worker, mid-task again
            first.wait(timeout=30)
        assert first.returncode == -9
    finally:
        if first is not None and first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert not Invoice.objects.exists()  # the killed task's transaction died with it

    time.sleep(3)  # past the next worker's visibility timeout: the unacknowledged task is handed out again
    second = _worker(queue, log, CELERY_VISIBILITY_TIMEOUT="2")
    try:
        _wait(
            lambda: (
                OutboundEmail.objects.filter(key__startswith="bill_received:", status="sent").exists()
                and OutboundEmail.objects.filter(key__startswith="invoice_issued:", status="sent").exists()
            ),
            90,
            "the next worker to make the documents and send their e-mails",
        )
        time.sleep(1)  # anything doubled would show now
    finally:
        os.killpg(second.pid, signal.SIGKILL)
        second.wait(timeout=30)
    assert "WorkerLostError" in log.read_text()  # the first kill was seen, and the task put back
    assert (Invoice.objects.count(), Bill.objects.count()) == (1, 1)
    assert (InvoiceLine.objects.count(), BillLine.objects.count()) == (1, 1)
    assert Bill.objects.get().invoice == Invoice.objects.get() == PurchaseOrder.objects.get(pk=po.pk).invoice
    assert OrderEvent.objects.filter(purchase_order=po, kind="invoiced").count() == 1
    for kind in ("invoice_issued", "bill_received"):
        email = OutboundEmail.objects.get(key__startswith=f"{kind}:")
        assert (email.status, email.attempts) == ("sent", 1)
