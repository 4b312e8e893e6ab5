"""PDFs of the invoice and the bill (WeasyPrint), through the orders' renderer that reads only
the project's own static files."""

from __future__ import annotations

from orders.pdf import render_pdf

from .models import Bill, Invoice


def _context(doc, payments) -> dict:
    payments = list(payments)
    paid = sum((p.amount_received for p in payments if p.status == "verified"), start=doc.total * 0)
    return {"doc": doc, "lines": list(doc.lines.all()), "payments": payments, "paid": paid, "balance": doc.total - paid}


def invoice_pdf(invoice: Invoice) -> bytes:
    return render_pdf("billing/pdf/invoice.html", _context(invoice, invoice.payments.exclude(status="disputed")))


def bill_pdf(bill: Bill) -> bytes:
    return render_pdf("billing/pdf/bill.html", _context(bill, bill.payments.all()))


def invoice_attachment(*, pk: int) -> tuple[str, bytes, str]:
    """The invoice as an e-mail attachment (named in settings.EMAIL_ATTACHMENT_RENDERERS)."""
    invoice = Invoice.objects.select_related("supplier", "customer", "purchase_order", "sales_order").get(pk=pk)
    return f"{invoice.number}.pdf", invoice_pdf(invoice), "application/pdf"


def bill_attachment(*, pk: int) -> tuple[str, bytes, str]:
    bill = Bill.objects.select_related("supplier", "customer", "purchase_order", "location").get(pk=pk)
    return f"{bill.number}.pdf", bill_pdf(bill), "application/pdf"
