"""What needs real locking: PostgreSQL, with transactions that really commit."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core import mail
from django.db import connection, transaction

from accounts import services
from accounts.models import Connection, ConnectionEvent, OutboundEmail
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


def test_twenty_concurrent_confirmations_confirm_once():
    from orders import services as order_services
    from orders.models import OrderEvent, PurchaseOrder
    from tests.factories import Trade

    trade = Trade()
    po = trade.sent()
    order_services.accept_sales_order(so=po.sales_order, by=trade.sales)

    @_in_thread
    def confirm(_):
        try:
            order_services.confirm_purchase_order(po=PurchaseOrder(pk=po.pk), by=trade.buyer)
            return "ok"
        except Exception as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(confirm, range(20)))
    assert results.count("ok") == 1, results
    assert set(results) == {"ok", "DomainError"}
    assert OrderEvent.objects.filter(purchase_order=po, kind="confirmed").count() == 1
    po.refresh_from_db()
    assert (po.status, po.sales_order.status) == ("confirmed", "confirmed")
    # The one confirmation scheduled one e-mail to each side, sent after its commit.
    assert OutboundEmail.objects.filter(key__startswith=f"order_confirmed:{po.pk}:").count() == 2
    assert sorted(m.subject for m in mail.outbox if "confirmed" in m.subject) == [
        f"{po.number} is confirmed",
        f"{po.sales_order.number} is confirmed by {trade.customer.name}",
    ]


def test_concurrent_purchase_orders_never_share_a_number():
    from orders import services as order_services
    from orders.models import PurchaseOrder
    from tests.factories import Trade

    trade = Trade()

    @_in_thread
    def create(_):
        return order_services.create_purchase_order(by=trade.buyer, connection=trade.connection).number

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(create, range(30)))
    assert len(set(numbers)) == 30
    assert PurchaseOrder.objects.filter(customer=trade.customer).count() == 30
