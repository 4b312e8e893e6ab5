"""Credit notes (the supplier's side) and debit notes (the customer's) of returns: lists with the
bill and invoice lists' filters and CSV, pages and PDFs. Read-only: the notes are made by
``billing.services.credits`` when a return for credit arrives back."""

from __future__ import annotations

from functools import partial

from django.shortcuts import render

from accounts.selectors import customers_of, suppliers_of
from orders.forms import OrderFilterForm
from procurement.lists import FilteredListView, apply_filters
from procurement.money import round_money
from procurement.views import OrgView

from .. import pdf, selectors
from ..models import Bill, Invoice
from .documents import _pdf


def _money(note, name: str):
    return round_money(getattr(note, name), note.currency)


AMOUNTS = ("subtotal", "discount", "tax_total", "total")


class DebitNoteListView(FilteredListView):
    """The customer's debit notes; the status filter is that of the bill each reduces."""

    permission = "billing.view_bill"
    template_name = "billing/debit_note_list.html"
    partial_name = "billing/_debit_note_table.html"
    columns = (
        "number",
        "note_date",
        "total",
        "currency",
        "created_at",
        "supplier_reference",
        "supplier__name",
        "bill__number",
        "bill__status",
        "purchase_order__number",
        "purchase_order__status",  # django-fsm reads the state fields of every row it loads
        "return_request__number",
        "return_request__rma_number",
        "return_request__status",
    )

    def filter_form(self):
        form = OrderFilterForm(
            self.request.GET,
            statuses=[*Bill.Status.choices, (selectors.OVERDUE, "Overdue"), (selectors.LIVE, "Not cancelled")],
            counterparties=suppliers_of(self.org)
            .exclude(supplier=None)
            .order_by("supplier__name")
            .values_list("supplier_id", "supplier__name"),
            counterparty_label="Supplier",
        )
        form.fields["status"].label = "Bill"
        return form

    def search(self, form):
        return apply_filters(
            form, partial(selectors.search_debit_notes, selectors.debit_notes_of(self.org)), counterparty="supplier"
        )

    def export(self, notes):
        rows = (
            (
                n.number,
                n.supplier.name,
                n.supplier_reference,
                n.bill.number,
                n.purchase_order.number,
                n.return_request.label,
                n.note_date,
                n.currency,
                *(_money(n, name) for name in AMOUNTS),
            )
            for n in notes.iterator(chunk_size=1000)
        )
        header = [
            "number",
            "supplier",
            "supplier_credit_note",
            "bill",
            "purchase_order",
            "return",
            "note_date",
            "currency",
            *AMOUNTS,
        ]
        return self.csv_response("debit-notes", header, rows)


class CreditNoteListView(FilteredListView):
    """The supplier's credit notes; the status filter is that of the invoice each reduces."""

    permission = "billing.view_invoice"
    template_name = "billing/credit_note_list.html"
    partial_name = "billing/_credit_note_table.html"
    columns = (
        "number",
        "note_date",
        "total",
        "currency",
        "created_at",
        "customer__name",
        "invoice__number",
        "invoice__status",
        "invoice__sales_order__number",
        "invoice__sales_order__status",
        "purchase_order__number",
        "purchase_order__status",  # django-fsm reads the state fields of every row it loads
        "return_request__number",
        "return_request__rma_number",
        "return_request__status",
    )

    def filter_form(self):
        form = OrderFilterForm(
            self.request.GET,
            statuses=[*Invoice.Status.choices, (selectors.OVERDUE, "Overdue"), (selectors.LIVE, "Not cancelled")],
            counterparties=customers_of(self.org)
            .order_by("customer__name")
            .values_list("customer_id", "customer__name"),
            counterparty_label="Customer",
        )
        form.fields["status"].label = "Invoice"
        return form

    def search(self, form):
        return apply_filters(
            form, partial(selectors.search_credit_notes, selectors.credit_notes_of(self.org)), counterparty="customer"
        )

    def export(self, notes):
        rows = (
            (
                n.number,
                n.customer.name,
                n.invoice.number,
                n.invoice.sales_order.number,
                n.purchase_order.number,
                n.return_request.label,
                n.note_date,
                n.currency,
                *(_money(n, name) for name in AMOUNTS),
            )
            for n in notes.iterator(chunk_size=1000)
        )
        header = [
            "number",
            "customer",
            "invoice",
            "sales_order",
            "customer_po",
            "return",
            "note_date",
            "currency",
            *AMOUNTS,
        ]
        return self.csv_response("credit-notes", header, rows)


class DebitNoteMixin:
    def get_note(self):
        return selectors.debit_note_for(organization=self.org, number=self.kwargs["number"])


class CreditNoteMixin:
    def get_note(self):
        return selectors.credit_note_for(organization=self.org, number=self.kwargs["number"])


class DebitNoteDetailView(DebitNoteMixin, OrgView):
    permission = "billing.view_bill"
    template_name = "billing/debit_note_detail.html"

    def get(self, request, org_slug, number):
        note = self.get_note()
        return render(request, self.template_name, {"note": note, "lines": list(note.lines.all())})


class CreditNoteDetailView(CreditNoteMixin, OrgView):
    permission = "billing.view_invoice"
    template_name = "billing/credit_note_detail.html"

    def get(self, request, org_slug, number):
        note = self.get_note()
        return render(request, self.template_name, {"note": note, "lines": list(note.lines.all())})


class DebitNotePdfView(DebitNoteMixin, OrgView):
    permission = "billing.view_bill"

    def get(self, request, org_slug, number):
        note = self.get_note()
        return _pdf(pdf.debit_note_pdf(note), note.number)


class CreditNotePdfView(CreditNoteMixin, OrgView):
    permission = "billing.view_invoice"

    def get(self, request, org_slug, number):
        note = self.get_note()
        return _pdf(pdf.credit_note_pdf(note), note.number)
