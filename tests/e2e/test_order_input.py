"""Browser journey of issue 18's order-side defects, as people type: the buyer is asked for the
supplier (nothing preselected), picks a listing at the price it pays (its own price, not the list
price), ships to a many-line address typed in the browser (CRLF line ends); the supplier accepts
without a change, and neither the redline nor the thread reports a ship-to change.
Screenshots: test-results/order-input/ (1366x900 and 390x844)."""

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from orders.models import CustomerPrice, PriceBreak, PurchaseOrder
from tests.factories import LocationFactory, Trade

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "order-input"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(browser, base, email, width=1366, height=900):
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(f"{base}/login/")
    page.get_by_label("E-mail").press_sequentially(email, delay=20)
    page.get_by_label("Password").press_sequentially("demo", delay=20)
    page.get_by_role("button", name="Log in").click()
    return page


def test_supplier_asked_customer_price_shown_and_a_typed_ship_to_is_no_change(live_server, browser):
    trade = Trade()
    CustomerPrice.objects.create(listing=trade.listing, customer=trade.customer, unit_price=Decimal("2.10"))
    PriceBreak.objects.create(listing=trade.listing, min_quantity=Decimal(100), unit_price=Decimal("1.90"))
    LocationFactory(organization=trade.customer, name="Seattle warehouse")
    base = live_server.url
    buyer = log_in(browser, base, trade.buyer.user.email)

    buyer.get_by_role("link", name="Purchase orders").click()
    buyer.get_by_role("link", name="New purchase order").click()
    supplier_select = buyer.get_by_label("Supplier", exact=True)
    expect(supplier_select).to_have_value("")  # asked, not guessed
    expect(supplier_select.locator("option:checked")).to_have_text("Choose a supplier")
    buyer.get_by_label("Note to the supplier").press_sequentially("Ring at the gate.", delay=40)
    buyer.get_by_role("button", name="Create draft").click()
    expect(buyer.get_by_text("Choose the supplier to order from.")).to_be_visible()
    expect(buyer.get_by_label("Note to the supplier")).to_have_value("Ring at the gate.")  # kept
    shot(buyer, "00-supplier-asked")
    buyer.get_by_label("Supplier", exact=True).select_option(str(trade.connection.pk))
    buyer.get_by_label("Ship to").select_option(label="Seattle warehouse")
    buyer.get_by_role("button", name="Create draft").click()
    expect(buyer.get_by_role("alert")).to_contain_text("Draft PO-000001 created")

    search = buyer.get_by_label("Find a listing")
    search.click()
    with buyer.expect_response(lambda r: "/lines/picker/" in r.url):
        search.press_sequentially("bol", delay=60)
    buyer.wait_for_timeout(300)
    listing = buyer.get_by_label("Listing", exact=True)
    expect(listing.locator("option", has_text="BOLT")).to_have_text(
        "BOLT — Bolt · 2.10 USD / ea (your price) · less from 100"
    )
    listing.select_option(label="BOLT — Bolt · 2.10 USD / ea (your price) · less from 100")
    quantity = buyer.get_by_label("Quantity")
    quantity.click()
    with buyer.expect_response(lambda r: "/lines/preview/" in r.url):
        quantity.press_sequentially("10", delay=60)
    buyer.wait_for_timeout(300)
    expect(buyer.locator("#line-preview")).to_contain_text("21.00 USD")  # the price the line gets
    buyer.get_by_role("button", name="Add line").click()
    expect(buyer.locator("#lines")).to_contain_text("BOLT")
    expect(buyer.get_by_label("Currency")).to_be_disabled()  # the lines' prices are in USD
    shot(buyer, "01-draft-with-customer-price")
    buyer.get_by_role("button", name="Submit").click()
    expect(buyer.get_by_role("alert")).to_contain_text("PO-000001 is submitted")
    po = PurchaseOrder.objects.get()
    assert "\n" in po.ship_to_address and po.lines.get().unit_price == Decimal("2.10")

    supplier = log_in(browser, base, trade.sales.user.email)
    supplier.get_by_role("link", name="Sales orders", exact=True).click()
    supplier.get_by_role("link", name="SO-000001").click()
    address = supplier.get_by_label("Ship-to address")
    expect(address).to_have_value(po.ship_to_address)
    # the supplier retypes the address, line by line: the browser posts it with CRLF line ends
    address.fill("")
    for i, part in enumerate(po.ship_to_address.split("\n")):
        if i:
            address.press("Enter")
        address.press_sequentially(part, delay=15)
    supplier.wait_for_timeout(200)
    supplier.get_by_role("button", name="Accept order").click()
    expect(supplier.get_by_role("alert")).to_contain_text("SO-000001 accepted")
    expect(supplier.locator("#thread")).to_contain_text("no changes")
    expect(supplier.locator("#thread")).not_to_contain_text("ship-to")
    shot(supplier, "02-supplier-accepted-no-change")

    buyer.reload()
    expect(buyer.locator("#thread")).to_contain_text("Accepted")
    expect(buyer.locator("#thread")).not_to_contain_text("ship-to")
    expect(buyer.get_by_text("Ship-to address", exact=False)).to_have_count(0)
    shot(buyer, "03-buyer-no-ship-to-change")
    event = po.events.get(kind="accepted")
    assert event.data["header"] == {} and event.data["changes"] == []

    phone = log_in(browser, base, trade.buyer.user.email, width=390, height=844)
    phone.goto(f"{base}/o/{trade.customer.slug}/purchase-orders/new/")
    expect(phone.get_by_label("Supplier", exact=True)).to_have_value("")
    shot(phone, "04-phone-new-order")
