"""Approval of an order in another currency at the rate recorded on submission (SPEC §6):
measured at the customer's rate of the day, re-approvals at that same recorded rate whatever
the table says later, and an order without a rate is never waved through."""

import html
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from approvals import services
from orders.services import negotiation, submission
from tests.factories import ApprovalPolicyFactory, BudgetFactory, ExchangeRateFactory, Trade, member, proposal_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def trade():
    """A USD-based customer buying in EUR, with a policy: a manager for everything, the CFO from
    1,000 USD; re-approval tolerance 50 % (so only a threshold crossing asks again)."""
    trade = Trade()
    trade.connection.currency = "EUR"
    trade.connection.save()
    trade.manager, trade.cfo = member(trade.customer, Role.APPROVER), member(trade.customer, Role.APPROVER)
    ApprovalPolicyFactory(
        organization=trade.customer,
        reapproval_tolerance_percent=Decimal("50"),
        steps=[
            {"name": "Manager", "threshold": Decimal("0"), "approvers": [trade.manager.user]},
            {"name": "CFO", "threshold": Decimal("1000"), "approvers": [trade.cfo.user]},
        ],
    )
    return trade


def _rate(trade, rate: str):
    ExchangeRateFactory(
        organization=trade.customer,
        day=timezone.localdate(),
        from_currency="EUR",
        to_currency="USD",
        rate=Decimal(rate),
    )


def _submit(trade, price: str):
    po = trade.draft(
        lines=[
            {
                "description": "Centrifuge",
                "quantity": "1",
                "unit": "ea",
                "unit_price": price,
                "cost_center": trade.cost_center,
            }
        ]
    )
    submission.submit_purchase_order(po=po, by=trade.buyer)
    po.refresh_from_db()
    return po


def _latest(po):
    return po.approval_requests.order_by("-pk").first()


def _approve_all(request, *approvers):
    for approver in approvers:
        services.approve_step(request=request, by=approver)


def test_an_order_is_measured_at_the_customers_rate_of_the_day(trade):
    _rate(trade, "1.10")
    po = _submit(trade, "1000")  # 1,100.00 USD: over the CFO's 1,000
    request = _latest(po)
    assert (po.currency, po.base_rate, request.total_base) == ("EUR", Decimal("1.10"), Decimal("1100.00"))
    assert [s.name for s in request.steps.all()] == ["Manager", "CFO"]
    assert "Total 1,100.00 USD is at least 1,000.00 USD." in request.steps.get(name="CFO").reason
    po = _submit(trade, "900")  # 990.00 USD
    assert [s.name for s in _latest(po).steps.all()] == ["Manager"]


def test_a_later_rate_never_lowers_what_a_re_approval_measures(trade):
    _rate(trade, "1.10")
    po = _submit(trade, "900")  # 990.00 USD: the manager alone
    _approve_all(_latest(po), trade.manager)
    _rate(trade, "0.50")  # the treasury's table changes: 950 EUR would be 475 USD today
    line = po.lines.get()
    negotiation.save_proposal(
        so=po.sales_order, by=trade.sales, lines={line.pk: proposal_line(action="change", unit_price="950")}
    )
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    po.refresh_from_db()
    negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    po.refresh_from_db()
    request = _latest(po)
    # At the recorded 1.10, 950 EUR = 1,045.00 USD: it crosses the CFO's threshold, and the CFO approves.
    assert po.status == "supplier_accepted" and po.base_rate == Decimal("1.10")
    assert (request.kind, request.status, request.total_base) == ("reapproval", "pending", Decimal("1045.00"))
    assert "crosses the 1,000.00 USD threshold of “CFO”" in request.summary
    assert [s.name for s in request.steps.all()] == ["Manager", "CFO"]
    _approve_all(request, trade.manager, trade.cfo)
    po.refresh_from_db()
    assert po.status == "confirmed"


def test_an_increase_of_an_order_submitted_without_a_rate_is_approved_again(trade):
    po = _submit(trade, "10")  # no rate: every step applies
    request = _latest(po)
    assert po.base_rate is None and request.total_base is None
    assert [s.name for s in request.steps.all()] == ["Manager", "CFO"]
    _approve_all(request, trade.manager, trade.cfo)
    _rate(trade, "1.10")
    line = po.lines.get()
    negotiation.save_proposal(
        so=po.sales_order, by=trade.sales, lines={line.pk: proposal_line(action="change", unit_price="14")}
    )
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    po.refresh_from_db()
    negotiation.confirm_purchase_order(po=po, by=trade.buyer)  # 40 % more, within the 50 % tolerance…
    po.refresh_from_db()
    # …but it cannot be measured against the thresholds (a rate arriving later changes no recorded
    # None), so it is approved again rather than confirmed on trust.
    assert po.status == "supplier_accepted" and po.base_rate is None
    again = _latest(po)
    assert (again.kind, again.status) == ("reapproval", "pending") and "No exchange rate" in again.summary


def test_without_a_rate_every_step_applies_and_the_approval_page_says_so(client, trade):
    po = _submit(trade, "1")
    request = _latest(po)
    assert po.base_rate is None and request.total_base is None
    assert [s.name for s in request.steps.all()] == ["Manager", "CFO"]
    client.force_login(trade.manager.user)
    page = client.get(
        reverse("approvals:request", kwargs={"org_slug": trade.customer.slug, "pk": request.pk})
    ).content.decode()
    page = html.unescape(page)
    for step in request.steps.all():  # each step says why it applies
        assert f"{step.position}. {step.name}</strong>" in page
        assert step.reason == "No exchange rate from EUR to USD yet: every step applies."
    assert "No exchange rate from EUR to USD yet: every step applies." in page


def test_a_budget_with_an_unmeasured_order_on_it_always_asks_its_owner():
    """An order committed without a rate cannot be counted in the budget's spend: rather than
    let later orders see a remainder nobody knows, the budget's owner approves them."""
    from datetime import timedelta

    trade = Trade()
    owner = member(trade.customer, Role.APPROVER)
    ApprovalPolicyFactory(organization=trade.customer)
    today = timezone.localdate()
    BudgetFactory(
        organization=trade.customer,
        cost_center=trade.cost_center,
        period_start=today - timedelta(days=1),
        period_end=today + timedelta(days=1),
        amount=Decimal("10000"),
        owner=owner.user,
    )
    usd = _submit(trade, "100")
    assert usd.status == "sent"  # well within the budget: released at once
    trade.connection.currency = "EUR"
    trade.connection.save()
    eur = _submit(trade, "50")  # no EUR rate: the budget step cannot measure it, its owner approves
    _approve_all(_latest(eur), owner)
    eur.refresh_from_db()
    assert eur.status == "sent" and eur.base_rate is None
    trade.connection.currency = "USD"
    trade.connection.save()
    later = _submit(trade, "100")
    step = _latest(later).steps.get()
    assert later.status == "pending_approval" and "has no exchange rate" in step.reason
    assert list(step.approvers.all()) == [owner.user]
