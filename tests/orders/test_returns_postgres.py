"""Returns under real locking (PostgreSQL, transactions that commit): concurrent requests never
ask back more than arrived, and 20 concurrent confirmations of one return's arrival make one
credit note, one debit note and one e-mail of each."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from accounts.models import OutboundEmail
from accounts.roles import Role
from orders.models import OrderEvent, PurchaseOrder, ReturnRequest
from orders.services import returns
from orders.services.returns import ArrivalInput
from tests.factories import Trade, member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_thread(fn):
    def run(*args):
        try:
            return fn(*args)
        finally:
            connection.close()

    return run


def _outcome(fn):
    try:
        fn()
        return "ok"
    except Exception as exc:  # the others are refused: nothing left, or done already
        return type(exc).__name__


@pytest.fixture
def trade():
    trade = Trade()
    trade.receiver = member(trade.customer, Role.RECEIVER)
    trade.shipper = member(trade.supplier, Role.FULFILMENT)
    return trade


def test_concurrent_requests_never_ask_back_more_than_arrived(trade):
    po = trade.received(lines=[{"listing": trade.listing, "quantity": "10"}])
    line = po.lines.get()

    @_in_thread
    def ask(_):
        return _outcome(
            lambda: returns.request_return(
                po=PurchaseOrder(pk=po.pk),
                by=trade.receiver,
                lines={line.pk: Decimal("3")},
                reason="damaged",
                resolution="credit",
            )
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(ask, range(20)))
    assert results.count("ok") == 3, results  # 3 × 3 of 10; the fourth would make 12
    assert set(results) == {"ok", "DomainError"}
    line.refresh_from_db()
    assert line.quantity_returned == 9
    assert ReturnRequest.objects.filter(purchase_order=po).count() == 3


def test_twenty_concurrent_arrivals_make_one_credit_note_one_debit_note_one_email_each(trade):
    from billing.models import Bill, CreditNote, DebitNote

    po = trade.received(lines=[{"listing": trade.listing, "quantity": "10"}])  # 10 × 2.50
    line = po.lines.get()
    ret = returns.request_return(
        po=po, by=trade.receiver, lines={line.pk: Decimal("2")}, reason="damaged", resolution="credit"
    )
    returns.accept_return(return_request=ret, by=trade.sales)
    returns.ship_return(return_request=ret, by=trade.receiver, shipped_on=timezone.localdate())
    mail.outbox.clear()

    @_in_thread
    def arrive(_):
        return _outcome(
            lambda: returns.receive_return(
                return_request=ReturnRequest(pk=ret.pk),
                by=trade.shipper,
                lines={line.pk: ArrivalInput(Decimal("2"), "as_described")},
                received_on=timezone.localdate(),
            )
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(arrive, range(20)))
    assert results.count("ok") == 1, results
    assert set(results) == {"ok", "DomainError"}
    assert OrderEvent.objects.filter(purchase_order=po, kind=OrderEvent.Kind.RETURN_RECEIVED).count() == 1
    # The one arrival's task (run at its commit): one pair of notes, one e-mail of each.
    assert (CreditNote.objects.count(), DebitNote.objects.count()) == (1, 1)
    credit = CreditNote.objects.get()
    assert credit.total == Decimal("5.00") and credit.debit_note.total == Decimal("5.00")
    assert Bill.objects.get(purchase_order=po).credited_total == Decimal("5.00")
    assert OutboundEmail.objects.filter(key__startswith="credit_note_issued:").count() == 1
    assert OutboundEmail.objects.filter(key__startswith="debit_note_received:").count() == 1
    line.refresh_from_db()
    assert (line.quantity_received_back, line.quantity_credited) == (Decimal("2"), Decimal("2"))
