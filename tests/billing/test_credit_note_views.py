"""The pages of returns' money: the lists of debit notes (customer) and credit notes (supplier)
with filters and CSV, their pages and PDFs, another organization's note (404), the bill's
*Returns* under the PO lock, the invoice's credit notes, Home's "Credits issued" rows, and query
counts that do not grow with the notes."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Bill, CreditNote, DebitNote
from billing.services import credits
from billing.services.documents import issue_documents
from billing.services.payments import record_payment, verify_payment
from tests.billing.returnkit import arrived_back, confirmed, trade_in

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate


def url(name, org, **kwargs):
    return reverse(f"billing:{name}", kwargs={"org_slug": org.slug, **kwargs})


def _credited(trade, quantity="2", lines=None):
    """A confirmed order of 27.50 USD (10 × 2.50 + 10 % tax) with its documents, and a return of
    ``quantity`` units credited."""
    po = confirmed(
        trade,
        lines or [{"description": "Goggles", "sku": "GOG", "quantity": "10", "unit_price": "2.50", "tax_rate": "10"}],
    )
    issue_documents(po=po)
    ret = arrived_back(po, {1: quantity})
    credit, debit = credits.issue_credit_notes(return_request=ret)
    return po, ret, credit, debit


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_debit_note_list_filters_sorts_and_exports(client, trade):
    po, ret, credit, debit = _credited(trade)
    po2, _, _, debit2 = _credited(trade, quantity="4")
    client.force_login(trade.payables.user)
    page = client.get(url("debit-note-list", trade.customer)).content.decode()
    assert "2 debit notes" in page and debit.number in page and debit2.number in page
    assert f'href="{url("debit-note-detail", trade.customer, number=debit.number)}"' in page
    assert credit.number in page and ret.label in page  # their credit note, the return
    # Filters: the bill's status, the supplier, a number (of the note, the order, the credit note, the RMA), dates.
    assert "1 debit note" in client.get(url("debit-note-list", trade.customer), {"q": po2.number}).content.decode()
    found = client.get(url("debit-note-list", trade.customer), {"q": ret.rma_number}).content.decode()
    assert "1 debit note" in found and debit.number in found
    assert "2 debit notes" in client.get(url("debit-note-list", trade.customer), {"status": "open"}).content.decode()
    assert "0 debit notes" in client.get(url("debit-note-list", trade.customer), {"status": "paid"}).content.decode()
    assert (
        "2 debit notes"
        in client.get(url("debit-note-list", trade.customer), {"counterparty": trade.supplier.pk}).content.decode()
    )
    tomorrow = (TODAY() + timedelta(days=1)).isoformat()
    assert (
        "0 debit notes" in client.get(url("debit-note-list", trade.customer), {"date_from": tomorrow}).content.decode()
    )
    page = client.get(url("debit-note-list", trade.customer), {"sort": "total"}).content.decode()
    assert page.index(debit.number) < page.index(debit2.number)  # 5.50 before 11.00
    htmx = client.get(url("debit-note-list", trade.customer), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in htmx and debit.number in htmx  # the table alone
    rows = _csv(client.get(url("debit-note-export", trade.customer), {"q": debit.number}))
    assert rows[0] == [
        "number",
        "supplier",
        "supplier_credit_note",
        "bill",
        "purchase_order",
        "return",
        "note_date",
        "currency",
        "subtotal",
        "discount",
        "tax_total",
        "total",
    ]
    bill = Bill.objects.get(purchase_order=po)
    assert rows[1:] == [
        [
            debit.number,
            trade.supplier.name,
            credit.number,
            bill.number,
            po.number,
            ret.label,
            TODAY().isoformat(),
            "USD",
            "5.00",
            "0.00",
            "0.50",
            "5.50",
        ]
    ]
    client.force_login(trade.receivables.user)
    assert client.get(url("debit-note-list", trade.supplier)).status_code == 403  # a supplier has none


def test_the_credit_note_list_filters_and_exports(client, trade):
    po, ret, credit, _ = _credited(trade)
    client.force_login(trade.receivables.user)
    page = client.get(url("credit-note-list", trade.supplier)).content.decode()
    assert "1 credit note" in page and credit.number in page and po.sales_order.number in page
    assert "1 credit note" in client.get(url("credit-note-list", trade.supplier), {"status": "open"}).content.decode()
    assert "0 credit notes" in client.get(url("credit-note-list", trade.supplier), {"status": "paid"}).content.decode()
    assert (
        "1 credit note"
        in client.get(url("credit-note-list", trade.supplier), {"q": po.sales_order.number}).content.decode()
    )
    rows = _csv(client.get(url("credit-note-export", trade.supplier)))
    assert rows[0][:6] == ["number", "customer", "invoice", "sales_order", "customer_po", "return"]
    assert rows[1] == [
        credit.number,
        trade.customer.name,
        credit.invoice.number,
        po.sales_order.number,
        po.number,
        ret.label,
        TODAY().isoformat(),
        "USD",
        "5.00",
        "0.00",
        "0.50",
        "5.50",
    ]
    client.force_login(trade.payables.user)
    assert client.get(url("credit-note-list", trade.customer)).status_code == 403  # the customer's side has none


def test_the_note_pages_link_the_documents_the_order_and_the_return_and_print(client, trade):
    po, ret, credit, debit = _credited(trade)
    bill = Bill.objects.get(purchase_order=po)
    client.force_login(trade.payables.user)
    page = client.get(url("debit-note-detail", trade.customer, number=debit.number)).content.decode()
    assert f"Debit note {debit.number}" in page and f"their credit note {credit.number}" in page
    assert f'href="{url("bill-detail", trade.customer, number=bill.number)}"' in page
    po_page = reverse("orders:po-detail", args=[trade.customer.slug, po.number])
    assert f'href="{po_page}"' in page and f'href="{po_page}returns/#return-{ret.number}">{ret.label}<' in page
    assert "GOG" in page and "5.50 USD" in page and "22.00 USD" in page  # the bill asks 22.00 now
    response = client.get(url("debit-note-pdf", trade.customer, number=debit.number))
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    client.force_login(trade.receivables.user)
    page = client.get(url("credit-note-detail", trade.supplier, number=credit.number)).content.decode()
    assert f"Credit note {credit.number}" in page
    assert f'href="{url("invoice-detail", trade.supplier, number=credit.invoice.number)}"' in page
    so_page = reverse("orders:so-detail", args=[trade.supplier.slug, po.sales_order.number])
    assert f'href="{so_page}returns/#return-{ret.number}">{ret.label}<' in page
    response = client.get(url("credit-note-pdf", trade.supplier, number=credit.number))
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")


def test_another_organizations_note_answers_404(client, trade):
    _, _, credit, debit = _credited(trade)
    other = trade_in()
    client.force_login(other.payables.user)
    for name in ("debit-note-detail", "debit-note-pdf"):
        assert client.get(url(name, other.customer, number=debit.number)).status_code == 404
        assert client.get(url(name, trade.customer, number=debit.number)).status_code == 404  # not a member
    client.force_login(other.receivables.user)
    for name in ("credit-note-detail", "credit-note-pdf"):
        assert client.get(url(name, other.supplier, number=credit.number)).status_code == 404
        assert client.get(url(name, trade.supplier, number=credit.number)).status_code == 404  # not a member
    # A customer admin asking for its supplier's credit note under its own name: no such note.
    client.force_login(trade.customer_admin.user)
    assert client.get(url("debit-note-detail", trade.customer, number=credit.number)).status_code == 404


def test_the_bill_shows_its_returns_locked_and_what_is_left_net_of_them(client, trade):
    po, ret, credit, debit = _credited(trade)
    bill = Bill.objects.get(purchase_order=po)
    client.force_login(trade.payables.user)
    page = client.get(url("bill-detail", trade.customer, number=bill.number)).content.decode()
    assert "its date, supplier, location, amounts and returns follow the order" in page
    assert 'id="returns"' in page and f'href="{url("debit-note-detail", trade.customer, number=debit.number)}"' in page
    balance = page.split('id="balance-heading"', 1)[1].split("</section>", 1)[0]
    assert "Returns" in balance and 'aria-label="Locked to the order"' in balance and "−5.50 USD" in balance
    assert "22.00 USD" in balance and "Balance in your favour" not in balance
    assert 'name="amount" value="22.00"' in page  # the payment form offers what is left
    assert "At most 22.00 USD is outstanding, after 5.50 USD of returns." in page
    edit = client.get(url("bill-edit", trade.customer, number=bill.number)).content.decode()
    locked = edit.split("Locked to", 1)[1].split("</dl>", 1)[0]
    assert "Returns" in locked and "5.50 USD" in locked and 'name="credited_total"' not in edit
    before = Bill.objects.filter(pk=bill.pk).values().get()
    response = client.post(
        url("bill-edit", trade.customer, number=bill.number), {"due_date": str(bill.due_date), "credited_total": "0"}
    )
    assert response.status_code == 400
    assert f"This bill follows purchase order {po.number}: its returns cannot be changed." in response.content.decode()
    assert Bill.objects.filter(pk=bill.pk).values().get() == before
    # Paid in full before a second credit: the page says what is owed back.
    payment = record_payment(bill=bill, by=trade.payables, amount=Decimal("22"), paid_on=TODAY(), method="cash")
    verify_payment(payment=payment, by=trade.receivables, amount_received=Decimal("22"))
    credits.issue_credit_notes(return_request=arrived_back(po, {1: "1"}))  # 2.75 more
    page = client.get(url("bill-detail", trade.customer, number=bill.number)).content.decode()
    balance = page.split('id="balance-heading"', 1)[1].split("</section>", 1)[0]
    assert "Balance in your favour" in balance and "2.75 USD" in balance
    list_page = client.get(url("bill-list", trade.customer)).content.decode()
    assert bill.number in list_page and "0.00 USD" in list_page  # outstanding net of returns
    rows = _csv(client.get(url("bill-export", trade.customer)))
    assert rows[0][-2:] == ["returns", "outstanding"] and rows[1][-2:] == ["8.25", "0.00"]


def test_the_invoice_shows_its_credit_notes_its_net_total_and_what_is_owed_back(client, trade):
    po, _, credit, _ = _credited(trade)
    bill = Bill.objects.get(purchase_order=po)
    client.force_login(trade.receivables.user)
    page = client.get(url("invoice-detail", trade.supplier, number=credit.invoice.number)).content.decode()
    assert 'id="credit-notes"' in page
    assert f'href="{url("credit-note-detail", trade.supplier, number=credit.number)}"' in page
    assert "Net total" in page and "22.00 USD" in page and "owed back" not in page
    payment = record_payment(bill=bill, by=trade.payables, amount=Decimal("22"), paid_on=TODAY(), method="cash")
    verify_payment(payment=payment, by=trade.receivables, amount_received=Decimal("22"))
    credits.issue_credit_notes(return_request=arrived_back(po, {1: "1"}))
    page = client.get(url("invoice-detail", trade.supplier, number=credit.invoice.number)).content.decode()
    assert f"Balance owed back to {trade.customer.name}" in page and "2.75 USD" in page
    assert "-0.00" not in page and "−0.00" not in page  # nothing due: a plain zero, not a negative one
    rows = _csv(client.get(url("invoice-export", trade.supplier)))
    assert rows[0][-3:] == ["total", "credited", "net_total"] and rows[1][-3:] == ["27.50", "8.25", "19.25"]


def test_the_navigation_links_the_note_lists_for_the_roles_that_see_bills_and_invoices(client, trade):
    client.force_login(trade.payables.user)
    page = client.get(url("bill-list", trade.customer)).content.decode()
    assert f'href="{url("debit-note-list", trade.customer)}"' in page
    assert f'href="{url("credit-note-list", trade.customer)}"' not in page
    client.force_login(trade.receivables.user)
    page = client.get(url("credit-note-list", trade.supplier)).content.decode()
    assert f'aria-current="page" href="{url("credit-note-list", trade.supplier)}"' in page  # its section
    assert f'href="{url("debit-note-list", trade.supplier)}"' not in page


def test_home_shows_the_credits_issued_on_both_sides(client, trade):
    po, _, credit, debit = _credited(trade)
    since = (TODAY() - timedelta(days=29)).isoformat()
    client.force_login(trade.payables.user)
    page = client.get(reverse("home:org-home", args=[trade.customer.slug])).content.decode()
    row = page.split("Credits issued to you in the last 30 days", 1)[1].split("</a>", 1)[0]
    assert "5.50 USD" in row and ">1</span>" in row
    assert f'href="{url("debit-note-list", trade.customer)}?date_from={since}"' in page
    client.force_login(trade.receivables.user)
    page = client.get(reverse("home:org-home", args=[trade.supplier.slug])).content.decode()
    row = page.split("Credits issued in the last 30 days", 1)[1].split("</a>", 1)[0]
    assert "5.50 USD" in row and ">1</span>" in row
    assert f'href="{url("credit-note-list", trade.supplier)}?date_from={since}"' in page
    # Older than 30 days: no longer in the row.
    CreditNote.objects.update(note_date=TODAY() - timedelta(days=30))
    DebitNote.objects.update(note_date=TODAY() - timedelta(days=30))
    assert "Credits issued" not in client.get(reverse("home:org-home", args=[trade.supplier.slug])).content.decode()


@pytest.mark.parametrize("count", [2, 12])
def test_note_lists_and_pages_query_counts_do_not_grow(client, trade, django_assert_max_num_queries, count):
    po = confirmed(
        trade, [{"description": "Goggles", "quantity": str(count * 2), "unit_price": "2.50", "tax_rate": "10"}]
    )
    issue_documents(po=po)
    for _ in range(count):
        credit, debit = credits.issue_credit_notes(return_request=arrived_back(po, {1: "1"}))
    bill = Bill.objects.get(purchase_order=po)
    client.force_login(trade.payables.user)
    client.get(url("debit-note-list", trade.customer))
    # session, user, membership, the filter's suppliers, count, page, the switcher
    with django_assert_max_num_queries(8):
        assert client.get(url("debit-note-list", trade.customer)).status_code == 200
    with django_assert_max_num_queries(7):  # … the note with its bill and return, its lines
        assert client.get(url("debit-note-detail", trade.customer, number=debit.number)).status_code == 200
    with django_assert_max_num_queries(14):  # as before the returns, and one more: the debit notes
        assert client.get(url("bill-detail", trade.customer, number=bill.number)).status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get(url("bill-list", trade.customer)).status_code == 200
    client.force_login(trade.receivables.user)
    with django_assert_max_num_queries(10):
        assert client.get(url("credit-note-list", trade.supplier)).status_code == 200
    with django_assert_max_num_queries(7):
        assert client.get(url("credit-note-detail", trade.supplier, number=credit.number)).status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get(url("invoice-detail", trade.supplier, number=credit.invoice.number)).status_code == 200
