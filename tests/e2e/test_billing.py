"""Browser journey of billing, customer and supplier side by side: the buyer confirms an order
and its bill appears (the real documents task, run eagerly after commit); payables overpays
(refused next to Amount, the rest of the form kept), then pays part; the supplier's
receivables verifies it from the home page's inbox; payables pays the rest, receivables
verifies again: the bill is verified, the invoice paid. Screenshots: test-results/billing/."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from billing.models import Bill, Invoice
from orders.services import negotiation
from tests.e2e.test_negotiation import log_in
from tests.factories import Trade, member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "billing"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _balance(page, label):
    """The amount beside ``label`` in the bill's Balance card."""
    card = page.locator("section[aria-labelledby=balance-heading]")
    return card.locator("dt", has_text=label).locator("xpath=following-sibling::dd[1]").inner_text()


def test_bill_paid_in_two_parts_each_verified_by_the_supplier(live_server, browser):
    trade = Trade()
    trade.customer.name, trade.supplier.name = "Acme Works", "Crate & Co"
    trade.customer.save()
    trade.supplier.save()
    payables = member(trade.customer, Role.PAYABLES)
    receivables = member(trade.supplier, Role.RECEIVABLES)
    po = trade.sent()  # 10 × BOLT at 2.50 = 25.00 USD
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    base = live_server.url

    # 1. The buyer confirms; the documents task makes the invoice and the bill after commit.
    buyer = log_in(browser, base, trade.buyer.user.email)
    buyer.goto(f"{base}/o/{trade.customer.slug}/purchase-orders/{po.number}/")
    buyer.get_by_role("button", name="Confirm order").click()
    expect(buyer.get_by_role("alert")).to_contain_text(f"{po.number} is confirmed")
    bill = Bill.objects.get(purchase_order=po)
    invoice = Invoice.objects.get(purchase_order=po)
    documents = buyer.locator("#documents")  # the page after the redirect: the task ran on commit
    expect(documents.get_by_role("heading", name="Bill")).to_be_visible()
    expect(documents.get_by_role("link", name=bill.number)).to_be_visible()
    expect(documents).to_contain_text("25.00 USD")
    shot(buyer, "01-buyer-confirmed-bill-appears")

    # 2. Payables opens the bill from the nav: too much is refused beside Amount, then 10.00.
    customer = log_in(browser, base, payables.user.email)
    customer.get_by_role("link", name="Bills", exact=True).click()
    customer.get_by_role("link", name=bill.number).click()
    expect(customer.get_by_role("note")).to_contain_text(f"Made from purchase order {po.number}")
    expect(customer.get_by_role("heading", level=1)).to_contain_text("Open")
    expect(customer.get_by_label("Amount")).to_have_value("25.00")  # what is outstanding, as money
    customer.get_by_label("Amount").fill("30.00")
    customer.get_by_label("Method").select_option(label="Bank transfer")
    customer.get_by_label("Reference").fill("TRX-0001")
    customer.get_by_role("button", name="Record payment").click()
    amount_error = customer.locator("#id_amount-error")
    expect(amount_error).to_contain_text("At most 25.00 USD is outstanding on this bill.")
    expect(customer.get_by_label("Amount")).to_have_attribute("aria-invalid", "true")
    expect(customer.get_by_label("Amount")).to_have_value("30.00")
    expect(customer.get_by_label("Reference")).to_have_value("TRX-0001")  # kept
    expect(customer.get_by_label("Method")).to_have_value("bank_transfer")  # kept
    expect(customer.get_by_role("heading", level=1)).to_contain_text("Open")  # nothing recorded
    shot(customer, "02-payables-overpayment-refused")
    customer.get_by_label("Amount").fill("10.00")
    customer.get_by_role("button", name="Record payment").click()
    expect(customer.get_by_role("alert")).to_contain_text("Payment of 10.00 USD recorded")
    expect(customer.get_by_role("heading", level=1)).to_contain_text("Partially paid")
    payments = customer.get_by_role("table", name="Payments")
    expect(payments).to_contain_text("TRX-0001")
    expect(payments).to_contain_text("Waiting for verification")
    assert _balance(customer, "Outstanding") == "15.00 USD"
    shot(customer, "03-payables-paid-part")

    # 3. Receivables finds the payment on the home page, opens the invoice and verifies it.
    supplier = log_in(browser, base, receivables.user.email)
    inbox = supplier.get_by_role("link", name="Payments to verify")
    expect(inbox).to_contain_text("1")
    inbox.click()
    supplier.get_by_role("link", name=invoice.number).click()
    expect(supplier.get_by_role("heading", level=1)).to_contain_text(f"Invoice {invoice.number}")
    supplier.get_by_role("link", name="Verify payment").click()
    expect(supplier.get_by_role("heading", level=1)).to_contain_text("Payment of 10.00 USD from Acme Works")
    expect(supplier.locator("main")).to_contain_text("TRX-0001")
    expect(supplier.get_by_label("Amount actually received")).to_have_value("10.00")
    supplier.get_by_label("Amount actually received").fill("10.00")
    shot(supplier, "04-receivables-verifies")
    supplier.get_by_role("button", name="Verify payment").click()
    expect(supplier.get_by_role("alert")).to_contain_text("Payment verified")
    expect(supplier.get_by_role("heading", level=1)).to_contain_text(f"Invoice {invoice.number}")
    expect(supplier.get_by_role("table", name="Payments")).to_contain_text("Verified")
    expect(supplier.get_by_role("heading", level=1)).to_contain_text("Open")
    shot(supplier, "05-receivables-first-verified")

    # 4. The customer sees it verified, pays the rest; the supplier verifies that too.
    customer.reload()
    assert _balance(customer, "Verified by Crate & Co") == "10.00 USD"
    expect(customer.get_by_role("table", name="Payments")).to_contain_text("Verified")
    expect(customer.get_by_label("Amount")).to_have_value("15.00")
    customer.get_by_label("Amount").fill("15.00")
    customer.get_by_label("Method").select_option(label="Bank transfer")
    customer.get_by_label("Reference").fill("TRX-0002")
    customer.get_by_role("button", name="Record payment").click()
    expect(customer.get_by_role("alert")).to_contain_text("Payment of 15.00 USD recorded")
    expect(customer.get_by_role("heading", level=1)).to_contain_text("Paid")
    expect(customer.locator("#pay")).to_have_count(0)  # nothing is left to pay
    assert _balance(customer, "Outstanding") == "0.00 USD"

    supplier.get_by_role("link", name="Home", exact=True).click()
    expect(supplier.get_by_role("link", name="Payments to verify")).to_contain_text("1")
    supplier.goto(f"{base}/o/{trade.supplier.slug}/invoices/{invoice.number}/")
    supplier.get_by_role("link", name="Verify payment").click()
    expect(supplier.get_by_role("heading", level=1)).to_contain_text("Payment of 15.00 USD")
    supplier.get_by_role("button", name="Verify payment").click()
    expect(supplier.get_by_role("alert")).to_contain_text("Payment verified")
    expect(supplier.get_by_role("heading", level=1)).to_contain_text("Paid")
    expect(supplier.get_by_role("link", name="Verify payment")).to_have_count(0)
    shot(supplier, "06-receivables-invoice-paid")

    customer.reload()
    expect(customer.get_by_role("heading", level=1)).to_contain_text("Verified")
    assert _balance(customer, "Verified by Crate & Co") == "25.00 USD"
    shot(customer, "07-payables-bill-verified")
    customer.set_viewport_size({"width": 390, "height": 844})  # on a phone
    customer.reload()
    expect(customer.get_by_role("heading", level=1)).to_contain_text("Verified")
    shot(customer, "08-payables-bill-verified-phone")

    bill.refresh_from_db()
    invoice.refresh_from_db()
    assert (bill.status, bill.paid_total, bill.verified_total, invoice.status) == ("verified", 25, 25, "paid")


def test_a_bill_entered_by_hand_follows_the_supplier_then_is_matched(live_server, browser):
    """Issue 18 #6 and #7: the form starts today in the base currency; choosing a supplier brings
    the currency it trades in, unless payables chose one; on the bill's page the label "Amount to
    match" reaches the match form's input, not the payment's."""
    import datetime

    from billing.services.bills import cancel_bill
    from billing.services.documents import issue_documents
    from tests.factories import ConnectionFactory, SupplierFactory

    trade = Trade()
    trade.customer.base_currency = "GBP"
    trade.customer.save()
    payables = member(trade.customer, Role.PAYABLES)
    yen = SupplierFactory(name="Nippon Bolts", base_currency="JPY")
    ConnectionFactory(customer=trade.customer, supplier=yen, currency="")
    po = trade.confirmed(lines=[{"description": "Valve", "quantity": "10", "unit": "ea", "unit_price": "10"}])
    _, own = issue_documents(po=po)
    cancel_bill(bill=own, by=payables, reason="Invoiced on paper")
    base = live_server.url

    page = log_in(browser, base, payables.user.email, width=1366)
    page.goto(f"{base}/o/{trade.customer.slug}/bills/new/")
    currency, supplier = page.get_by_label("Currency"), page.get_by_label("Supplier", exact=True)
    expect(currency).to_have_value("GBP")
    expect(page.get_by_label("Bill date")).to_have_value(datetime.date.today().isoformat())
    supplier.select_option(label="Nippon Bolts")
    expect(currency).to_have_value("JPY")  # the supplier's own currency
    supplier.select_option(label=trade.supplier.name)
    expect(currency).to_have_value("USD")  # the connection's
    shot(page, "09-bill-by-hand-follows-supplier")
    currency.select_option("EUR")  # chosen by hand: a later supplier leaves it
    supplier.select_option(label="Nippon Bolts")
    expect(currency).to_have_value("EUR")
    supplier.select_option(label=trade.supplier.name)
    currency.select_option("USD")
    page.get_by_label("Due date").press_sequentially(datetime.date.today().strftime("%m%d%Y"), delay=60)
    page.get_by_label("Description").first.press_sequentially("Valves", delay=60)
    page.get_by_label("Quantity").first.fill("")
    page.get_by_label("Quantity").first.press_sequentially("10", delay=60)
    page.get_by_label("Unit price").first.press_sequentially("10", delay=60)
    page.get_by_role("button", name="Enter bill").click()
    expect(page.get_by_role("alert")).to_contain_text("entered")
    expect(page.get_by_label("Amount", exact=True)).to_have_value("100.00")
    page.get_by_label("Purchase order").select_option(index=1)
    match = page.get_by_label("Amount to match")
    match.press_sequentially("100", delay=60)
    expect(match).to_have_value("100")
    expect(page.get_by_label("Amount", exact=True)).to_have_value("100.00")  # the payment's, untouched
    shot(page, "10-bill-by-hand-match")
    page.get_by_role("button", name="Match").click()
    expect(page.get_by_role("alert")).to_contain_text(f"matched to {po.number}")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    shot(page, "11-bill-by-hand-matched-phone")
