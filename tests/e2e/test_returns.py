"""Browser journey of a return (issue 19): the receiver records a shipment with a damaged unit and sends it back,
for a credit, with a photo (a quantity beyond what arrived is refused beside its input, and the
photo must be chosen again); the supplier's sales person authorizes it from Home (an RMA number
and instructions); the receiver ships it back; the supplier's fulfilment person records the
arrival. Each side's Returns tab says where the return stands. Screenshots: test-results/returns/."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.roles import Role
from orders import interfaces
from orders.services import fulfilment
from tests.e2e.test_negotiation import log_in
from tests.factories import Trade, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "returns"
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 32


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def credits():
    """Billing's own gate makes the credit note (it must be registered: nothing stands in for it)."""
    assert hasattr(interfaces.billing(), "credit_return_after_commit")


def test_a_damaged_unit_goes_back_for_a_credit(live_server, browser, tmp_path, credits):
    trade = Trade()
    trade.customer.name, trade.supplier.name = "Acme Works", "Crate & Co"
    trade.customer.save()
    trade.supplier.save()

    po = trade.confirmed()  # 10 × BOLT, shipped in full by the supplier
    trade.receiver, trade.shipper = member(trade.customer, Role.RECEIVER), member(trade.supplier, Role.FULFILMENT)
    fulfilment.record_shipment(
        so=po.sales_order, by=trade.shipper, lines={po.lines.get().pk: Decimal("10")}, shipped_on=timezone.localdate()
    )
    base = live_server.url
    picture = tmp_path / "cracked-bolt.png"
    picture.write_bytes(PNG)

    # 0. The receiver takes the shipment in: 9 in good condition, 1 damaged.
    receiver = log_in(browser, base, trade.receiver.user.email)
    receiver.goto(f"{base}/o/{trade.customer.slug}/purchase-orders/{po.number}/")
    receiver.get_by_role("link", name="Receive shipment 1").click()
    received = receiver.get_by_label("Line 1 received in good condition (ea)")
    received.fill("")
    received.press_sequentially("9", delay=60)
    receiver.get_by_label("Line 1 damaged (ea)").press_sequentially("1", delay=60)
    receiver.get_by_label("Line 1: why damaged or short").press_sequentially("Head cracked", delay=30)
    receiver.get_by_role("button", name="Record receipt").click()
    expect(receiver.get_by_role("alert").first).to_contain_text("Receipt 1 recorded")

    # 1. The receiver asks to send the damaged bolt back; 11 is more than arrived.
    receiver.goto(f"{base}/o/{trade.customer.slug}/purchase-orders/{po.number}/")
    receiver.get_by_role("link", name="Request a return").click()
    expect(receiver.locator("main")).to_contain_text("up to 10")
    quantity = receiver.get_by_label("Line 1 Quantity to return (ea)")
    quantity.press_sequentially("11", delay=60)
    receiver.get_by_label("Why do the goods go back?").select_option("damaged")
    receiver.get_by_label("In your words").press_sequentially("The head is cracked", delay=40)
    receiver.get_by_label("Credit", exact=True).check()
    receiver.get_by_label("Photos or documents").set_input_files(str(picture))
    receiver.get_by_role("button", name="Request the return").click()
    line = po.lines.get()
    expect(receiver.locator(f"#line-{line.pk}-quantity-error")).to_contain_text("more than the 10 ea")
    expect(quantity).to_have_value("11")
    expect(receiver.get_by_label("In your words")).to_have_value("The head is cracked")
    expect(receiver.get_by_label("Credit", exact=True)).to_be_checked()
    expect(receiver.locator("main")).to_contain_text("cracked-bolt.png) were not kept: choose them again")
    shot(receiver, "01-too-many-refused")
    quantity.fill("")
    quantity.press_sequentially("1", delay=60)
    receiver.get_by_label("Photos or documents").set_input_files(str(picture))
    receiver.get_by_role("button", name="Request the return").click()
    expect(receiver.get_by_role("alert").first).to_contain_text("Return 1 is requested for credit")
    section = receiver.locator("#return-1")
    expect(section).to_contain_text("Waiting for the supplier")
    expect(section.get_by_role("link", name="cracked-bolt.png")).to_be_visible()
    expect(section.get_by_role("button", name="Withdraw return 1")).to_be_visible()
    shot(receiver, "02-customer-return-requested")

    # 2. The sales person finds it on Home and authorizes it.
    sales = log_in(browser, base, trade.sales.user.email)
    sales.get_by_role("link", name="Returns to answer").click()
    section = sales.locator("#return-1")
    expect(section).to_contain_text("The head is cracked")
    with sales.expect_download() as download:
        section.get_by_role("link", name="cracked-bolt.png").click()
    assert download.value.suggested_filename == "cracked-bolt.png"
    section.get_by_role("link", name="Authorize return 1").click()
    sales.get_by_label("Instructions for sending the goods back").press_sequentially(
        "Dock 4, mornings; quote the RMA number on the box.", delay=20
    )
    sales.get_by_role("button", name="Authorize the return").click()
    expect(sales.get_by_role("alert").first).to_contain_text("Return 1 authorized as RMA-000001")
    expect(sales.locator("#return-1")).to_contain_text("Authorized: to ship back")
    expect(sales.locator("#return-1")).to_contain_text("Waiting for Acme Works to ship the goods back")
    shot(sales, "03-supplier-authorized")

    # 3. The receiver ships it back, from Home.
    receiver.goto(f"{base}/o/{trade.customer.slug}/")
    receiver.get_by_role("link", name="Returns to ship back").click()
    section = receiver.locator("#return-1")
    expect(section).to_contain_text("RMA-000001")
    expect(section).to_contain_text("Dock 4, mornings")
    section.get_by_role("link", name="Record shipment back").click()
    receiver.get_by_label("Carrier").press_sequentially("DHL", delay=40)
    receiver.get_by_label("Tracking number").press_sequentially("JD014600006281", delay=40)
    receiver.get_by_role("button", name="Record shipment back").click()
    expect(receiver.get_by_role("alert").first).to_contain_text("is recorded as shipped back")
    expect(receiver.locator("#return-1")).to_contain_text("On its way back")
    expect(receiver.locator("#return-1")).to_contain_text("JD014600006281")
    receiver.goto(f"{base}/o/{trade.customer.slug}/purchase-orders/{po.number}/")
    expect(receiver.locator("#returns-notice")).to_contain_text("Return 1 (RMA-000001) is on its way back")
    shot(receiver, "04-customer-order-notice")

    # 4. The fulfilment person records what arrived: the sent quantity is proposed.
    shipper = log_in(browser, base, trade.shipper.user.email)
    shipper.get_by_role("link", name="Returns on their way back").click()
    shipper.locator("#return-1").get_by_role("link", name="Record arrival").click()
    expect(shipper.get_by_label("Line 1 Arrived (ea)")).to_have_value("1")
    shipper.get_by_role("button", name="Record arrival").click()  # the condition is not chosen yet
    expect(shipper.locator(f"#line-{line.pk}-condition-error")).to_contain_text("in what condition")
    shipper.get_by_label("Line 1 Condition").select_option("as_described")
    shipper.get_by_label("Note to the customer").press_sequentially("Crack confirmed.", delay=30)
    shot(shipper, "05-supplier-records-arrival")
    shipper.get_by_role("button", name="Record arrival").click()
    expect(shipper.get_by_role("alert").first).to_contain_text("is received back; a credit note follows")
    section = shipper.locator("#return-1")
    expect(section).to_contain_text("Received back")
    expect(section).to_contain_text("Crack confirmed.")
    progress = shipper.locator("#return-progress tbody tr").first
    expect(progress).to_contain_text("BOLT")
    expect(progress.locator("td").nth(4)).to_have_text("1 ea")  # received back
    expect(progress.locator("td").nth(5)).to_have_text("1 ea")  # credited
    shot(shipper, "06-supplier-received-back")

    # 5. The customer sees the same on its tab.
    receiver.goto(f"{base}/o/{trade.customer.slug}/purchase-orders/{po.number}/returns/")
    section = receiver.locator("#return-1")
    expect(section).to_contain_text("Received back")
    expect(section).to_contain_text("As described")
    expect(section.get_by_role("button")).to_have_count(0)  # nothing left to do
    shot(receiver, "07-customer-received-back")

    # 6. The credit note and the debit note came with the arrival, nobody typing an amount:
    #    1 BOLT at 2.50. The supplier's invoice and the customer's bill both show it.
    from billing.models import Bill

    bill = Bill.objects.get(purchase_order=po)
    assert (bill.total, bill.credited_total) == (Decimal("25.00"), Decimal("2.50"))
    expect(section).to_contain_text("Debit note DN-000001")
    section.get_by_role("link", name="DN-000001").click()
    expect(receiver.locator("main")).to_contain_text("CN-000001")  # the supplier's credit note number
    receiver.get_by_role("link", name=bill.number).first.click()
    summary = receiver.locator("main")
    expect(summary).to_contain_text("−2.50 USD")
    expect(summary.locator("dt:has-text('Outstanding') + dd")).to_have_text("22.50 USD")
    shot(receiver, "08-customer-bill-reduced")
    shipper.goto(f"{base}/o/{trade.supplier.slug}/sales-orders/{po.sales_order.number}/returns/")
    shipper.locator("#return-1").get_by_role("link", name="CN-000001").click()
    expect(shipper.locator("main")).to_contain_text("2.50 USD")
    shipper.get_by_role("link", name=bill.invoice.number).first.click()
    expect(shipper.locator("main")).to_contain_text("CN-000001")
    expect(shipper.locator("main")).to_contain_text("22.50 USD")
    shot(shipper, "09-supplier-invoice-credited")
