"""Browser journey of fulfilment: the supplier ships a confirmed order in two shipments; the
customer receives the first, then the second with one damaged unit noted; both sides see
the same progress. Screenshots: test-results/fulfilment/."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from tests.e2e.test_negotiation import log_in
from tests.factories import Trade, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "fulfilment"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _progress(page):
    """Per line: (shipped, received) cells as the page shows them."""
    rows = page.locator("#lines tbody tr")
    return [
        (rows.nth(i).locator("td").nth(6).inner_text().split()[0], rows.nth(i).locator("td").nth(7).inner_text())
        for i in range(rows.count())
    ]


def test_two_shipments_then_a_receipt_with_a_damaged_unit(live_server, browser):
    trade = Trade()
    shipper = member(trade.supplier, Role.FULFILMENT)
    receiver = member(trade.customer, Role.RECEIVER)
    po = trade.confirmed(
        lines=[
            {"listing": trade.listing, "quantity": "10"},
            {"description": "Grease", "quantity": "4", "unit": "kg", "unit_price": "3.00"},
        ]
    )
    so = po.sales_order
    base = live_server.url
    so_url = f"{base}/o/{trade.supplier.slug}/sales-orders/{so.number}/"

    supplier = log_in(browser, base, shipper.user.email)
    expect(supplier.get_by_role("link", name="Confirmed sales orders to ship")).to_contain_text("1")
    supplier.goto(so_url)
    supplier.get_by_role("link", name="Record shipment").click()
    supplier.get_by_label("Line 1 quantity in this shipment (ea)").fill("6")
    supplier.get_by_label("Line 2 quantity in this shipment (kg)").fill("0")
    supplier.get_by_label("Carrier").fill("DHL")
    supplier.get_by_label("Tracking number").fill("JD014600006281")
    shot(supplier, "01-supplier-first-shipment")
    supplier.get_by_role("button", name="Record shipment").click()
    expect(supplier.get_by_role("alert")).to_contain_text("Shipment 1 recorded")
    expect(supplier.locator("main")).to_contain_text("Partially shipped")

    supplier.get_by_role("link", name="Record shipment").click()
    expect(supplier.get_by_label("Line 1 quantity in this shipment (ea)")).to_have_value("4")  # the rest
    supplier.get_by_label("Line 1 quantity in this shipment (ea)").fill("5")  # one too many
    supplier.get_by_role("button", name="Record shipment").click()
    expect(supplier.locator(".invalid-feedback")).to_contain_text("5 ea is more than the 4 ea left to ship")
    expect(supplier.get_by_label("Carrier")).to_have_value("")
    supplier.get_by_label("Line 1 quantity in this shipment (ea)").fill("4")
    supplier.get_by_label("Carrier").fill("UPS")
    supplier.get_by_label("Tracking number").fill("1Z999")
    supplier.get_by_role("button", name="Record shipment").click()
    expect(supplier.get_by_role("alert")).to_contain_text("Shipment 2 recorded")
    expect(supplier.locator("#fulfilment")).to_contain_text("Shipment 2")
    shot(supplier, "02-supplier-shipped")

    customer = log_in(browser, base, receiver.user.email, width=390)  # on a phone
    customer.get_by_role("link", name="Confirmed orders to receive").click()
    customer.get_by_role("link", name=po.number).click()
    expect(customer.locator("#fulfilment")).to_contain_text("JD014600006281")
    customer.get_by_role("link", name="Receive shipment 1").click()
    expect(customer.get_by_label("Line 1 received in good condition (ea)")).to_have_value("6")
    shot(customer, "03-customer-receives-shipment-1")
    customer.get_by_role("button", name="Record receipt").click()
    expect(customer.get_by_role("alert")).to_contain_text("Receipt 1 recorded; the order is partially received")

    customer.get_by_role("link", name="Receive shipment 2").click()
    customer.get_by_label("Line 1 received in good condition (ea)").fill("3")
    customer.get_by_label("Line 1 damaged (ea)").fill("1")
    customer.get_by_role("button", name="Record receipt").click()
    expect(customer.locator(".invalid-feedback")).to_contain_text("Line 1: say why (1 ea damaged).")
    expect(customer.get_by_label("Line 1 received in good condition (ea)")).to_have_value("3")  # kept
    customer.get_by_label("Line 1: why damaged or short").fill("Box crushed in transit")
    shot(customer, "04-customer-notes-damage")
    customer.get_by_role("button", name="Record receipt").click()
    expect(customer.get_by_role("alert")).to_contain_text("Receipt 2 recorded")
    expect(customer.locator("main")).to_contain_text("Goods: partially received")
    expect(customer.locator("#fulfilment")).to_contain_text("Box crushed in transit")
    shot(customer, "05-customer-progress")

    customer.set_viewport_size({"width": 1280, "height": 900})
    customer.reload()
    supplier.goto(so_url)
    expected = [("10", "9 of 10\n1 damaged"), ("4", "✓ 4 of 4")]
    assert _progress(customer) == expected
    assert _progress(supplier) == expected
    expect(supplier.locator("main")).to_contain_text("Customer: partially received")
    expect(supplier.locator("#fulfilment")).to_contain_text("Box crushed in transit")
    shot(supplier, "06-supplier-sees-the-same-progress")
