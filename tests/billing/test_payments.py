"""Payments (SPEC §6, transitions 13–15): recorded by payables up to what is outstanding,
verified with the amount received or disputed by receivables; the bill's and the invoice's
states follow, and the pair closes when the goods are received too. Every refusal writes
nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.roles import Role
from billing.forms import PaymentForm
from billing.models import Bill, Invoice, Payment
from billing.services.documents import issue_documents
from billing.services.payments import dispute_payment, record_payment, remind_overdue_bills, verify_payment
from orders.models import OrderEvent
from orders.services import fulfilment
from procurement.errors import DomainError, NotAllowed
from procurement.money import parse_decimal
from tests.factories import member, receipt_line

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate


@pytest.fixture
def bill(trade):
    """A confirmed order of 10 BOLT at 2.50: a bill of 25.00."""
    po = trade.confirmed()
    issue_documents(po=po)
    return Bill.objects.get(purchase_order=po)


def _pay(trade, bill, amount, **kwargs):
    return record_payment(
        bill=bill,
        by=kwargs.pop("by", trade.payables),
        amount=parse_decimal(amount) if amount else None,  # the text typed, as PaymentForm reads it
        paid_on=kwargs.pop("paid_on", TODAY()),
        method=kwargs.pop("method", "bank_transfer"),
        **kwargs,
    )


def _state(bill):
    bill.refresh_from_db()
    return bill.status, bill.paid_total, bill.verified_total, bill.invoice.status


def _written(bill):
    bill.refresh_from_db()
    return (
        Payment.objects.count(),
        bill.status,
        bill.paid_total,
        bill.verified_total,
        OrderEvent.objects.count(),
        len(mail.outbox),
    )


def test_open_partially_paid_paid_verified(trade, bill, django_capture_on_commit_callbacks):
    assert bill.total == Decimal("25.00")
    with django_capture_on_commit_callbacks(execute=True):
        first = _pay(trade, bill, "10.00", reference="TRF-1")
    assert _state(bill) == ("partially_paid", 10, 0, "open")
    assert first.status == "pending" and first.recorded_by == trade.payables.user
    assert [m.subject for m in mail.outbox] == [
        f"{trade.customer.name} paid 10.00 USD on invoice {bill.invoice.number}: please verify"
    ]
    assert mail.outbox[0].to == [trade.receivables.user.email] or trade.receivables.user.email in mail.outbox[0].to
    assert mail.outbox[0].attachments[0][0] == f"{bill.invoice.number}.pdf"
    second = _pay(trade, bill, "15")
    assert _state(bill) == ("paid", 25, 0, "open")  # paid, waiting for the supplier
    verify_payment(payment=first, by=trade.receivables, amount_received=Decimal("10.00"))
    assert _state(bill) == ("paid", 25, 10, "open")
    verify_payment(payment=second, by=trade.receivables, amount_received=Decimal("15.00"))
    assert _state(bill) == ("verified", 25, 25, "paid")
    assert Invoice.objects.get(pk=bill.invoice_id).paid_at is not None
    kinds = list(bill.purchase_order.events.values_list("kind", flat=True))
    assert kinds.count("payment") == 2 and kinds.count("payment_verified") == 2


def test_nothing_more_than_outstanding(trade, bill):
    _pay(trade, bill, "20")
    before = _written(bill)
    with pytest.raises(DomainError, match="At most 5.00 USD is outstanding") as exc:
        _pay(trade, bill, "5.01")
    assert exc.value.field == "amount"
    assert _written(bill) == before
    _pay(trade, bill, "5.00")
    with pytest.raises(DomainError, match="nothing is left to pay"):
        _pay(trade, bill, "0.01")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": ""}, "amount"),
        ({"paid_on": None}, "paid_on"),
        ({"paid_on": TODAY() + timedelta(days=1)}, "paid_on"),
        ({"method": "barter"}, "method"),
        ({"reference": "<script>x</script>"}, "reference"),
    ],
)
def test_bad_payments_are_refused_and_write_nothing(trade, bill, values, field):
    before = _written(bill)
    kwargs = {"amount": "1", **values}
    amount = kwargs.pop("amount")
    with pytest.raises(DomainError) as exc:
        _pay(trade, bill, amount, **kwargs)
    assert exc.value.field == field
    assert _written(bill) == before


@pytest.mark.parametrize("paid_on", ["2026-01-05", "tomorrow", timezone.now()])
def test_the_payment_service_takes_a_date_not_text(trade, bill, paid_on):
    """A date typed by a person is parsed by the form's DateField; the service refuses text (it
    read ISO strings once) and a datetime, and writes nothing."""
    before = _written(bill)
    with pytest.raises(TypeError, match="paid_on must be a date"):
        _pay(trade, bill, "1", paid_on=paid_on)
    assert _written(bill) == before


@pytest.mark.parametrize("amount", ["1,50", "1e3", "abc"])
def test_an_amount_that_cannot_be_read_is_refused_by_the_payment_form(amount):
    form = PaymentForm({"amount": amount, "paid_on": str(TODAY()), "method": "bank_transfer"})
    assert not form.is_valid() and list(form.errors) == ["amount"]


def test_a_payment_in_the_future_is_refused(trade, bill):
    with pytest.raises(DomainError, match="before it is made"):
        _pay(trade, bill, "1", paid_on=TODAY() + timedelta(days=1))


def test_the_proof_of_payment_must_be_a_pdf_or_an_image(trade, bill):
    fake = SimpleUploadedFile("proof.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    with pytest.raises(DomainError, match="not a PDF") as exc:
        _pay(trade, bill, "1", attachment=fake)
    assert exc.value.field == "attachment"
    real = SimpleUploadedFile("proof.pdf", b"%PDF-1.4\n%%EOF\n", content_type="application/pdf")
    payment = _pay(trade, bill, "1", attachment=real)
    assert payment.attachment_name == "proof.pdf" and payment.attachment.read().startswith(b"%PDF")


def test_roles_and_sides(trade, bill):
    with pytest.raises(NotAllowed):
        _pay(trade, bill, "1", by=trade.buyer)
    with pytest.raises(NotAllowed):  # the supplier's people do not pay the customer's bill
        _pay(trade, bill, "1", by=member(trade.supplier, Role.ADMIN))
    payment = _pay(trade, bill, "1")
    with pytest.raises(NotAllowed):
        verify_payment(payment=payment, by=trade.sales, amount_received=Decimal("1"))
    with pytest.raises(NotAllowed):  # the payer cannot verify its own payment
        verify_payment(payment=payment, by=trade.customer_admin, amount_received=Decimal("1"))
    assert Payment.objects.get().status == "pending"


def test_verified_short_counts_what_arrived(trade, bill):
    payment = _pay(trade, bill, "25")
    with pytest.raises(DomainError, match="At most the 25.00 USD") as exc:
        verify_payment(payment=payment, by=trade.receivables, amount_received=Decimal("25.01"))
    assert exc.value.field == "amount_received"
    verify_payment(payment=payment, by=trade.receivables, amount_received=Decimal("24.50"))
    assert _state(bill) == ("partially_paid", Decimal("24.50"), Decimal("24.50"), "open")
    bill.refresh_from_db()
    assert bill.outstanding == Decimal("0.50")
    assert "0.50 USD short" in bill.purchase_order.events.filter(kind="payment_verified").get().body
    with pytest.raises(DomainError, match="verified already"):
        verify_payment(payment=payment, by=trade.receivables, amount_received=Decimal("25"))
    _pay(trade, bill, "0.50")
    assert _state(bill)[0] == "paid"


def test_a_disputed_payment_no_longer_counts(trade, bill, django_capture_on_commit_callbacks):
    payment = _pay(trade, bill, "25")
    with pytest.raises(DomainError) as exc:
        dispute_payment(payment=payment, by=trade.receivables, reason=" ")
    assert exc.value.field == "reason"
    with django_capture_on_commit_callbacks(execute=True):
        dispute_payment(payment=payment, by=trade.receivables, reason="Nothing arrived on our account")
    assert _state(bill) == ("open", 0, 0, "open")
    email = mail.outbox[-1]
    assert "disputes your payment" in email.subject and trade.payables.user.email in email.to
    assert "Nothing arrived on our account" in email.body
    with pytest.raises(DomainError, match="disputed already"):
        verify_payment(payment=payment, by=trade.receivables, amount_received=Decimal("25"))
    _pay(trade, bill, "25")  # owed again: it can be paid again
    assert _state(bill)[0] == "paid"


def test_verification_closes_a_received_order(trade, bill):
    po = bill.purchase_order
    receiver = member(trade.customer, Role.RECEIVER)
    fulfilment.record_receipt(
        po=po, by=receiver, lines={po.lines.get().pk: receipt_line(quantity="10")}, received_on=TODAY()
    )
    po.refresh_from_db()
    assert po.status == "received"
    payment = _pay(trade, bill, "25")
    po.refresh_from_db()
    assert po.status == "received"  # paid is not enough: verified
    verify_payment(payment=payment, by=trade.receivables, amount_received=Decimal("25"))
    po.refresh_from_db()
    assert po.status == "closed" and po.sales_order.status == "completed"


def test_overdue(trade, bill):
    Bill.objects.filter(pk=bill.pk).update(due_date=TODAY() - timedelta(days=1))
    bill.refresh_from_db()
    assert bill.is_overdue
    assert remind_overdue_bills() == 1
    assert remind_overdue_bills() == 1  # counted, but the outbox key sends it once
    from accounts.models import OutboundEmail

    assert OutboundEmail.objects.filter(key__startswith="bill_overdue:").count() == 1
    _pay(trade, bill, "25")
    bill.refresh_from_db()
    assert not bill.is_overdue  # paid, waiting for verification: not overdue


def test_the_database_refuses_an_overpaid_bill(bill):
    with pytest.raises(IntegrityError), transaction.atomic():
        Bill.objects.filter(pk=bill.pk).update(paid_total=bill.total + 1)
