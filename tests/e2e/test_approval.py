"""Browser journey of an approval: a buyer over their spending limit submits, the approver
approves in the browser, and the supplier sees the new sales order. Screenshots:
test-results/approval/."""

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from tests.e2e.test_negotiation import log_in
from tests.factories import ApprovalPolicyFactory, SpendingLimitFactory, Trade, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "approval"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_over_the_limit_the_approver_releases_the_order_to_the_supplier(live_server, browser):
    trade = Trade()
    approver = member(trade.customer, Role.APPROVER)
    ApprovalPolicyFactory(
        organization=trade.customer,
        steps=[{"name": "Department head", "threshold": Decimal("5000"), "approvers": [approver.user]}],
    )
    SpendingLimitFactory(organization=trade.customer, user=trade.buyer.user, amount=Decimal("20.00"))
    po = trade.draft()  # 10 bolts at 2.50: 25.00 USD, over the buyer's 20.00
    base = live_server.url

    buyer = log_in(browser, base, trade.buyer.user.email)
    buyer.goto(f"{base}/o/{trade.customer.slug}/purchase-orders/{po.number}/")
    buyer.get_by_role("button", name="Submit").click()
    expect(buyer.get_by_role("alert")).to_contain_text(f"{po.number} is submitted for approval")
    expect(buyer.locator("#approval")).to_contain_text("over")
    expect(buyer.locator("#approval")).to_contain_text("Department head")
    shot(buyer, "01-buyer-submitted")

    checker = log_in(browser, base, approver.user.email, width=390)  # on a phone
    expect(checker.get_by_role("link", name="Purchase orders waiting for your approval")).to_contain_text("1")
    checker.get_by_role("link", name="Purchase orders waiting for your approval").click()
    expect(checker.locator("main")).to_contain_text("1 purchase order to decide, for 25.00 USD")
    shot(checker, "02-approver-inbox")
    checker.get_by_role("link", name=f"Decide on {po.number}").click()
    expect(checker.get_by_role("heading", name=f"Approve {po.number}?")).to_be_visible()
    checker.get_by_label("Comment").fill("Needed for the line, go ahead.")
    shot(checker, "03-approver-decides")
    checker.get_by_role("button", name="Approve").click()
    expect(checker.get_by_role("alert")).to_contain_text(f"{po.number} is approved and sent to {trade.supplier.name}")
    shot(checker, "04-approver-done")

    supplier = log_in(browser, base, trade.sales.user.email)
    supplier.get_by_role("link", name="Sales orders", exact=True).click()
    expect(supplier.locator("main")).to_contain_text("SO-000001")
    supplier.get_by_role("link", name="SO-000001").click()
    expect(supplier.locator("main")).to_contain_text("25.00 USD")
    expect(supplier.locator("main")).not_to_contain_text("go ahead")  # internal approval stays internal
    shot(supplier, "05-supplier-sees-the-order")

    buyer.reload()
    expect(buyer.locator("#approval")).to_contain_text("Needed for the line, go ahead.")
    shot(buyer, "06-buyer-approved")
