"""The billing pages: lists with filters and CSV, the bill (lock, payment, matching), the
invoice and verification, PDFs, proofs of payment, the inbox rows; query counts that do not
grow with rows."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from billing.models import Bill, BillMatch, Payment
from billing.services.bills import cancel_bill, create_bill
from billing.services.documents import issue_documents
from billing.services.payments import record_payment
from orders.services import negotiation
from tests.factories import ConnectionFactory, SupplierFactory, bill_line

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate


def url(name, org, **kwargs):
    return reverse(f"billing:{name}", kwargs={"org_slug": org.slug, **kwargs})


@pytest.fixture
def bill(trade):
    po = trade.confirmed()
    issue_documents(po=po)
    return Bill.objects.select_related("invoice", "purchase_order").get(purchase_order=po)


def test_the_bill_page_shows_the_lock_the_match_and_the_payment_form(client, trade, bill):
    client.force_login(trade.payables.user)
    page = client.get(url("bill-detail", trade.customer, number=bill.number)).content.decode()
    assert 'aria-label="Locked to the order"' in page
    assert f"Made from purchase order {bill.purchase_order.number}" in page
    assert "3-way match" in page and "Awaiting receipt" in page and "awaiting receipt of 10 ea" in page
    assert "Mismatch" not in page and "shows a mismatch" not in page  # nothing disagrees: it is to come
    assert "Record payment" in page and 'name="amount" value="25.00"' in page  # the currency's decimals
    client.force_login(trade.buyer.user)  # sees the bill, may not pay it
    page = client.get(url("bill-detail", trade.customer, number=bill.number)).content.decode()
    assert "Record payment" not in page


def test_a_post_that_changes_a_locked_field_is_refused_and_writes_nothing(client, trade, bill):
    client.force_login(trade.payables.user)
    before = Bill.objects.filter(pk=bill.pk).values().get()
    response = client.post(
        url("bill-edit", trade.customer, number=bill.number),
        {"due_date": str(bill.due_date + timedelta(days=3)), "notes": "Typed", "bill_date": "2020-01-01"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert f"This bill follows purchase order {bill.purchase_order.number}: its bill date cannot be changed." in page
    assert "Typed" in page  # what was typed stays
    assert Bill.objects.filter(pk=bill.pk).values().get() == before
    response = client.post(
        url("bill-edit", trade.customer, number=bill.number), {"due_date": str(bill.due_date), "total": "1"}
    )
    assert response.status_code == 302  # a field that is not the form's is ignored…
    assert Bill.objects.get(pk=bill.pk).total == bill.total  # …and never written
    response = client.post(
        url("bill-edit", trade.customer, number=bill.number),
        {"due_date": str(bill.due_date + timedelta(days=3)), "reference_number": "AP-1", "notes": "OK"},
    )
    assert response.status_code == 302
    bill.refresh_from_db()
    assert (bill.reference_number, bill.notes) == ("AP-1", "OK")


def test_the_edit_page_of_a_locked_bill_shows_locked_fields_as_text(client, trade, bill):
    client.force_login(trade.payables.user)
    page = client.get(url("bill-edit", trade.customer, number=bill.number)).content.decode()
    assert 'name="bill_date"' not in page and 'name="due_date"' in page
    assert page.count('aria-label="Locked to the order"') >= 5


def test_recording_a_payment_through_the_page(client, trade, bill):
    client.force_login(trade.payables.user)
    response = client.post(
        url("bill-pay", trade.customer, number=bill.number),
        {"amount": "30", "paid_on": str(TODAY()), "method": "bank_transfer", "reference": "TRF-9"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "At most 25.00 USD is outstanding on this bill." in page and 'value="TRF-9"' in page
    proof = SimpleUploadedFile("proof.png", b"\x89PNG\r\n\x1a\n....", content_type="image/png")
    response = client.post(
        url("bill-pay", trade.customer, number=bill.number),
        {"amount": "25", "paid_on": str(TODAY()), "method": "bank_transfer", "reference": "TRF-9", "attachment": proof},
    )
    assert response.status_code == 302
    payment = Payment.objects.get()
    assert payment.amount == 25 and payment.attachment_name == "proof.png"
    download = client.get(url("payment-attachment", trade.customer, pk=payment.pk))
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"\x89PNG")
    client.force_login(trade.receivables.user)  # the supplier sees the proof too
    assert client.get(url("payment-attachment", trade.supplier, pk=payment.pk)).status_code == 200


def test_verifying_and_disputing_through_the_pages(client, trade, bill):
    first = record_payment(bill=bill, by=trade.payables, amount=Decimal("20"), paid_on=TODAY(), method="cheque")
    client.force_login(trade.receivables.user)
    home = client.get(reverse("home:org-home", args=[trade.supplier.slug])).content.decode()
    assert "Payments to verify" in home
    invoice_page = client.get(url("invoice-detail", trade.supplier, number=bill.invoice.number)).content.decode()
    assert "Verify payment" in invoice_page
    verify = url("payment-verify", trade.supplier, pk=first.pk)
    response = client.post(verify, {"amount_received": "21"})
    assert response.status_code == 400 and "At most the 20.00 USD that was paid." in response.content.decode()
    assert client.post(verify, {"amount_received": "20"}).status_code == 302
    second = record_payment(bill=bill, by=trade.payables, amount=Decimal("5"), paid_on=TODAY(), method="cheque")
    response = client.post(url("payment-verify", trade.supplier, pk=second.pk), {"reason": ""})
    assert response.status_code == 400
    response = client.post(url("payment-verify", trade.supplier, pk=second.pk), {"reason": "Cheque bounced"})
    assert response.status_code == 302
    assert list(Payment.objects.order_by("pk").values_list("status", flat=True)) == ["verified", "disputed"]
    client.force_login(trade.payables.user)  # the customer cannot verify its own payment
    assert client.get(url("payment-verify", trade.customer, pk=second.pk)).status_code == 403


def test_entering_a_bill_by_hand_keeps_what_was_typed(client, trade):
    client.force_login(trade.payables.user)
    data = {
        "supplier": trade.supplier.pk,
        "supplier_reference": "PAPER-1",
        "currency": "USD",
        "bill_date": str(TODAY()),
        "due_date": str(TODAY() + timedelta(days=30)),
        "rows": "2",
        "line-0-description": "Freight",
        "line-0-quantity": "1",
        "line-0-unit": "ea",
        "line-0-unit_price": "40.5",
        "line-1-description": "Pallets",
        "line-1-quantity": "two",
        "line-1-unit": "ea",
        "line-1-unit_price": "3",
    }
    more = client.post(url("bill-new", trade.customer), {**data, "add_row": "1"}).content.decode()
    assert 'name="line-2-description"' in more and 'value="Freight"' in more and "is-invalid" not in more
    response = client.post(url("bill-new", trade.customer), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "“two” is not a number." in page and 'value="PAPER-1"' in page and 'value="40.5"' in page
    assert not Bill.objects.exists()
    response = client.post(url("bill-new", trade.customer), {**data, "line-1-quantity": "2"})
    assert response.status_code == 302
    bill = Bill.objects.get()
    assert bill.total == Decimal("46.50") and bill.supplier_reference == "PAPER-1"


def test_matching_through_the_page(client, trade):
    po = trade.confirmed(lines=[{"description": "Valve", "quantity": "10", "unit": "ea", "unit_price": "10"}])
    _, own = issue_documents(po=po)
    cancel_bill(bill=own, by=trade.payables, reason="Invoiced on paper")
    bill = create_bill(
        by=trade.payables,
        supplier=trade.supplier,
        currency="USD",
        bill_date=TODAY(),
        due_date=TODAY(),
        lines=[bill_line(description="Valves", quantity="10", unit_price="10")],
    )
    client.force_login(trade.payables.user)
    page = client.get(url("bill-detail", trade.customer, number=bill.number)).content.decode()
    assert "Match to a purchase order" in page and po.number in page
    response = client.post(url("bill-match", trade.customer, number=bill.number), {"po": po.pk, "amount": "101"})
    assert response.status_code == 400 and "Only 100.00 USD of this bill is left to match." in response.content.decode()
    assert (
        client.post(url("bill-match", trade.customer, number=bill.number), {"po": po.pk, "amount": "100"}).status_code
        == 302
    )
    match = BillMatch.objects.get()
    po_page = client.get(reverse("orders:po-detail", args=[trade.customer.slug, po.number])).content.decode()
    assert bill.number in po_page and "Its bills cover it" in po_page
    assert client.post(url("bill-unmatch", trade.customer, number=bill.number, pk=match.pk)).status_code == 302
    po.refresh_from_db()
    assert po.billed_at is None


def test_mark_billed_from_the_order_page_and_undo_it(client, trade):
    """Issue 18 #12: *Mark billed* was offered on an order only accepted by the supplier (its own
    bill still to come), with no undo."""
    client.force_login(trade.buyer.user)  # the requester
    accepted = trade.sent()
    negotiation.accept_sales_order(so=accepted.sales_order, by=trade.sales)
    page = client.get(reverse("orders:po-detail", args=[trade.customer.slug, accepted.number])).content.decode()
    assert "Mark billed" not in page and url("po-mark-billed", trade.customer, number=accepted.number) not in page
    client.post(url("po-mark-billed", trade.customer, number=accepted.number))
    accepted.refresh_from_db()
    assert accepted.billed_at is None
    # Confirmed, its own bill cancelled (the supplier invoiced on paper): open to bills by hand.
    po = trade.confirmed()
    _, own = issue_documents(po=po)
    cancel_bill(bill=own, by=trade.payables, reason="Invoiced on paper")
    detail = reverse("orders:po-detail", args=[trade.customer.slug, po.number])
    page = client.get(detail).content.decode()
    assert "Mark billed" in page and "Undo billed mark" not in page
    response = client.post(url("po-mark-billed", trade.customer, number=po.number), follow=True)
    assert f"{po.number} is marked billed" in response.content.decode()
    po.refresh_from_db()
    assert po.billed_by == trade.buyer.user
    page = client.get(detail).content.decode()
    assert "Marked billed by" in page and "Undo billed mark" in page
    response = client.post(url("po-unmark-billed", trade.customer, number=po.number), follow=True)
    assert f"{po.number} is no longer marked billed: bills can be matched to it again." in response.content.decode()
    po.refresh_from_db()
    assert (po.billed_at, po.billed_by) == (None, None)
    assert list(po.events.filter(kind__in=["marked_billed", "billed_undone"]).values_list("kind", "actor")) == [
        ("marked_billed", trade.buyer.user.pk),
        ("billed_undone", trade.buyer.user.pk),
    ]
    page = client.get(detail).content.decode()
    assert "Mark billed" in page and "Undo billed mark" not in page


def test_an_orders_cancelled_bill_is_not_outstanding_nor_a_mismatch(client, trade):
    """Issue 18 #12: after its own bill was cancelled, the order page still showed that bill as
    outstanding, with a Mismatch."""
    po = trade.confirmed()
    _, own = issue_documents(po=po)
    cancel_bill(bill=own, by=trade.payables, reason="Invoiced on paper")
    client.force_login(trade.buyer.user)
    response = client.get(reverse("orders:po-detail", args=[trade.customer.slug, po.number]))
    page = response.content.decode()
    assert response.context["bill_match"] is None and "3-way match" not in page
    assert "Mismatch" not in page and "Awaiting receipt" not in page
    documents = page[page.index('id="documents"') :]
    assert "Cancelled" in documents and 'Outstanding</dt><dd class="col-7">0.00 USD' in documents
    own.refresh_from_db()
    assert own.outstanding == 0
    bill_page = client.get(url("bill-detail", trade.customer, number=own.number)).content.decode()
    assert "3-way match" not in bill_page and "Record payment" not in bill_page


def test_pdfs(client, trade, bill):
    client.force_login(trade.payables.user)
    response = client.get(url("bill-pdf", trade.customer, number=bill.number))
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    client.force_login(trade.receivables.user)
    response = client.get(url("invoice-pdf", trade.supplier, number=bill.invoice.number))
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")


def test_lists_filter_sort_and_export(client, trade, bill):
    hand = create_bill(
        by=trade.payables,
        supplier=trade.supplier,
        currency="USD",
        bill_date=TODAY() - timedelta(days=40),
        due_date=TODAY() - timedelta(days=10),
        supplier_reference="OLD-1",
        lines=[bill_line(description="Freight", quantity="1", unit_price="48")],
    )
    client.force_login(trade.payables.user)
    page = client.get(url("bill-list", trade.customer) + "?status=overdue").content.decode()
    assert hand.number in page and bill.number not in page
    page = client.get(url("bill-list", trade.customer) + "?q=OLD-1").content.decode()
    assert hand.number in page and bill.number not in page
    page = client.get(url("bill-list", trade.customer) + "?sort=due").content.decode()
    assert page.index(hand.number) < page.index(bill.number)
    rows = list(
        csv.reader(io.StringIO(b"".join(client.get(url("bill-export", trade.customer)).streaming_content).decode()))
    )
    assert rows[0][:3] == ["number", "supplier", "supplier_invoice"]
    assert {r[0] for r in rows[1:]} == {bill.number, hand.number}
    home = client.get(reverse("home:org-home", args=[trade.customer.slug])).content.decode()
    assert "Bills overdue" in home and "Bills to pay" in home
    client.force_login(trade.receivables.user)
    page = client.get(url("invoice-list", trade.supplier) + "?status=open").content.decode()
    assert bill.invoice.number in page
    rows = list(
        csv.reader(io.StringIO(b"".join(client.get(url("invoice-export", trade.supplier)).streaming_content).decode()))
    )
    assert rows[1][0] == bill.invoice.number
    assert client.get(url("bill-list", trade.supplier)).status_code == 403  # a supplier has no bills page


@pytest.mark.parametrize("count", [2, 12])
def test_list_and_page_query_counts_do_not_grow(client, trade, django_assert_max_num_queries, count):
    for _ in range(count):
        bill = create_bill(
            by=trade.payables,
            supplier=trade.supplier,
            currency="USD",
            bill_date=TODAY(),
            due_date=TODAY(),
            lines=[bill_line(description="Line", quantity="1", unit_price="10")] * 3,
        )
        payment = record_payment(bill=bill, by=trade.payables, amount=Decimal("5"), paid_on=TODAY(), method="cash")
    po = trade.confirmed()
    _, order_bill = issue_documents(po=po)
    for _ in range(count):
        record_payment(bill=order_bill, by=trade.payables, amount=Decimal("0.5"), paid_on=TODAY(), method="cash")
    client.force_login(trade.payables.user)
    client.get(url("bill-list", trade.customer))
    with django_assert_max_num_queries(10):
        assert client.get(url("bill-list", trade.customer)).status_code == 200
    with django_assert_max_num_queries(14):
        assert client.get(url("bill-detail", trade.customer, number=order_bill.number)).status_code == 200
    with django_assert_max_num_queries(14):
        assert client.get(url("bill-detail", trade.customer, number=bill.number)).status_code == 200
    client.force_login(trade.receivables.user)
    with django_assert_max_num_queries(10):
        assert client.get(url("invoice-list", trade.supplier)).status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get(url("invoice-detail", trade.supplier, number=order_bill.invoice.number)).status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(url("payments", trade.supplier)).status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(url("payment-verify", trade.supplier, pk=payment.pk)).status_code == 200
    client.force_login(trade.payables.user)
    for name, kwargs in (
        ("bill-new", {}),
        ("bill-edit", {"number": bill.number}),
        ("bill-edit", {"number": order_bill.number}),
    ):
        with django_assert_max_num_queries(10):
            assert client.get(url(name, trade.customer, **kwargs)).status_code == 200
    client.force_login(trade.customer_admin.user)
    for supplier in range(count):  # overrides for as many suppliers
        other = ConnectionFactory(customer=trade.customer, supplier=SupplierFactory()).supplier
        account_services.set_supplier_tolerance(by=trade.customer_admin, supplier=other, reason=f"Deal {supplier}")
    with django_assert_max_num_queries(10):
        assert client.get(reverse("accounts:tolerances", args=[trade.customer.slug])).status_code == 200


def test_order_pages_show_invoiced_progress_and_the_documents(client, trade, bill):
    po = bill.purchase_order
    assert po.lines.get().quantity_invoiced == 10
    client.force_login(trade.buyer.user)
    page = client.get(reverse("orders:po-detail", args=[trade.customer.slug, po.number])).content.decode()
    assert "Invoiced" in page and bill.number in page and "3-way match" in page
    record_payment(bill=bill, by=trade.payables, amount=Decimal("5"), paid_on=TODAY(), method="cheque")
    client.force_login(trade.receivables.user)
    page = client.get(reverse("orders:so-detail", args=[trade.supplier.slug, po.sales_order.number])).content.decode()
    assert bill.invoice.number in page and "Verify payment (1)" in page


def test_the_bill_lines_form_leaves_blank_rows_out_and_names_a_refused_line_by_its_row():
    from billing.forms import BillLinesForm

    data = {
        "rows": "3",
        "line-0-description": "Freight",
        "line-0-quantity": "1",
        "line-0-unit_price": "40",
        "line-2-description": "Pallets",
        "line-2-quantity": "2",
        "line-2-unit_price": "5.25",
        "line-2-tax_rate": "10",
    }
    form = BillLinesForm.posted(data)
    assert form.is_valid(), form.errors
    lines = form.lines()
    assert [(line.description, line.quantity, line.unit, line.tax_rate) for line in lines] == [
        ("Freight", Decimal("1"), "ea", Decimal("0")),
        ("Pallets", Decimal("2"), "ea", Decimal("10")),
    ]
    assert form.input_name(1, "quantity") == "line-2-quantity"  # the second line given is row 2
    bad = BillLinesForm.posted({**data, "line-2-unit_price": "5,25"})
    assert not bad.is_valid()
    error, marked = bad.refusal()
    assert marked == "line-2-unit_price" and "use a point" in error.message
    assert BillLinesForm.posted({**data, "rows": "٣"}).count == 0  # rows not read as a number: none


def _label_for(page: str, text: str) -> str:
    """The ``for`` of the label that reads ``text``."""
    import re

    found = re.search(r'<label[^>]*for="([^"]+)"[^>]*>' + re.escape(text), page)
    assert found, text
    return found.group(1)


def test_a_hand_entered_bills_page_gives_each_input_its_own_id(client, trade):
    """Issue 18 #7: the payment's amount and the amount to match were both ``id_amount``: the
    label "Amount to match" filled the payment field."""
    from tests.crawl import duplicate_ids

    po = trade.confirmed(lines=[{"description": "Valve", "quantity": "10", "unit": "ea", "unit_price": "10"}])
    _, own = issue_documents(po=po)
    cancel_bill(bill=own, by=trade.payables, reason="Invoiced on paper")
    bill = create_bill(
        by=trade.payables,
        supplier=trade.supplier,
        currency="USD",
        bill_date=TODAY(),
        due_date=TODAY(),
        lines=[bill_line(description="Valves", quantity="10", unit_price="10")],
    )
    client.force_login(trade.payables.user)
    page = client.get(url("bill-detail", trade.customer, number=bill.number)).content.decode()
    assert "Record payment" in page and "Match to a purchase order" in page
    assert duplicate_ids(page) == []
    match_amount, payment_amount = _label_for(page, "Amount to match"), _label_for(page, "Amount")
    assert match_amount != payment_amount
    assert f'id="{match_amount}"' in page and 'name="amount"' in page
    # Posted with its errors, the match form keeps its own ids too.
    response = client.post(url("bill-match", trade.customer, number=bill.number), {"po": po.pk, "amount": "101"})
    assert response.status_code == 400 and duplicate_ids(response.content.decode()) == []


def test_a_new_bill_starts_today_in_the_base_currency_or_the_suppliers(client, trade):
    """Issue 18 #6: the form started in AED (the first currency of the list) with no date."""
    other = SupplierFactory(base_currency="JPY")
    ConnectionFactory(customer=trade.customer, supplier=other, currency="")  # trades in the supplier's yen
    euro = SupplierFactory(base_currency="USD")
    ConnectionFactory(customer=trade.customer, supplier=euro, currency="EUR")  # the customer's terms: euros
    trade.customer.base_currency = "GBP"
    trade.customer.save()
    client.force_login(trade.payables.user)
    response = client.get(url("bill-new", trade.customer))
    form = response.context["form"]
    assert form["currency"].value() == "GBP" and form["bill_date"].value() == TODAY()
    page = response.content.decode()
    assert '<option value="GBP" selected>' in page and f'value="{TODAY().isoformat()}"' in page
    # Each supplier's option says the currency it trades in, for the page to follow the choice.
    assert 'data-currency-target="id_currency"' in page
    assert '<select name="supplier" data-currency-target="id_currency" class="form-select"' in page  # as other selects
    assert f'<option value="{other.pk}" data-currency="JPY">' in page
    assert f'<option value="{euro.pk}" data-currency="EUR">' in page
    assert f'<option value="{trade.supplier.pk}" data-currency="USD">' in page
    # Opened for one supplier: its currency, and due on its terms.
    form = client.get(url("bill-new", trade.customer), {"supplier": euro.pk}).context["form"]
    assert (form["supplier"].value(), form["currency"].value()) == (euro.pk, "EUR")
    assert form["due_date"].value() == TODAY() + timedelta(days=30)
    # Another organization's supplier is not chosen.
    stranger = SupplierFactory()
    form = client.get(url("bill-new", trade.customer), {"supplier": stranger.pk}).context["form"]
    assert form["supplier"].value() is None and form["currency"].value() == "GBP"


def test_the_payment_forms_warning_gives_every_lines_reason(client, trade):
    """Issue 18 #10: the warning above the payment form quoted line 1's reason only."""
    po = trade.confirmed(
        lines=[
            {"description": "Valve", "quantity": "10", "unit": "ea", "unit_price": "10"},
            {"description": "Seal", "quantity": "5", "unit": "ea", "unit_price": "4"},
        ]
    )
    _, bill = issue_documents(po=po)
    for line in bill.lines.all():  # the supplier's prices disagree with the order's on both lines
        line.unit_price += Decimal("1")
        line.save()
    client.force_login(trade.payables.user)
    page = client.get(url("bill-detail", trade.customer, number=bill.number)).content.decode()
    warning = page[page.index("shows a mismatch") : page.index('<form method="post" action="/o/')]
    assert "Line 1: Unit price 11.00 USD, ordered at 10.00 USD" in warning
    assert "Line 2: Unit price 5.00 USD, ordered at 4.00 USD" in warning
