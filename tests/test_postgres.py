"""What needs real locking: PostgreSQL, with transactions that really commit."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction

from accounts import services
from accounts.models import Connection, ConnectionEvent
from tests.factories import ConnectionFactory, OrganizationFactory, member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_thread(fn):
    """Run ``fn`` in a worker thread with its own database connection, closed afterwards."""

    def run(*args):
        try:
            return fn(*args)
        finally:
            connection.close()

    return run


def test_concurrent_document_numbers_never_repeat():
    org = OrganizationFactory()

    @_in_thread
    def take(_):
        with transaction.atomic():
            return services.next_document_number(organization=org, kind="po")

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(take, range(40)))
    assert sorted(numbers) == [f"PO-{n:06d}" for n in range(1, 41)]


def test_concurrent_suspensions_record_one_transition():
    conn = ConnectionFactory()
    customer_admin, supplier_admin = member(conn.customer), member(conn.supplier)

    @_in_thread
    def suspend(by):
        try:
            services.suspend_connection(by=by, connection=conn)
            return "ok"
        except Exception as exc:  # the others find it suspended already
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(suspend, [customer_admin, supplier_admin] * 5))
    assert results.count("ok") == 1
    assert set(results) == {"ok", "DomainError"}
    assert ConnectionEvent.objects.filter(connection=conn, kind="suspended").count() == 1
    assert Connection.objects.get(pk=conn.pk).status == "suspended"
