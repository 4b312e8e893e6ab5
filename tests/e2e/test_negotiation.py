"""Browser journey of the order pair, buyer and supplier side by side (two browser contexts).

The buyer raises a PO with a listing line and a custom item and submits; the supplier changes a
quantity and a price, rejects a line, accepts; the buyer sees the redline and requests changes;
the supplier accepts again; the buyer confirms. Screenshots: test-results/negotiation/.
"""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from orders.models import PurchaseOrder
from tests.factories import Trade

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "negotiation"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(browser, base, email, width=1280):
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.goto(f"{base}/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    return page


def test_buyer_and_supplier_negotiate_and_confirm(live_server, browser):
    trade = Trade()
    trade.supplier.name = "Crate & Co"
    trade.supplier.save()
    base = live_server.url
    buyer = log_in(browser, base, trade.buyer.user.email)
    supplier = log_in(browser, base, trade.sales.user.email)

    buyer.get_by_role("link", name="Purchase orders").click()
    buyer.get_by_role("link", name="New purchase order").click()
    buyer.get_by_label("Supplier", exact=True).select_option(str(trade.connection.pk))  # asked, not preselected
    buyer.get_by_label("Note to the supplier").fill("Deliver to the back door.")
    buyer.get_by_role("button", name="Create draft").click()
    expect(buyer.get_by_role("alert")).to_contain_text("Draft PO-000001 created")
    search = buyer.get_by_label("Find a listing")
    search.click()
    with buyer.expect_response(lambda r: "/lines/picker/" in r.url):
        search.press_sequentially("BO", delay=60)  # a pause while the picker answers…
    buyer.wait_for_timeout(300)
    with buyer.expect_response(lambda r: "/lines/picker/" in r.url):
        search.press_sequentially("LT", delay=60)  # …and typing goes on in the same field
    expect(search).to_have_value("BOLT")
    buyer.get_by_label("Listing", exact=True).select_option(label="BOLT — Bolt · 2.50 USD / ea")
    quantity = buyer.get_by_label("Quantity")
    quantity.click()
    with buyer.expect_response(lambda r: "/lines/preview/" in r.url):
        quantity.press_sequentially("1", delay=60)
    buyer.wait_for_timeout(300)  # the preview has settled: the keyboard stays in the quantity
    quantity.press_sequentially("0", delay=60)
    expect(quantity).to_have_value("10")
    expect(buyer.locator("#line-preview")).to_contain_text("25.00 USD")
    buyer.get_by_role("button", name="Add line").click()
    expect(buyer.locator("#lines")).to_contain_text("BOLT")  # htmx has swapped the order part in
    shot(buyer, "00-after-first-line")
    buyer.get_by_role("textbox", name="Item (for a custom item)").fill("Custom crate, oak")
    buyer.get_by_label("Quantity").fill("2")
    buyer.get_by_role("textbox", name="Unit price (for a custom item)").fill("40.00")
    buyer.get_by_role("button", name="Add line").click()
    expect(buyer.locator("#lines")).to_contain_text("Custom crate, oak")
    expect(buyer.locator(".order-totals")).to_contain_text("105.00 USD")
    shot(buyer, "01-buyer-draft")
    buyer.get_by_role("button", name="Submit").click()
    expect(buyer.get_by_role("alert")).to_contain_text("PO-000001 is submitted")
    shot(buyer, "02-buyer-sent")

    supplier.get_by_role("link", name="Sales orders").click()
    supplier.get_by_role("link", name="SO-000001").click()
    po = PurchaseOrder.objects.get()
    first, second = po.lines.all()
    supplier.locator(f"#line-{first.pk}-action").select_option("change")
    supplier.locator(f"#line-{first.pk}-quantity").fill("8")
    supplier.locator(f"#line-{first.pk}-unit_price").fill("2.40")
    supplier.locator(f"#line-{second.pk}-action").select_option("reject")
    supplier.locator(f"#line-{second.pk}-reject_reason").fill("We only make pine crates")
    shot(supplier, "03-supplier-adjusts")
    supplier.get_by_role("button", name="Accept order").click()
    expect(supplier.get_by_role("alert")).to_contain_text("SO-000001 accepted")
    shot(supplier, "04-supplier-accepted")

    buyer.reload()
    expect(buyer.get_by_text("What changed in revision 2")).to_be_visible()
    expect(buyer.locator(".redline")).to_contain_text("We only make pine crates")
    shot(buyer, "05-buyer-redline")
    buyer.get_by_role("link", name="Request changes").click()
    buyer.get_by_label("What should change?").fill("Please keep the price at 2.50 for 10.")
    buyer.get_by_role("button", name="Send the request").click()
    expect(buyer.get_by_role("alert")).to_contain_text("sent back to the supplier")

    supplier.reload()
    expect(supplier.locator("#thread")).to_contain_text("Please keep the price at 2.50 for 10.")
    supplier.locator(f"#line-{first.pk}-quantity").fill("10")
    supplier.locator(f"#line-{first.pk}-unit_price").fill("2.50")
    shot(supplier, "06-supplier-second-round")
    supplier.get_by_role("button", name="Accept order").click()
    expect(supplier.get_by_role("alert")).to_contain_text("accepted")

    buyer.reload()
    expect(buyer.get_by_text("What changed in revision 3")).to_be_visible()
    buyer.get_by_role("button", name="Confirm order").click()
    expect(buyer.get_by_role("alert")).to_contain_text("PO-000001 is confirmed")
    shot(buyer, "07-buyer-confirmed")
    po.refresh_from_db()
    assert (po.status, po.sales_order.status, po.revision_number, po.total) == ("confirmed", "confirmed", 3, 25)
    supplier.reload()
    expect(supplier.locator("#thread")).to_contain_text("Confirmed")
    shot(supplier, "08-supplier-sees-confirmation")
