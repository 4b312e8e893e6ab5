"""Every write of the billing app. For now: the invoice and the bill of a confirmed order."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.mail import absolute_url, queue_email
from accounts.services import next_document_number
from orders.models import LineValues, OrderEvent, PurchaseOrder
from orders.services import emails_of, record_event

from .models import Bill, BillLine, Invoice, InvoiceLine
from .money import format_money

LINE_FIELDS = ("sku", "description", "quantity", "unit", "unit_price", "tax_rate", "line_total", "tax_amount")
INVOICED = (
    PurchaseOrder.Status.CONFIRMED,
    PurchaseOrder.Status.PARTIALLY_RECEIVED,
    PurchaseOrder.Status.RECEIVED,
    PurchaseOrder.Status.CLOSED,
)


@transaction.atomic
def issue_documents(*, po: PurchaseOrder) -> tuple[Invoice, Bill] | None:
    """The system makes exactly one invoice and one bill of a confirmed order, linked to each
    other and to the order, with the lines of the confirmed revision and the due date of the
    payment terms (or the invoice due date the supplier proposed).

    Idempotent: under the order's row lock, a second run finds them and writes nothing; the
    one-to-one constraints make a second pair impossible whatever happens. Returns None for an
    order that is not confirmed (nothing to invoice)."""
    po = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("customer", "supplier", "sales_order", "ship_to", "requester")
        .get(pk=po.pk)
    )
    if po.status not in INVOICED:
        return None
    invoice = Invoice.objects.filter(purchase_order=po).first()
    bill = Bill.objects.filter(purchase_order=po).first()
    if invoice is not None and bill is not None:
        return invoice, bill
    lines = [line for line in po.lines.all() if line.status != LineValues.Status.REJECTED]
    today = timezone.localdate()
    due = po.invoice_due_date or today + timedelta(days=po.payment_terms_days)
    amounts = {
        "currency": po.currency,
        "revision": po.revision_number,
        "due_date": due,
        "subtotal": po.subtotal,
        "discount": po.discount,
        "tax_total": po.tax_total,
        "total": po.total,
    }
    if invoice is None:
        invoice = Invoice.objects.create(
            supplier=po.supplier,
            customer=po.customer,
            purchase_order=po,
            sales_order=po.sales_order,
            number=next_document_number(organization=po.supplier, kind="invoice"),
            invoice_date=today,
            **amounts,
        )
        InvoiceLine.objects.bulk_create(
            InvoiceLine(invoice=invoice, position=n, po_line=line, **{f: getattr(line, f) for f in LINE_FIELDS})
            for n, line in enumerate(lines, 1)
        )
    if bill is None:
        bill = Bill.objects.create(
            customer=po.customer,
            supplier=po.supplier,
            purchase_order=po,
            invoice=invoice,
            number=next_document_number(organization=po.customer, kind="bill"),
            bill_date=invoice.invoice_date,
            supplier_reference=invoice.number,
            location=po.ship_to,
            **{**amounts, "due_date": invoice.due_date},
        )
        BillLine.objects.bulk_create(
            BillLine(bill=bill, position=n, po_line=line, **{f: getattr(line, f) for f in LINE_FIELDS})
            for n, line in enumerate(lines, 1)
        )
    event = record_event(
        po,
        OrderEvent.Kind.INVOICED,
        body=f"Invoice {invoice.number} issued for {format_money(invoice.total, invoice.currency)}, "
        f"due {invoice.due_date:%d %b %Y}.",
        data={"invoice": invoice.pk, "bill": bill.pk},
    )
    _tell(po, invoice, bill, event)
    return invoice, bill


def _tell(po: PurchaseOrder, invoice: Invoice, bill: Bill, event: OrderEvent) -> None:
    """The supplier's receivables and the customer's payables hear of their document, once
    (the outbox key is the document's)."""
    so_url = reverse("orders:so-detail", kwargs={"org_slug": po.supplier.slug, "number": po.sales_order.number})
    po_url = reverse("orders:po-detail", kwargs={"org_slug": po.customer.slug, "number": po.number})
    queue_email(
        key=f"invoice_issued:{invoice.pk}",
        to=emails_of(po.supplier, "receivables", "sales"),
        template="invoice_issued",
        organization=po.supplier,
        context={"po": po, "invoice": invoice, "bill": bill, "url": absolute_url(so_url)},
    )
    queue_email(
        key=f"bill_received:{bill.pk}",
        to=[po.requester.email, *emails_of(po.customer, "payables")],
        template="bill_received",
        organization=po.customer,
        context={"po": po, "invoice": invoice, "bill": bill, "url": absolute_url(po_url)},
    )
