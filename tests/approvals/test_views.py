"""The approver's inbox, the decision page, budget use and the approval panel, through the client."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from orders.services import submission
from tests.factories import ApprovalPolicyFactory, BudgetFactory, Trade, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def trade():
    trade = Trade()
    trade.approver = member(trade.customer, Role.APPROVER)
    ApprovalPolicyFactory(
        organization=trade.customer,
        steps=[{"name": "Manager", "threshold": Decimal("0"), "approvers": [trade.approver.user]}],
    )
    return trade


def _pending(trade, price="40"):
    line = {
        "description": "Chair",
        "quantity": "2",
        "unit": "ea",
        "unit_price": price,
        "cost_center": trade.cost_center,
    }
    po = trade.draft(lines=[line])
    submission.submit_purchase_order(po=po, by=trade.buyer)
    po.refresh_from_db()
    return po, po.approval_requests.get()


def _url(trade, name, **kwargs):
    return reverse(f"approvals:{name}", kwargs={"org_slug": trade.customer.slug, **kwargs})


def test_the_inbox_lists_what_waits_for_me_with_totals(client, trade, django_assert_max_num_queries):
    for price in ("40", "10", "5"):
        _pending(trade, price)
    client.force_login(trade.approver.user)
    client.get(_url(trade, "inbox"))  # warm the session
    with django_assert_max_num_queries(9):
        page = client.get(_url(trade, "inbox"))
    content = page.content.decode()
    assert page.status_code == 200
    assert "3 purchase orders to decide, for" in content and "110.00 USD" in content
    assert content.count("Decide<span") == 3
    home = client.get(reverse("home:org-home", kwargs={"org_slug": trade.customer.slug})).content.decode()
    assert "waiting for your approval" in home
    client.force_login(trade.buyer.user)  # a buyer does not approve
    assert client.get(_url(trade, "inbox")).status_code == 403


def test_inbox_queries_do_not_grow_with_the_number_of_requests(client, trade, django_assert_max_num_queries):
    _pending(trade)
    client.force_login(trade.approver.user)
    client.get(_url(trade, "inbox"))
    for _ in range(5):
        _pending(trade)
    with django_assert_max_num_queries(9):
        assert client.get(_url(trade, "inbox")).status_code == 200


def test_an_approver_approves_on_the_decision_page(client, trade, django_assert_max_num_queries):
    po, request = _pending(trade)
    client.force_login(trade.approver.user)
    with django_assert_max_num_queries(16):
        page = client.get(_url(trade, "request", pk=request.pk))
    content = page.content.decode()
    assert "Approve PO-000001?" in content and "Your decision" in content and "Chair" in content
    response = client.post(_url(trade, "approve", pk=request.pk), {"approve-comment": "OK"})
    assert response.status_code == 302
    po.refresh_from_db()
    assert po.status == "sent"
    page = client.get(response["Location"], follow=True).content.decode()
    assert "approved and sent to" in page


def test_a_rejection_without_a_reason_is_refused_next_to_the_field(client, trade):
    po, request = _pending(trade)
    client.force_login(trade.approver.user)
    response = client.post(_url(trade, "reject", pk=request.pk), {"reject-comment": ""})
    assert response.status_code == 400
    assert "Say why" in response.content.decode()
    response = client.post(_url(trade, "reject", pk=request.pk), {"reject-comment": "<b>x</b>"})
    assert response.status_code == 400 and "&lt;b&gt;x&lt;/b&gt;" in response.content.decode()  # kept, escaped
    response = client.post(_url(trade, "reject", pk=request.pk), {"reject-comment": "Too many chairs"})
    assert response.status_code == 302
    po.refresh_from_db()
    assert po.status == "rejected"
    page = client.get(reverse("orders:po-detail", kwargs={"org_slug": trade.customer.slug, "number": po.number}))
    assert "Too many chairs" in page.content.decode()


def test_the_requester_sees_the_panel_but_no_decision(client, trade, django_assert_max_num_queries):
    po, request = _pending(trade)
    client.force_login(trade.buyer.user)
    url = reverse("orders:po-detail", kwargs={"org_slug": trade.customer.slug, "number": po.number})
    client.get(url)
    with django_assert_max_num_queries(16):
        page = client.get(url).content.decode()
    assert "waits for internal approval" in page and "Manager" in page and trade.approver.user.full_name in page
    assert "Approve or reject" not in page
    page = client.get(_url(trade, "request", pk=request.pk)).content.decode()
    assert "Your decision" not in page
    response = client.post(_url(trade, "approve", pk=request.pk), {"approve-comment": ""})
    assert response.status_code == 403  # a buyer's role does not approve
    client.force_login(trade.approver.user)
    assert "Approve or reject" in client.get(url).content.decode()


def test_budget_use_per_cost_center_and_period(client, trade):
    today = timezone.localdate()
    BudgetFactory(
        organization=trade.customer,
        cost_center=trade.cost_center,
        period_start=today - timedelta(days=10),
        period_end=today + timedelta(days=10),
        amount=Decimal("1000"),
        owner=trade.approver.user,
    )
    BudgetFactory(
        organization=trade.customer,
        cost_center=trade.cost_center,
        name="Last year",
        period_start=today - timedelta(days=400),
        period_end=today - timedelta(days=300),
        amount=Decimal("5"),
        owner=trade.approver.user,
    )
    po, request = _pending(trade, "100")  # 200 in approval
    client.force_login(trade.buyer.user)
    page = client.get(_url(trade, "budgets")).content.decode()
    assert "1,000.00 USD" in page and "200.00 USD" in page and "Last year" not in page
    assert "Last year" in client.get(_url(trade, "budgets") + "?period=all").content.decode()
    client.force_login(trade.approver.user)
    page = client.get(_url(trade, "request", pk=request.pk)).content.decode()
    assert "Left after it" in page and "800.00 USD" in page


def test_budget_page_queries_do_not_grow_with_budgets(client, trade, django_assert_max_num_queries):
    today = timezone.localdate()
    client.force_login(trade.buyer.user)
    client.get(_url(trade, "budgets"))
    for _ in range(6):
        BudgetFactory(  # each of a cost center of its own, of the same organization
            organization=trade.customer,
            period_start=today,
            period_end=today,
            amount=Decimal("10"),
            owner=trade.approver.user,
        )
    _pending(trade)
    with django_assert_max_num_queries(6):  # session, user, membership, organization, budgets with their spend
        page = client.get(_url(trade, "budgets") + "?period=all")
    assert page.content.decode().count("current</span>") == 6
