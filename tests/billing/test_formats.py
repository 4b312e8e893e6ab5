"""Issue 18 #11: money and dates read the same everywhere — pages, messages, the order's thread,
e-mails and prefilled inputs: "822.50" (the currency's decimals), "1,234.50 USD" and "3 Dec 2026"
(procurement.money.format_money / money_input, procurement.validators.format_date)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from billing.models import Bill
from billing.services.documents import issue_documents
from orders.models import OrderEvent
from orders.services import negotiation
from procurement.money import money_input
from procurement.validators import format_date
from tests.factories import proposal_line

pytestmark = pytest.mark.django_db


def test_the_two_formatters():
    assert [money_input(Decimal("822.5"), "USD"), money_input(Decimal("1234.5"), "KWD")] == ["822.50", "1234.500"]
    assert money_input(Decimal("1000"), "JPY") == "1000" and money_input(None, "USD") == ""
    assert format_date(date(2026, 12, 3)) == "3 Dec 2026" and format_date(date(2026, 12, 17)) == "17 Dec 2026"


@pytest.fixture
def bill(trade):
    po = trade.confirmed(lines=[{"description": "Crate", "quantity": "35", "unit": "ea", "unit_price": "23.50"}])
    issue_documents(po=po)
    return Bill.objects.get(purchase_order=po)  # 822.50 USD


def test_the_payment_form_prefills_and_the_message_echoes_the_amount_as_money(
    client, trade, bill, django_capture_on_commit_callbacks
):
    assert bill.total == Decimal("822.5")
    client.force_login(trade.payables.user)
    page = client.get(reverse("billing:bill-detail", args=[trade.customer.slug, bill.number])).content.decode()
    assert 'name="amount" value="822.50"' in page  # it said 822.5
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("billing:bill-pay", args=[trade.customer.slug, bill.number]),
            {"amount": "422.5", "paid_on": str(timezone.localdate()), "method": "bank_transfer"},
            follow=True,
        )
    page = response.content.decode()
    assert "Payment of 422.50 USD recorded." in page and "422.5 USD" not in page
    assert 'name="amount" value="400.00"' in page  # what is left
    event = bill.purchase_order.events.get(kind=OrderEvent.Kind.PAYMENT)
    assert f"Payment of 422.50 USD recorded (bank transfer, paid {format_date(timezone.localdate())})" in event.body
    payment = bill.payments.get()
    client.force_login(trade.receivables.user)
    verify = client.get(reverse("billing:payment-verify", args=[trade.supplier.slug, payment.pk])).content.decode()
    assert 'name="amount_received" value="422.50"' in verify
    # The e-mail to the supplier says the same.
    message = next(m for m in mail.outbox if "422.50 USD" in m.body)
    assert f"paid {format_date(timezone.localdate())}" in message.body


def test_the_thread_shows_a_price_change_as_money_and_dates_as_the_pages(trade):
    """It said "price 24 → 23.5" and "backordered to 2026-12-17"."""
    po = trade.sent(
        lines=[
            {"description": "Crate", "quantity": "10", "unit": "ea", "unit_price": "24"},
            {"description": "Lid", "quantity": "10", "unit": "ea", "unit_price": "2"},
        ]
    )
    later = timezone.localdate() + timedelta(days=14)
    crate, lid = po.lines.order_by("position")
    negotiation.save_proposal(
        so=po.sales_order,
        by=trade.sales,
        lines={
            crate.pk: proposal_line(action="change", unit_price="23.5"),
            lid.pk: proposal_line(action="backorder", backorder_quantity="4", backorder_date=str(later)),
        },
    )
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    body = po.events.get(kind=OrderEvent.Kind.ACCEPTED).body
    assert "price 24.00 USD → 23.50 USD" in body, body
    assert f"4 backordered to {format_date(later)}" in body and later.isoformat() not in body


def test_the_e_mails_show_dates_as_the_pages(trade, django_capture_on_commit_callbacks):
    answer_by = timezone.localdate() + timedelta(days=9)
    with django_capture_on_commit_callbacks(execute=True):
        po = trade.sent(valid_until=answer_by)
    message = next(m for m in mail.outbox if m.subject.startswith("New sales order"))
    assert f"Please answer by {format_date(answer_by)}." in message.body
    assert po.valid_until == answer_by
