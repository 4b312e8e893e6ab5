"""The embedded demo's data: seeded twice without harm, every journey of the README ready."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from approvals.models import ApprovalRequest, Budget
from orders.models import PurchaseOrder

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_once_with_an_order_waiting_for_approval():
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)  # idempotent
    today = timezone.localdate()
    orders = PurchaseOrder.objects.filter(customer__slug="northwind")
    statuses = sorted(orders.exclude(order_date__lt=today).values_list("status", flat=True))
    assert statuses == [
        "closed",
        "confirmed",
        "draft",
        "partially_received",
        "pending_approval",
        "sent",
        "supplier_accepted",
    ]
    amended = PurchaseOrder.objects.get(customer__slug="northwind", status="confirmed")
    assert list(amended.amendments.values_list("status", flat=True)) == ["proposed", "accepted"]
    assert amended.bill.total == amended.total and amended.bill.revision == amended.revision_number == 3
    waiting = ApprovalRequest.objects.get(status="pending")
    step = waiting.steps.get(status="open")
    assert step.name == "Department head"
    assert [u.email for u in step.approvers.all()] == ["approver@northwind.example"]
    assert Budget.objects.filter(organization__slug="northwind").count() == 2
    # A year of history behind them, for Home's charts: closed orders dated in 11 earlier months.
    history = orders.filter(order_date__lt=today)
    assert set(history.values_list("status", flat=True)) == {"closed"}
    assert len({(d.year, d.month) for d in history.values_list("created_at", flat=True)}) == 11
    # Their threads tell the steps in the month they happened, in order, not today.
    for po in history:
        events = list(po.events.order_by("created_at", "pk"))
        assert events and all(e.created_at.date() < today for e in events), po.number
        assert events[0].created_at.date() == po.order_date
        assert events[-1].created_at.date() <= po.order_date + timedelta(days=21)
    # Their FX figures run between the dates the goods, the bills and the payments have.
    from billing.models import FxDifference

    figures = FxDifference.objects.filter(bill__purchase_order__in=history)
    assert figures.exists()
    assert not figures.filter(from_date=today).exists() and not figures.filter(to_date=today).exists()
    assert all(f.from_date < f.to_date <= f.from_date + timedelta(days=20) for f in figures)


def test_the_demo_has_exchange_rates_and_fx_figures_on_bluebirds_bills():
    from decimal import Decimal

    from accounts.models import ExchangeRate
    from billing.models import Bill, FxDifference

    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)
    assert ExchangeRate.objects.filter(organization__slug="bluebird").count() == 5
    assert ExchangeRate.objects.filter(organization__slug="northwind").count() == 5 + 12  # a year
    rows = {
        row.kind: (row.bill.is_manual, row.currency, row.base_currency, row.gain)
        for row in FxDifference.objects.filter(organization__slug="bluebird").select_related("bill")
    }
    # 470.00 USD of gloves: at 1 / 1.0790 on receipt 435.59 EUR, at 1 / 1.0870 on the bill 432.38 EUR.
    # 1,250.00 USD by hand: 1,155.27 EUR at the bill's 1 / 1.0820, paid at 1 / 1.0905: 1,146.26 EUR.
    assert rows == {
        "receipt_invoice": (False, "USD", "EUR", Decimal("3.21")),
        "invoice_payment": (True, "USD", "EUR", Decimal("9.01")),
    }
    assert Bill.objects.filter(customer__slug="bluebird").count() == 2
