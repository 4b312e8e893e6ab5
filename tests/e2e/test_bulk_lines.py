"""Browser journey of lines in bulk: the buyer pastes rows from a spreadsheet into a draft (one
row is wrong: its problem is listed by row and column, and the pasted text is kept), fixes the
row and adds them all; then submits the order and orders it again into a new draft.
Screenshots: test-results/bulk-lines/ (1366 wide, and a phone 390 wide)."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from orders.models import PurchaseOrder
from tests.e2e.test_negotiation import log_in
from tests.factories import CostCenterFactory, ListingFactory, Trade

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "bulk-lines"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_buyer_pastes_lines_fixes_a_row_and_orders_again(live_server, browser):
    trade = Trade()
    trade.customer.name, trade.supplier.name = "Acme Works", "Crate & Co"
    trade.customer.save()
    trade.supplier.save()
    ListingFactory(supplier=trade.supplier, sku="NUT-8", name="Nut M8", unit_price="0.40", currency="USD")
    CostCenterFactory(organization=trade.customer, code="OPS", name="Operations")
    po = trade.draft(lines=[])
    base = live_server.url
    url = f"{base}/o/{trade.customer.slug}/purchase-orders/{po.number}/"

    buyer = log_in(browser, base, trade.buyer.user.email, width=1366)
    buyer.goto(url)
    buyer.get_by_text("Paste lines from a spreadsheet").click()
    box = buyer.get_by_label("Rows from a spreadsheet")
    box.click()
    # What a spreadsheet puts on the clipboard (tab-separated, a header row) arrives at once…
    buyer.keyboard.insert_text("SKU\tQty\tUnit price\tCost center\nBOLT\t12\t\t\nnut-8\t100\t\tOPS\n")
    buyer.wait_for_timeout(300)
    # …and one more row is typed by hand, with a pause: a custom item whose price is forgotten.
    box.press_sequentially("Fitting, on site", delay=60)
    buyer.keyboard.insert_text("\t")
    buyer.wait_for_timeout(200)
    box.press_sequentially("2", delay=60)
    buyer.get_by_label("Cost center for rows without one").select_option(label=str(trade.cost_center))
    buyer.get_by_role("button", name="Add the pasted lines").click()

    problems = buyer.locator("#paste-problems")
    expect(problems).to_contain_text("Row 4, unit price: Enter the unit price of the custom item.")
    expect(buyer.get_by_text("Nothing was added: 1 problem (below).")).to_be_visible()
    box = buyer.get_by_label("Rows from a spreadsheet")
    expect(box).to_have_value("SKU\tQty\tUnit price\tCost center\nBOLT\t12\t\t\nnut-8\t100\t\tOPS\nFitting, on site\t2")
    assert not po.lines.exists()
    shot(buyer, "01-a-row-is-wrong")
    buyer.set_viewport_size({"width": 390, "height": 844})
    shot(buyer, "01-a-row-is-wrong-phone")
    buyer.set_viewport_size({"width": 1366, "height": 900})

    box.click()
    box.press("Control+End")
    buyer.keyboard.insert_text("\t")
    box.press_sequentially("45.00", delay=60)
    buyer.get_by_role("button", name="Add the pasted lines").click()
    expect(buyer.get_by_role("alert").filter(has_text="3 lines added")).to_be_visible()
    lines = buyer.locator("#lines")
    expect(lines).to_contain_text("BOLT")
    expect(lines).to_contain_text("Nut M8")
    expect(lines).to_contain_text("Fitting, on site")
    expect(buyer.locator(".order-totals")).to_contain_text("160.00 USD")  # 30 + 40 + 90
    shot(buyer, "02-lines-added")
    buyer.set_viewport_size({"width": 390, "height": 844})
    shot(buyer, "03-lines-added-phone")
    buyer.set_viewport_size({"width": 1366, "height": 900})

    buyer.get_by_role("button", name="Submit").click()
    expect(buyer.get_by_role("alert").filter(has_text=f"{po.number} is submitted")).to_be_visible()
    buyer.get_by_role("button", name="Order again").dblclick()  # an impatient double click
    expect(buyer.get_by_role("alert").filter(has_text=f"created from {po.number}")).to_be_visible()
    new = PurchaseOrder.objects.exclude(pk=po.pk).get()  # one new draft, however many clicks
    expect(buyer.get_by_role("alert").filter(has_text=f"Draft {new.number} created from {po.number}")).to_be_visible()
    expect(buyer.locator("h1")).to_have_text(new.number)
    expect(buyer.locator("#lines")).to_contain_text("Fitting, on site")
    expect(buyer.locator(".order-totals")).to_contain_text("160.00 USD")
    assert new.status == "draft" and new.lines.count() == 3
    shot(buyer, "04-ordered-again")
    buyer.set_viewport_size({"width": 390, "height": 844})
    shot(buyer, "05-ordered-again-phone")
