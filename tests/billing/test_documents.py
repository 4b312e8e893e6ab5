"""The invoice and the bill of a confirmed order (SPEC §6): made once by a Celery task,
linked to each other and to the order, with the confirmed revision's lines."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import Bill, BillLine, Invoice, InvoiceLine
from billing.services import documents
from billing.tasks import issue_documents, issue_missing_documents
from orders.models import OrderEvent, PurchaseOrder
from orders.services import negotiation
from tests.factories import proposal_header, proposal_line

pytestmark = pytest.mark.django_db


def _accepted(trade, **kwargs):
    po = trade.sent(
        lines=[
            {"listing": trade.listing, "quantity": "10", "tax_rate": "10"},
            {"description": "Grease", "quantity": "4", "unit": "kg", "unit_price": "3.00"},
        ],
        **kwargs,
    )
    line2 = po.lines.get(position=2)
    negotiation.save_proposal(
        so=po.sales_order,
        by=trade.sales,
        header=proposal_header(payment_terms_days=14),
        lines={line2.pk: proposal_line(action="reject", reject_reason="Out of stock")},
    )
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    return po


def test_confirmation_makes_one_invoice_and_one_bill(trade, django_capture_on_commit_callbacks):
    po = _accepted(trade)
    with django_capture_on_commit_callbacks(execute=True):
        negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    po.refresh_from_db()
    invoice, bill = po.invoice, po.bill
    assert bill.invoice == invoice and invoice.sales_order == po.sales_order
    assert (invoice.supplier, invoice.customer, bill.customer, bill.supplier) == (
        trade.supplier,
        trade.customer,
        trade.customer,
        trade.supplier,
    )
    assert (invoice.number, bill.number, bill.supplier_reference) == ("INV-000001", "BILL-000001", "INV-000001")
    # The confirmed revision: the rejected line is not invoiced; 25.00 + 10 % tax.
    assert (invoice.revision, invoice.subtotal, invoice.tax_total, invoice.total) == (2, 25, Decimal("2.5"), 27.5)
    assert (bill.total, bill.currency, bill.status, invoice.status) == (Decimal("27.5"), "USD", "open", "open")
    assert [(line.sku, line.quantity, line.line_total) for line in invoice.lines.all()] == [("BOLT", 10, 25)]
    assert [(line.sku, line.quantity, line.po_line_id) for line in bill.lines.all()] == [
        ("BOLT", 10, po.lines.get(position=1).pk)
    ]
    today = timezone.localdate()
    assert invoice.invoice_date == bill.bill_date == today
    assert invoice.due_date == bill.due_date == today + timedelta(days=14)  # the accepted terms
    assert bill.is_locked and not bill.is_overdue
    event = po.events.get(kind=OrderEvent.Kind.INVOICED)
    assert "Invoice INV-000001 issued for 27.50 USD" in event.body
    subjects = {m.subject: m for m in mail.outbox}
    to_supplier = subjects[f"Invoice INV-000001 to {trade.customer.name} (27.50 USD)"]
    assert trade.receivables.user.email in to_supplier.to
    to_customer = next(m for s, m in subjects.items() if s.startswith("Bill BILL-000001"))
    assert trade.payables.user.email in to_customer.to and trade.buyer.user.email in to_customer.to


def test_the_suppliers_invoice_due_date_wins(trade, django_capture_on_commit_callbacks):
    po = trade.sent()
    due = timezone.localdate() + timedelta(days=45)
    negotiation.save_proposal(so=po.sales_order, by=trade.sales, header=proposal_header(invoice_due_date=due), lines={})
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    with django_capture_on_commit_callbacks(execute=True):
        negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    assert Invoice.objects.get(purchase_order=po).due_date == due == Bill.objects.get(purchase_order=po).due_date


def test_running_the_task_again_writes_nothing(trade, django_capture_on_commit_callbacks):
    po = _accepted(trade)
    with django_capture_on_commit_callbacks(execute=True):
        negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    sent, events = len(mail.outbox), po.events.count()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            assert issue_documents.apply(args=[po.pk]).get() == "INV-000001 / BILL-000001"
    assert (Invoice.objects.count(), Bill.objects.count()) == (1, 1)
    assert (InvoiceLine.objects.count(), BillLine.objects.count()) == (1, 1)
    assert (len(mail.outbox), po.events.count()) == (sent, events)


def test_a_second_invoice_or_bill_of_an_order_is_impossible(trade, django_capture_on_commit_callbacks):
    po = _accepted(trade)
    with django_capture_on_commit_callbacks(execute=True):
        negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    invoice = Invoice.objects.get()
    bill = Bill.objects.get()
    for model, values in (
        (Invoice, {"number": "INV-X", "sales_order": po.sales_order, "invoice_date": invoice.invoice_date}),
        (Bill, {"number": "BILL-X", "invoice": None, "bill_date": bill.bill_date}),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            model.objects.create(
                purchase_order=po,
                customer=trade.customer,
                supplier=trade.supplier,
                currency="USD",
                due_date=invoice.due_date,
                **values,
            )


def test_an_order_bill_needs_its_invoice(trade):
    po = _accepted(trade)
    with pytest.raises(IntegrityError), transaction.atomic():
        Bill.objects.create(
            purchase_order=po,
            customer=trade.customer,
            supplier=trade.supplier,
            number="BILL-X",
            currency="USD",
            bill_date=timezone.localdate(),
            due_date=timezone.localdate(),
        )


def test_an_order_that_is_not_confirmed_is_not_invoiced(trade):
    po = _accepted(trade)
    assert documents.issue_documents(po=po) is None
    assert issue_documents.apply(args=[po.pk]).get() == "nothing to invoice"
    assert not Invoice.objects.exists() and not Bill.objects.exists()


def test_orders_whose_task_never_ran_are_caught_up(trade, django_capture_on_commit_callbacks):
    po = _accepted(trade)
    negotiation.confirm_purchase_order(po=po, by=trade.buyer)  # its on-commit task is lost
    assert issue_missing_documents.apply().get() == 0  # too recent: its task may be on its way
    PurchaseOrder.objects.filter(pk=po.pk).update(confirmed_at=timezone.now() - timedelta(minutes=6))
    with django_capture_on_commit_callbacks(execute=True):
        assert issue_missing_documents.apply().get() == 1
    assert Invoice.objects.filter(purchase_order=po).exists() and Bill.objects.filter(purchase_order=po).exists()
    assert issue_missing_documents.apply().get() == 0


def test_each_side_sees_its_document_on_the_order_page(client, trade, django_capture_on_commit_callbacks):
    from django.urls import reverse

    po = _accepted(trade)
    negotiation.confirm_purchase_order(po=po, by=trade.buyer)  # its task has not run yet
    po_page = reverse("orders:po-detail", kwargs={"org_slug": trade.customer.slug, "number": po.number})
    client.force_login(trade.payables.user)
    assert "Being prepared" in client.get(po_page).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        issue_documents.apply(args=[po.pk])
    page = client.get(po_page).content.decode()
    assert "BILL-000001" in page and "27.50 USD" in page and "INV-000001" in page
    client.force_login(trade.receivables.user)
    so_page = reverse("orders:so-detail", kwargs={"org_slug": trade.supplier.slug, "number": po.sales_order.number})
    page = client.get(so_page).content.decode()
    assert "INV-000001" in page and "BILL-000001" not in page  # the customer's own number stays theirs


def test_the_bill_and_invoice_e_mails_link_to_the_bill_and_the_invoice(trade, django_capture_on_commit_callbacks):
    """Issue 18: the bill e-mail opened the order; each e-mail opens its own document."""
    po = _accepted(trade)
    with django_capture_on_commit_callbacks(execute=True):
        negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    po.refresh_from_db()
    bill_mail = next(m for m in mail.outbox if m.subject.startswith(f"Bill {po.bill.number}"))
    invoice_mail = next(m for m in mail.outbox if m.subject.startswith(f"Invoice {po.invoice.number}"))
    bill_url = f"/o/{trade.customer.slug}/bills/{po.bill.number}/"
    invoice_url = f"/o/{trade.supplier.slug}/invoices/{po.invoice.number}/"
    assert f"Open the bill: {settings.SITE_URL}{bill_url}" in bill_mail.body
    assert f"/purchase-orders/{po.number}/" not in bill_mail.body
    assert bill_url in bill_mail.alternatives[0][0] and f"Open bill {po.bill.number}" in bill_mail.alternatives[0][0]
    assert invoice_url in invoice_mail.body and f"/sales-orders/{po.sales_order.number}/" not in invoice_mail.body
