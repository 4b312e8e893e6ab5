"""The documents of a confirmed order: its invoice and its bill, made once, and revised when
an accepted amendment changes the order. Lock order: see ``common``.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.mail import queue_email
from accounts.services import next_document_number
from orders.events import emails_of, record_event
from orders.models import OrderEvent, PurchaseOrder, PurchaseOrderLine
from procurement.money import format_money
from procurement.transactions import require_atomic
from procurement.transitions import transition
from procurement.validators import format_date

from ..fx import record_fx
from ..models import Bill, BillLine, Invoice, InvoiceLine
from .billed import _refresh_billed
from .common import _bill_url, _invoice_url

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
    lines = [line for line in po.lines.all() if not line.is_void]
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
        for line in lines:
            line.quantity_invoiced = line.quantity
        po.lines.model.objects.bulk_update(lines, ["quantity_invoiced"])
        invoice = Invoice.objects.create(
            supplier=po.supplier,
            customer=po.customer,
            purchase_order=po,
            sales_order=po.sales_order,
            number=next_document_number(organization=po.supplier, kind="invoice"),
            invoice_date=today,
            **amounts,
        )
        _copy_lines(InvoiceLine, invoice, lines)
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
        _copy_lines(BillLine, bill, lines)
        _refresh_billed(po)
        record_fx(bill=bill)  # the goods received before the bill, valued at both dates
    if invoice.total == 0 and invoice.status == Invoice.Status.OPEN:  # nothing to pay: settled as made
        transition(invoice, "mark_paid", "marked paid", noun=f"Invoice {invoice.number}")
        invoice.save()
    if bill.total == 0 and bill.status == Bill.Status.OPEN:
        transition(bill, "settle", "settled", noun=f"Bill {bill.number}")
        bill.save()
    record_event(
        po,
        OrderEvent.Kind.INVOICED,
        body=f"Invoice {invoice.number} issued for {format_money(invoice.total, invoice.currency)}, "
        f"due {format_date(invoice.due_date)}.",
        data={"invoice": invoice.pk, "bill": bill.pk},
    )
    _tell(po, invoice, bill)
    return invoice, bill


def _copy_lines(model, document, lines: list[PurchaseOrderLine]) -> None:
    """The document's lines: a copy of the order's lines that count, numbered 1, 2, …"""
    require_atomic()
    parent = "invoice" if model is InvoiceLine else "bill"
    model.objects.bulk_create(
        model(**{parent: document}, position=n, po_line=line, **{f: getattr(line, f) for f in LINE_FIELDS})
        for n, line in enumerate(lines, 1)
    )


@transaction.atomic
def revise_documents(*, po: PurchaseOrder, lines: list[PurchaseOrderLine]) -> tuple[Invoice, Bill] | None:
    """An accepted amendment changed the order (SPEC §4, §6): its invoice and its bill follow as
    a new revision — the order's — with its lines and totals (the caller holds the order's lock
    and has saved ``lines``). Payments stay: the bill settles again against the new total (a
    paid bill whose total rose is partly paid again; the invoice is open again until verified
    payments cover it), and the *billed* mark follows. A cancelled bill is left as it is. None
    while the documents are still being made (the task reads the amended order)."""
    PurchaseOrder.objects.select_for_update(of=("self",)).filter(pk=po.pk).first()  # the lock order: see common
    bill = Bill.objects.select_for_update().filter(purchase_order=po).first()
    invoice = Invoice.objects.select_for_update().filter(purchase_order=po).first()
    if invoice is None or bill is None:
        return None
    counted = [line for line in lines if not line.is_void]
    for line in lines:
        line.quantity_invoiced = Decimal("0") if line.is_void else line.quantity
    PurchaseOrderLine.objects.bulk_update(lines, ["quantity_invoiced"])
    amounts = {
        "revision": po.revision_number,
        "subtotal": po.subtotal,
        "discount": po.discount,
        "tax_total": po.tax_total,
        "total": po.total,
    }
    old_total = invoice.total
    for document, model in ((invoice, InvoiceLine), (bill, BillLine)):
        if document.status == document.Status.CANCELLED:
            continue
        document.lines.all().delete()
        _copy_lines(model, document, counted)
        for name, value in amounts.items():
            setattr(document, name, value)
    if bill.status != Bill.Status.CANCELLED:
        transition(bill, "settle", "settled", noun=f"Bill {bill.number}")
        bill.save()
    if invoice.status != Invoice.Status.CANCELLED:
        covered = bill.verified_total >= invoice.net_total  # what it asks, net of its credit notes
        if invoice.status == Invoice.Status.PAID and not covered:
            transition(invoice, "reopen", "reopened", noun=f"Invoice {invoice.number}")
        elif invoice.status == Invoice.Status.OPEN and covered:
            transition(invoice, "mark_paid", "marked paid", noun=f"Invoice {invoice.number}")
        invoice.save()
    _refresh_billed(po)
    live_bill = bill.status != Bill.Status.CANCELLED  # a cancelled bill stays as it was
    record_event(
        po,
        OrderEvent.Kind.INVOICED,
        body=f"Invoice {invoice.number}{f' and bill {bill.number}' if live_bill else ''} follow"
        f"{'' if live_bill else 's'} revision {po.revision_number}: "
        f"{format_money(old_total, po.currency)} → {format_money(po.total, po.currency)}.",
        data={"invoice": invoice.pk, "bill": bill.pk, "revision": po.revision_number},
    )
    _tell(po, invoice, bill, revised=True, bill_too=live_bill)
    return invoice, bill


def _tell(po: PurchaseOrder, invoice: Invoice, bill: Bill, *, revised: bool = False, bill_too: bool = True) -> None:
    """The supplier's receivables and the customer's payables hear of their document, once
    (the outbox key is the document's, and its revision's when an amendment revised it)."""
    again = f":{invoice.revision}" if revised else ""
    queue_email(
        key=f"invoice_issued:{invoice.pk}{again}",
        to=emails_of(po.supplier, "receivables", "sales"),
        template="invoice_issued",
        organization=po.supplier,
        attachments=[{"renderer": "invoice_pdf", "pk": invoice.pk}],
        context={"po": po, "invoice": invoice, "bill": bill, "revised": revised, "url": _invoice_url(invoice)},
    )
    if not bill_too:
        return
    queue_email(
        key=f"bill_received:{bill.pk}{again}",
        to=[po.requester.email, *emails_of(po.customer, "payables")],
        template="bill_received",
        organization=po.customer,
        attachments=[{"renderer": "bill_pdf", "pk": bill.pk}],
        context={"po": po, "invoice": invoice, "bill": bill, "revised": revised, "url": _bill_url(bill)},
    )
