"""Credit notes under real concurrency (PostgreSQL, committed transactions): twenty runs of the
task for one return make one pair and one e-mail each; a credit racing a payment of everything the
bill asked before it never leaves the bill paid beyond what it allowed when the payment was made."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import OutboundEmail
from billing.models import Bill, CreditNote, CreditNoteLine, DebitNote, DebitNoteLine, Invoice, Payment
from billing.services import credits
from billing.services.documents import issue_documents
from billing.services.payments import record_payment
from billing.tasks import issue_credit_notes
from orders.models import OrderEvent
from tests.billing.returnkit import arrived_back, confirmed, trade_in

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_thread(fn):
    def run(*args):
        try:
            return fn(*args)
        finally:
            connection.close()

    return run


def _order(trade):
    """27.50 USD: 10 × 2.50 + 10 % tax."""
    return confirmed(trade, [{"description": "Goggles", "quantity": "10", "unit_price": "2.50", "tax_rate": "10"}])


def test_twenty_concurrent_runs_for_one_return_make_one_pair_and_one_email_each():
    trade = trade_in()
    po = _order(trade)  # its documents' task has not run: the credit makes them too
    ret = arrived_back(po, {1: "2"})

    @_in_thread
    def run(_):
        return issue_credit_notes.apply(args=[ret.pk]).result

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, range(20)))
    assert set(results) == {"CN-000001 / DN-000001"}, results
    assert (CreditNote.objects.count(), DebitNote.objects.count()) == (1, 1)
    assert (CreditNoteLine.objects.count(), DebitNoteLine.objects.count()) == (1, 1)
    assert (Invoice.objects.count(), Bill.objects.count()) == (1, 1)
    bill, invoice = Bill.objects.get(), Invoice.objects.get()
    assert bill.credited_total == invoice.credited_total == Decimal("5.50")  # counted once
    assert OrderEvent.objects.filter(purchase_order=po, kind=OrderEvent.Kind.CREDITED).count() == 1
    assert OutboundEmail.objects.filter(key__startswith="credit_note_issued:").count() == 1
    assert OutboundEmail.objects.filter(key__startswith="debit_note_received:").count() == 1


@pytest.mark.parametrize("round_", range(5))
def test_a_credit_racing_a_payment_of_everything_never_overpays_the_bill(round_):
    """Payables pays the 27.50 the bill asks while a 5.50 credit is being made: either the payment
    came first (the bill then shows 5.50 in the customer's favour) or the credit did, and the
    payment is refused (at most 22.00 is outstanding then). Never both the credit first and the
    payment of 27.50."""
    trade = trade_in()
    po = _order(trade)
    _, bill = issue_documents(po=po)
    ret = arrived_back(po, {1: "2"})
    start = threading.Barrier(2)

    @_in_thread
    def act(which):
        start.wait()
        try:
            if which == "credit":
                credits.issue_credit_notes(return_request=ret)
            else:
                record_payment(
                    bill=bill,
                    by=trade.payables,
                    amount=Decimal("27.50"),
                    paid_on=timezone.localdate(),
                    method="bank_transfer",
                )
            return "ok"
        except Exception as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=2) as pool:
        credit_result, payment_result = pool.map(act, ["credit", "pay"])
    assert credit_result == "ok"
    assert payment_result in ("ok", "DomainError")
    bill = Bill.objects.get(pk=bill.pk)
    credit = CreditNote.objects.get(return_request=ret)
    payment = Payment.objects.filter(bill=bill).first()
    assert bill.credited_total == Decimal("5.50") and bill.paid_total <= bill.total
    if payment is None:  # the credit came first: 22.00 was all the bill allowed
        assert payment_result == "DomainError" and bill.paid_total == 0
        assert (bill.status, bill.outstanding) == ("open", Decimal("22.00"))
    else:  # the payment came first, when the bill allowed 27.50
        assert payment.recorded_at < credit.created_at
        assert bill.paid_total == Decimal("27.50")
        assert (bill.status, bill.outstanding, bill.balance_in_favour) == ("paid", 0, Decimal("5.50"))
