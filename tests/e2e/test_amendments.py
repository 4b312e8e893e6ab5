"""Browser journey of an amendment: the buyer amends a confirmed, invoiced order (a lowered
quantity is refused beside its input, what was typed kept), the supplier accepts it from the
sales order, and the buyer's bill shows the new total and revision; the *Amendment history*
tab tells both sides what happened. Screenshots: test-results/amendments/."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from billing.models import Bill
from billing.services.documents import issue_documents
from tests.e2e.test_negotiation import log_in
from tests.factories import Trade

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "amendments"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_buyer_amends_supplier_accepts_bill_follows(live_server, browser):
    trade = Trade()
    trade.customer.name, trade.supplier.name = "Acme Works", "Crate & Co"
    trade.customer.save()
    trade.supplier.save()
    po = trade.confirmed()  # 10 × BOLT at 2.50 = 25.00 USD
    issue_documents(po=po)
    bill = Bill.objects.get(purchase_order=po)
    (line,) = po.lines.all()
    base = live_server.url

    # 1. The buyer opens the confirmed order and asks for more bolts; lowering is refused.
    buyer = log_in(browser, base, trade.buyer.user.email)
    buyer.goto(f"{base}/o/{trade.customer.slug}/purchase-orders/{po.number}/")
    buyer.get_by_role("link", name="Amend order").click()
    quantity = buyer.get_by_label("New quantity of line 1")
    quantity.fill("8")
    buyer.get_by_label("Reason").fill("A second crew starts on Monday")
    buyer.get_by_role("button", name="Ask Crate & Co").click()
    expect(buyer.locator(f"#line-{line.pk}-quantity-error")).to_contain_text("to order less, cancel the line")
    expect(quantity).to_have_value("8")
    expect(buyer.get_by_label("Reason")).to_have_value("A second crew starts on Monday")  # kept
    shot(buyer, "01-lowering-refused")
    quantity.fill("16")
    buyer.get_by_role("button", name="Ask Crate & Co").click()
    expect(buyer.get_by_role("alert").first).to_contain_text("Amendment 1 is asked; it waits for Crate & Co")
    panel = buyer.locator("#amendment")
    expect(panel).to_contain_text("waiting for the supplier")
    expect(panel).to_contain_text("40.00 USD")  # 16 × 2.50
    shot(buyer, "02-buyer-amendment-waits")

    # 2. The supplier sees it on the sales order and accepts it.
    sales = log_in(browser, base, trade.sales.user.email)
    sales.goto(f"{base}/o/{trade.supplier.slug}/sales-orders/{po.sales_order.number}/")
    ask = sales.locator("#amendment")
    expect(ask).to_contain_text("Acme Works asks to amend this order")
    expect(ask).to_contain_text("A second crew starts on Monday")
    shot(sales, "03-supplier-sees-amendment")
    ask.get_by_role("button", name="Accept amendment").click()
    expect(sales.get_by_role("alert").first).to_contain_text("Amendment 1 is accepted")
    sales.get_by_role("link", name="Amendment history").click()
    expect(sales.get_by_role("heading", name="Amendment 1")).to_contain_text("Accepted")
    expect(sales.locator("main")).to_contain_text("revision 3")
    shot(sales, "04-supplier-history")

    # 3. The buyer's bill follows: the new total, revision 3.
    buyer.goto(f"{base}/o/{trade.customer.slug}/purchase-orders/{po.number}/")
    documents = buyer.locator("#documents")
    expect(documents).to_contain_text("40.00 USD")
    documents.get_by_role("link", name=bill.number).click()
    expect(buyer.locator("main")).to_contain_text("40.00 USD")
    expect(buyer.get_by_role("note")).to_contain_text("revision 3")
    shot(buyer, "05-bill-new-total")
    bill.refresh_from_db()
    assert (bill.total, bill.revision) == (bill.total.__class__("40.00"), 3)
