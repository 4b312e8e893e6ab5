"""Clear contracts of the billing services (issue 17, item 6): verifying or disputing a payment
that is no longer pending, settling a bill that moved on, cancelling a cancelled bill — each a
refusal in a sentence, never a 500 — through the service and the page."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Bill, Invoice, Payment
from billing.services.bills import cancel_bill
from billing.services.documents import issue_documents
from billing.services.payments import dispute_payment, record_payment, verify_payment
from procurement.errors import DomainError

pytestmark = pytest.mark.django_db


@pytest.fixture
def bill(trade):
    po = trade.confirmed()
    issue_documents(po=po)
    return Bill.objects.select_related("invoice", "purchase_order").get(purchase_order=po)


def _pay(trade, bill, amount="25"):
    return record_payment(
        bill=bill, by=trade.payables, amount=Decimal(amount), paid_on=timezone.localdate(), method="cheque"
    )


def test_a_payment_is_verified_or_disputed_once(trade, bill):
    payment = _pay(trade, bill)
    verify_payment(payment=payment, by=trade.receivables, amount_received=Decimal("25"))
    with pytest.raises(DomainError, match="This payment is verified already"):
        verify_payment(payment=payment, by=trade.receivables, amount_received=Decimal("25"))
    with pytest.raises(DomainError, match="This payment is verified already"):
        dispute_payment(payment=payment, by=trade.receivables, reason="Bounced")
    invoice = Invoice.objects.get(pk=bill.invoice_id)
    assert invoice.status == Invoice.Status.PAID  # marked paid once


def test_a_disputed_payment_is_not_verified(trade, bill):
    payment = _pay(trade, bill)
    dispute_payment(payment=payment, by=trade.receivables, reason="Bounced")
    with pytest.raises(DomainError, match="This payment is disputed already"):
        verify_payment(payment=payment, by=trade.receivables, amount_received=Decimal("25"))


def test_verifying_a_payment_of_a_bill_that_moved_on_is_a_refusal(trade, bill):
    payment = _pay(trade, bill, amount="10")
    Bill.objects.filter(pk=bill.pk).update(status=Bill.Status.CANCELLED)  # out of step
    with pytest.raises(DomainError, match=r"^This bill is cancelled: it cannot be settled now\.$"):
        verify_payment(payment=payment, by=trade.receivables, amount_received=Decimal("10"))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING


def test_disputing_a_payment_of_a_bill_that_moved_on_is_a_refusal(trade, bill):
    payment = _pay(trade, bill, amount="10")
    Bill.objects.filter(pk=bill.pk).update(status=Bill.Status.CANCELLED)  # out of step
    with pytest.raises(DomainError, match=r"^This bill is cancelled: it cannot be settled now\.$"):
        dispute_payment(payment=payment, by=trade.receivables, reason="Bounced")


def test_a_cancelled_bill_is_not_cancelled_again(trade, bill):
    cancel_bill(bill=bill, by=trade.customer_admin, reason="Sent again")
    with pytest.raises(DomainError, match="This bill is cancelled: it cannot be cancelled"):
        cancel_bill(bill=bill, by=trade.customer_admin, reason="Again")


def test_verifying_on_the_page_a_payment_of_a_bill_that_moved_on_shows_the_refusal(client, trade, bill):
    payment = _pay(trade, bill, amount="10")
    Bill.objects.filter(pk=bill.pk).update(status=Bill.Status.CANCELLED)
    client.force_login(trade.receivables.user)
    url = reverse("billing:payment-verify", kwargs={"org_slug": trade.supplier.slug, "pk": payment.pk})
    response = client.post(url, {"amount_received": "10"})
    assert response.status_code == 400  # the page again, with the sentence: never a 500
    assert "This bill is cancelled: it cannot be settled now." in response.content.decode()


def test_verifying_on_the_page_a_verified_payment_shows_the_refusal(client, trade, bill):
    payment = _pay(trade, bill)
    verify_payment(payment=payment, by=trade.receivables, amount_received=Decimal("25"))
    client.force_login(trade.receivables.user)
    url = reverse("billing:payment-verify", kwargs={"org_slug": trade.supplier.slug, "pk": payment.pk})
    response = client.post(url, {"amount_received": "25"})
    assert response.status_code == 400  # the page again, saying what became of the payment
    assert "This payment is verified by" in response.content.decode()
