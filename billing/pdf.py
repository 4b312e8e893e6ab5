"""PDFs of the invoice and the bill, and of the credit and debit notes of returns (WeasyPrint),
through the orders' renderer that reads only the project's own static files."""

from __future__ import annotations

from orders.pdf import render_pdf

from .models import Bill, CreditNote, DebitNote, Invoice


def _context(doc, payments) -> dict:
    """What a document asks now: its total less the returns credited, less what verified
    payments covered (nothing below zero: what was paid beyond it is owed back)."""
    payments = list(payments)
    paid = sum((p.amount_received for p in payments if p.status == "verified"), start=doc.total * 0)
    left = doc.net_total - paid
    return {
        "doc": doc,
        "lines": list(doc.lines.all()),
        "payments": payments,
        "paid": paid,
        "balance": max(left, doc.total * 0),
        "owed_back": max(-left, doc.total * 0),
    }


def invoice_pdf(invoice: Invoice) -> bytes:
    return render_pdf("billing/pdf/invoice.html", _context(invoice, invoice.payments.exclude(status="disputed")))


def bill_pdf(bill: Bill) -> bytes:
    return render_pdf("billing/pdf/bill.html", _context(bill, bill.payments.all()))


def credit_note_pdf(note: CreditNote) -> bytes:
    return render_pdf("billing/pdf/credit_note.html", {"doc": note, "lines": list(note.lines.all()), "paid": None})


def debit_note_pdf(note: DebitNote) -> bytes:
    return render_pdf("billing/pdf/debit_note.html", {"doc": note, "lines": list(note.lines.all()), "paid": None})


def invoice_attachment(*, pk: int) -> tuple[str, bytes, str]:
    """The invoice as an e-mail attachment (named in settings.EMAIL_ATTACHMENT_RENDERERS)."""
    invoice = Invoice.objects.select_related("supplier", "customer", "purchase_order", "sales_order").get(pk=pk)
    return f"{invoice.number}.pdf", invoice_pdf(invoice), "application/pdf"


def bill_attachment(*, pk: int) -> tuple[str, bytes, str]:
    bill = Bill.objects.select_related("supplier", "customer", "purchase_order", "location").get(pk=pk)
    return f"{bill.number}.pdf", bill_pdf(bill), "application/pdf"


NOTE_RELATED = ("supplier", "customer", "purchase_order", "return_request")


def credit_note_attachment(*, pk: int) -> tuple[str, bytes, str]:
    """The credit note as an e-mail attachment (``credit_note_pdf`` in settings.EMAIL_ATTACHMENT_RENDERERS)."""
    note = CreditNote.objects.select_related(*NOTE_RELATED, "invoice__sales_order").get(pk=pk)
    return f"{note.number}.pdf", credit_note_pdf(note), "application/pdf"


def debit_note_attachment(*, pk: int) -> tuple[str, bytes, str]:
    """The debit note as an e-mail attachment (``debit_note_pdf`` in settings.EMAIL_ATTACHMENT_RENDERERS)."""
    note = DebitNote.objects.select_related(*NOTE_RELATED, "bill").get(pk=pk)
    return f"{note.number}.pdf", debit_note_pdf(note), "application/pdf"
