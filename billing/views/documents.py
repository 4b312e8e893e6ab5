"""Bills (the customer's side) and invoices (the supplier's): lists, pages, payments,
verification, matching, PDFs. Thin: a form parses, one service decides, errors go next to
the field."""

from __future__ import annotations

import csv
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.permissions import can
from accounts.selectors import connected_supplier, customers_of, locations_of, suppliers_of
from orders import selectors as order_selectors
from orders.forms import OrderFilterForm, ReasonForm
from orders.units import UNITS
from procurement.csvio import guard_formula
from procurement.errors import DomainError
from procurement.forms import add_domain_error
from procurement.lists import PAGE_SIZE, FilteredListView, apply_filters
from procurement.money import format_money, money_input, round_money
from procurement.validators import parse_integer
from procurement.views import OrgView, PostOnlyView

from .. import pdf, selectors
from ..forms import (
    BillEditForm,
    BillForm,
    BillLinesForm,
    DisputeForm,
    FxReportForm,
    MatchForm,
    PaymentForm,
    VerifyForm,
    posted_date,
)
from ..matching import LABELS
from ..models import Bill, Invoice, Payment
from ..services.billed import mark_po_billed, match_bill, unmark_po_billed, unmatch_bill
from ..services.bills import LOCKED_FIELDS, cancel_bill, create_bill, update_bill
from ..services.payments import dispute_payment, record_payment, verify_payment

# ---------------------------------------------------------------------------------- lists


class BillListView(FilteredListView):
    permission = "billing.view_bill"
    template_name = "billing/bill_list.html"
    partial_name = "billing/_bill_table.html"
    columns = (
        "number",
        "status",
        "supplier_reference",
        "bill_date",
        "due_date",
        "total",
        "paid_total",
        "credited_total",
        "currency",
        "created_at",
        "supplier__name",
        "purchase_order__number",
        "purchase_order__status",
    )

    def filter_form(self):
        return OrderFilterForm(
            self.request.GET,
            statuses=[*Bill.Status.choices, (selectors.OVERDUE, "Overdue"), (selectors.LIVE, "Not cancelled")],
            counterparties=suppliers_of(self.org)
            .exclude(supplier=None)
            .order_by("supplier__name")
            .values_list("supplier_id", "supplier__name"),
            counterparty_label="Supplier",
        )

    def search(self, form):
        return apply_filters(
            form, partial(selectors.search_bills, selectors.bills_of(self.org)), counterparty="supplier"
        )

    def export(self, bills):
        rows = (
            (
                b.number,
                b.supplier.name,
                b.supplier_reference,
                b.purchase_order.number if b.purchase_order_id else "",
                b.get_status_display(),
                "yes" if b.is_overdue else "",
                b.bill_date,
                b.due_date,
                b.currency,
                round_money(b.total, b.currency),
                round_money(b.paid_total, b.currency),
                round_money(b.credited_total, b.currency),
                round_money(b.outstanding, b.currency),
            )
            for b in bills.iterator(chunk_size=1000)
        )
        header = [
            "number",
            "supplier",
            "supplier_invoice",
            "purchase_order",
            "status",
            "overdue",
            "bill_date",
            "due_date",
            "currency",
            "total",
            "paid",
            "returns",
            "outstanding",
        ]
        return self.csv_response("bills", header, rows)


class InvoiceListView(FilteredListView):
    permission = "billing.view_invoice"
    template_name = "billing/invoice_list.html"
    partial_name = "billing/_invoice_table.html"
    columns = (
        "number",
        "status",
        "invoice_date",
        "due_date",
        "total",
        "currency",
        "created_at",
        "customer__name",
        "purchase_order__number",
        "purchase_order__status",
        "sales_order__number",
        "sales_order__status",
    )

    def filter_form(self):
        return OrderFilterForm(
            self.request.GET,
            statuses=[*Invoice.Status.choices, (selectors.OVERDUE, "Overdue"), (selectors.LIVE, "Not cancelled")],
            counterparties=customers_of(self.org)
            .order_by("customer__name")
            .values_list("customer_id", "customer__name"),
            counterparty_label="Customer",
        )

    def search(self, form):
        return apply_filters(
            form, partial(selectors.search_invoices, selectors.invoices_of(self.org)), counterparty="customer"
        )

    def export(self, invoices):
        rows = (
            (
                i.number,
                i.customer.name,
                i.purchase_order.number,
                i.sales_order.number,
                i.get_status_display(),
                "yes" if i.is_overdue else "",
                i.invoice_date,
                i.due_date,
                i.currency,
                round_money(i.total, i.currency),
                round_money(i.credited_total, i.currency),
                round_money(i.net_total, i.currency),
            )
            for i in invoices.iterator(chunk_size=1000)
        )
        header = [
            "number",
            "customer",
            "customer_po",
            "sales_order",
            "status",
            "overdue",
            "invoice_date",
            "due_date",
            "currency",
            "total",
            "credited",
            "net_total",
        ]
        return self.csv_response("invoices", header, rows)


# ---------------------------------------------------------------------------------- bills


class BillMixin:
    def get_bill(self) -> Bill:
        return selectors.bill_for(organization=self.org, number=self.kwargs["number"])

    def bill_url(self, bill=None) -> str:
        return self.org_url("billing:bill-detail", number=bill.number if bill else self.kwargs["number"])


class BillDetailView(BillMixin, OrgView):
    permission = "billing.view_bill"
    template_name = "billing/bill_detail.html"

    def get(self, request, org_slug, number):
        return self.show(self.get_bill())

    def show(self, bill, *, payment_form=None, match_form=None, status=200):
        m = self.membership
        open_bill = bill.status in Bill.OPEN_STATES
        matchable = []
        if bill.is_manual and bill.status in Bill.SETTLING and can(m, "billing.match_bill"):
            matchable = list(selectors.matchable_orders(bill).values_list("pk", "number", "total", "currency"))
        payments = list(selectors.payments_of(bill))
        context = {
            "bill": bill,
            "lines": list(bill.lines.all()),
            "match": selectors.three_way(bill),
            "labels": LABELS,
            "payments": payments,
            "fx": selectors.bill_fx(bill, payments=payments),
            # Its returns: a bill with none has no debit note (a cancelled one keeps those it had).
            "debit_notes": selectors.debit_notes_of_bill(bill)
            if bill.credited_total or (bill.purchase_order_id and bill.status == Bill.Status.CANCELLED)
            else [],
            "matches": list(selectors.matches_of(bill)) if bill.is_manual else [],
            "can_pay": open_bill and can(m, "billing.add_payment"),
            "can_edit": bill.status != Bill.Status.CANCELLED and can(m, "billing.change_bill"),
            "can_cancel": open_bill and not bill.paid_total and can(m, "billing.cancel_bill"),
            "can_match": bool(matchable) or (match_form is not None),
            "can_unmatch": open_bill and not bill.paid_total and can(m, "billing.match_bill"),
            "payment_form": payment_form
            or PaymentForm(initial={"amount": money_input(bill.outstanding, bill.currency)}),
            "match_form": match_form or MatchForm(orders=_order_choices(matchable)),
        }
        return render(self.request, self.template_name, context, status=status)


def _order_choices(orders) -> list[tuple[int, str]]:
    return [(pk, f"{number} — {format_money(total, currency)}") for pk, number, total, currency in orders]


def _plain(value) -> str:
    return f"{value.normalize():f}" if value is not None else ""


class BillPayView(BillMixin, OrgView):
    """*Record payment*: a form on the bill's page; here it is posted (and shown again with
    its errors)."""

    permission = "billing.add_payment"
    template_name = BillDetailView.template_name

    def get(self, request, org_slug, number):
        self.get_bill()
        return redirect(self.bill_url() + "#pay")

    def post(self, request, org_slug, number):
        bill = self.get_bill()
        form = PaymentForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                record_payment(bill=bill, by=self.membership, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                amount = format_money(form.cleaned_data["amount"], bill.currency)
                messages.success(request, f"Payment of {amount} recorded.")
                return redirect(self.bill_url())
        return BillDetailView.show(self, bill, payment_form=form, status=400)


class BillCreateView(OrgView):
    """A bill entered by hand, from a supplier's paper or PDF invoice."""

    permission = "billing.add_bill"
    template_name = "billing/bill_form.html"
    FIELDS = ("sku", "description", "quantity", "unit", "unit_price", "tax_rate")

    def suppliers(self) -> list[tuple[int, str, str, int]]:
        """The customer's suppliers: id, name, the currency it trades in (the connection's,
        else the supplier's own) and the payment terms (net days)."""
        if not hasattr(self, "_suppliers"):
            rows = (
                suppliers_of(self.org)
                .exclude(supplier=None)
                .order_by("supplier__name")
                .values_list(
                    "supplier_id", "supplier__name", "currency", "supplier__base_currency", "payment_terms_days"
                )
            )
            self._suppliers = [(pk, name, cur or base, days) for pk, name, cur, base, days in rows]
        return self._suppliers

    def header_form(self, data=None, initial=None):
        suppliers = self.suppliers()
        return BillForm(
            data,
            initial=initial,
            suppliers=[(pk, name) for pk, name, _, _ in suppliers],
            currencies={pk: currency for pk, _, currency, _ in suppliers},
            locations=locations_of(self.org).values_list("pk", "name"),
        )

    def new_bill(self) -> dict:
        """What a new bill starts with: dated today, in the organization's base currency; with
        a supplier chosen (``?supplier=``), in the currency it trades in and due on its terms."""
        today = timezone.localdate()
        initial = {"bill_date": today, "currency": self.org.base_currency}
        chosen = parse_integer(self.request.GET.get("supplier"))
        for pk, _, currency, days in self.suppliers():
            if pk == chosen:
                initial.update(supplier=pk, currency=currency, due_date=today + timedelta(days=days))
        return initial

    def rows(self, posted=None, count=3, marked=None):
        posted = posted or []
        count = max(count, len(posted))
        rows = []
        for n in range(count):
            values = posted[n] if n < len(posted) else {"unit": "ea", "tax_rate": "0"}
            rows.append(
                {
                    "n": n,
                    "inputs": {
                        f: {"name": f"line-{n}-{f}", "value": values.get(f, ""), "error": marked == f"line-{n}-{f}"}
                        for f in self.FIELDS
                    },
                }
            )
        return rows

    def save(self, form, lines, bill=None):
        """Parse the header and the lines, and enter (or, with ``bill``, change) the bill.
        Returns the bill and None, or None and the page again with what was typed."""
        if not form.is_valid():
            return None, self.show(form, self.rows(lines.typed()), status=400, bill=bill)
        if not lines.is_valid():
            error, marked = lines.refusal()
            page = self.show(form, self.rows(lines.typed(), marked=marked), error=error, status=400, bill=bill)
            return None, page
        data = dict(form.cleaned_data)
        data["supplier"] = connected_supplier(customer=self.org, supplier_id=data["supplier"])
        data["location"] = _location(self.org, data["location"])
        try:
            if bill is None:
                bill = create_bill(by=self.membership, lines=lines.lines(), **data)
            else:
                update_bill(bill=bill, by=self.membership, lines=lines.lines(), **data)
        except DomainError as exc:
            if exc.line is not None:
                marked = lines.input_name(exc.line, exc.field)
                page = self.show(form, self.rows(lines.typed(), marked=marked), error=exc, status=400, bill=bill)
                return None, page
            add_domain_error(form, exc)
            return None, self.show(form, self.rows(lines.typed()), status=400, bill=bill)
        return bill, None

    def show(self, form, rows, error=None, status=200, bill=None):
        marked = any(f["error"] for row in rows for f in row["inputs"].values())
        return render(
            self.request,
            self.template_name,
            {"form": form, "rows": rows, "error": error, "marked": marked, "units": UNITS, "bill": bill},
            status=status,
        )

    def get(self, request, org_slug):
        return self.show(self.header_form(initial=self.new_bill()), self.rows())

    def post(self, request, org_slug):
        form = self.header_form(request.POST)
        lines = BillLinesForm.posted(request.POST)
        if "add_row" in request.POST:
            # One more row, nothing checked yet: what was typed comes back as it was.
            typed = lines.typed()
            return self.show(self.header_form(initial=request.POST.dict()), self.rows(typed, len(typed) + 1))
        bill, refused = self.save(form, lines)
        if refused is not None:
            return refused
        messages.success(request, f"Bill {bill.number} entered.")
        return redirect(self.org_url("billing:bill-detail", number=bill.number))


def _location(org, pk):
    return locations_of(org).filter(pk=pk).first() if pk else None


class BillEditView(BillMixin, BillCreateView):
    """Change a bill. A bill made from an order shows its locked fields with a lock and only
    the due date, reference number and notes as inputs; the service refuses the rest whatever
    is posted."""

    permission = "billing.change_bill"

    def get(self, request, org_slug, number):
        bill = self.get_bill()
        if bill.is_locked:
            return self.show_locked(bill, BillEditForm(initial=_values(bill)))
        lines = [
            {
                **{f: getattr(line, f) for f in self.FIELDS},
                "quantity": _plain(line.quantity),
                "unit_price": money_input(line.unit_price, bill.currency),
                "tax_rate": _plain(line.tax_rate),
            }
            for line in bill.lines.all()
        ]
        initial = {
            **_values(bill),
            "supplier": bill.supplier_id,
            "currency": bill.currency,
            "bill_date": bill.bill_date,
            "location": bill.location_id,
            "supplier_reference": bill.supplier_reference,
        }
        return self.show(self.header_form(initial=initial), self.rows(lines, len(lines)), bill=bill)

    def show_locked(self, bill, form, status=200):
        return render(self.request, "billing/bill_edit_locked.html", {"bill": bill, "form": form}, status=status)

    def post(self, request, org_slug, number):
        bill = self.get_bill()
        if bill.is_locked:
            form = BillEditForm(request.POST)
            if form.is_valid():
                changes = dict(form.cleaned_data)
                # A locked field that arrives anyway goes to the service, which refuses it.
                for field in LOCKED_FIELDS:
                    if field in request.POST:
                        changes[field] = request.POST[field]
                if "bill_date" in changes:
                    changes["bill_date"] = posted_date(changes["bill_date"])
                if "supplier" in changes:
                    changes["supplier"] = None if str(bill.supplier_id) != changes["supplier"] else bill.supplier
                if "location" in changes:
                    changes["location"] = _location(self.org, changes["location"]) if changes["location"] else None
                if "lines" in changes:
                    changes["lines"] = []
                try:
                    update_bill(bill=bill, by=self.membership, **changes)
                except DomainError as exc:
                    add_domain_error(form, exc)
                else:
                    messages.success(request, f"Bill {bill.number} saved.")
                    return redirect(self.bill_url())
            return self.show_locked(bill, form, status=400)
        form = self.header_form(request.POST)
        lines = BillLinesForm.posted(request.POST)
        if "add_row" in request.POST:
            typed = lines.typed()
            return self.show(self.header_form(initial=request.POST.dict()), self.rows(typed, len(typed) + 1), bill=bill)
        _, refused = self.save(form, lines, bill)
        if refused is not None:
            return refused
        messages.success(request, f"Bill {bill.number} saved.")
        return redirect(self.bill_url())


def _values(bill: Bill) -> dict:
    return {"due_date": bill.due_date, "reference_number": bill.reference_number, "notes": bill.notes}


class BillCancelView(BillMixin, OrgView):
    permission = "billing.cancel_bill"
    template_name = "billing/bill_cancel.html"

    def get(self, request, org_slug, number):
        return render(request, self.template_name, {"bill": self.get_bill(), "form": ReasonForm()})

    def post(self, request, org_slug, number):
        bill = self.get_bill()
        form = ReasonForm(request.POST)
        if form.is_valid():
            try:
                cancel_bill(bill=bill, by=self.membership, reason=form.cleaned_data["reason"])
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Bill {bill.number} cancelled.")
                return redirect(self.bill_url())
        return render(request, self.template_name, {"bill": bill, "form": form}, status=400)


class BillMatchView(BillMixin, OrgView):
    permission = "billing.match_bill"
    template_name = BillDetailView.template_name

    def get(self, request, org_slug, number):
        self.get_bill()
        return redirect(self.bill_url() + "#match")

    def post(self, request, org_slug, number):
        bill = self.get_bill()
        orders = list(selectors.matchable_orders(bill).values_list("pk", "number", "total", "currency"))
        form = MatchForm(request.POST, orders=_order_choices(orders))
        if form.is_valid():
            po = selectors.matchable_order(bill, form.cleaned_data["po"])
            try:
                if po is None:
                    raise DomainError("Choose one of your orders.", field="po")
                match_bill(bill=bill, po=po, amount=form.cleaned_data["amount"], by=self.membership)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Bill {bill.number} matched to {po.number}.")
                return redirect(self.bill_url())
        return BillDetailView.show(self, bill, match_form=form, status=400)


class BillUnmatchView(BillMixin, PostOnlyView):
    permission = "billing.match_bill"

    def get_object(self):
        return selectors.match_of_bill(self.get_bill(), self.kwargs["pk"])

    def done_url(self):
        return self.bill_url()

    def post(self, request, org_slug, number, pk):
        match = self.get_object()
        try:
            unmatch_bill(match=match, by=self.membership)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Unmatched from {match.purchase_order.number}.")
        return redirect(self.done_url())


class BillPdfView(BillMixin, OrgView):
    permission = "billing.view_bill"

    def get(self, request, org_slug, number):
        bill = self.get_bill()
        return _pdf(pdf.bill_pdf(bill), bill.number)


def _pdf(content: bytes, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


class MarkBilledView(PostOnlyView):
    """An admin or the requester marks an order billed: nothing more is matched to it."""

    def get_object(self):
        return order_selectors.visible_purchase_order(self.membership, number=self.kwargs["number"])

    def done_url(self):
        return self.org_url("orders:po-detail", number=self.kwargs["number"])

    def post(self, request, org_slug, number):
        po = self.get_object()
        try:
            mark_po_billed(po=po, by=self.membership)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{po.number} is marked billed: no more bills will be matched to it.")
        return redirect(self.done_url())


class UnmarkBilledView(MarkBilledView):
    """Undo a *billed* mark made by hand: bills can be matched to the order again."""

    def post(self, request, org_slug, number):
        po = self.get_object()
        try:
            po = unmark_po_billed(po=po, by=self.membership)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if po.billed_at is None:
                messages.success(request, f"{po.number} is no longer marked billed: bills can be matched to it again.")
            else:
                messages.success(request, f"{po.number} is no longer marked billed by hand; its bills cover it.")
        return redirect(self.done_url())


# ------------------------------------------------------------------------------- invoices


class InvoiceMixin:
    def get_invoice(self) -> Invoice:
        return selectors.invoice_for(organization=self.org, number=self.kwargs["number"])


class InvoiceDetailView(InvoiceMixin, OrgView):
    permission = "billing.view_invoice"
    template_name = "billing/invoice_detail.html"

    def get(self, request, org_slug, number):
        invoice = self.get_invoice()
        payments = list(selectors.payments_of(invoice))
        verified = sum((p.amount_received for p in payments if p.status == Payment.Status.VERIFIED), invoice.total * 0)
        balance = invoice.net_total - verified  # what it asks, net of its credit notes, less what arrived
        return render(
            request,
            self.template_name,
            {
                "invoice": invoice,
                "lines": list(invoice.lines.all()),
                "payments": payments,
                "credit_notes": selectors.credit_notes_of_invoice(invoice),
                "bill": selectors.bill_of(invoice.purchase_order),
                "can_verify": can(self.membership, "billing.verify_payment"),
                "verified": verified,
                "balance": max(balance, invoice.total * 0),
                "owed_back": max(-balance, invoice.total * 0),
            },
        )


class InvoicePdfView(InvoiceMixin, OrgView):
    permission = "billing.view_invoice"

    def get(self, request, org_slug, number):
        invoice = self.get_invoice()
        return _pdf(pdf.invoice_pdf(invoice), invoice.number)


class PaymentsReceivedView(OrgView):
    """Every payment customers recorded to the supplier, those to verify first."""

    permission = "billing.view_invoice"
    template_name = "billing/payments.html"

    def get(self, request, org_slug):
        payments = selectors.payments_received(self.org)
        if request.GET.get("status") in Payment.Status.values:
            payments = payments.filter(status=request.GET["status"])
        page = Paginator(payments, PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            self.template_name,
            {
                "page": page,
                "query": query.urlencode(),
                "statuses": Payment.Status.choices,
                "status": request.GET.get("status", ""),
            },
        )


class PaymentDecisionView(OrgView):
    """Verify a payment with the amount received, or dispute it with a reason (one page, two
    forms)."""

    permission = "billing.verify_payment"
    template_name = "billing/payment_verify.html"

    def get_payment(self) -> Payment:
        return selectors.payment_to(supplier=self.org, pk=self.kwargs["pk"])

    def show(self, payment, verify_form=None, dispute_form=None, status=200):
        return render(
            self.request,
            self.template_name,
            {
                "payment": payment,
                "verify_form": verify_form
                or VerifyForm(initial={"amount_received": money_input(payment.amount, payment.currency)}),
                "dispute_form": dispute_form or DisputeForm(),
            },
            status=status,
        )

    def done_url(self, payment):
        if payment.invoice_id:
            return self.org_url("billing:invoice-detail", number=payment.invoice.number)
        return self.org_url("billing:payments")

    def get(self, request, org_slug, pk):
        return self.show(self.get_payment())

    def post(self, request, org_slug, pk):
        payment = self.get_payment()
        if "reason" in request.POST:
            form = DisputeForm(request.POST)
            if form.is_valid():
                try:
                    dispute_payment(payment=payment, by=self.membership, reason=form.cleaned_data["reason"])
                except DomainError as exc:
                    add_domain_error(form, exc)
                else:
                    messages.success(request, "Payment disputed; the customer is told why.")
                    return redirect(self.done_url(payment))
            return self.show(payment, dispute_form=form, status=400)
        form = VerifyForm(request.POST)
        if form.is_valid():
            try:
                verify_payment(
                    payment=payment, by=self.membership, amount_received=form.cleaned_data["amount_received"]
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, "Payment verified.")
                return redirect(self.done_url(payment))
        return self.show(payment, verify_form=form, status=400)


class PaymentAttachmentView(OrgView):
    """The proof of payment, to both sides of it (payables and receivables roles)."""

    def get(self, request, org_slug, pk):
        payment = selectors.payment_for(organization=self.org, pk=pk)
        side = "billing.view_bill" if payment.customer_id == self.org.pk else "billing.view_invoice"
        if not can(self.membership, side):
            raise PermissionDenied
        if not payment.attachment:
            raise Http404("No attachment.")
        return FileResponse(
            payment.attachment.open("rb"), as_attachment=True, filename=payment.attachment_name or "payment"
        )


# ------------------------------------------------------------------------------ FX report


class FxReportView(OrgView):
    """FX gain and loss of the customer's bills by month and supplier, in the base currency
    (``billing.fx`` says what the two figures measure), and the same as CSV."""

    permission = "billing.view_bill"
    template_name = "billing/fx_report.html"
    csv = False

    def get(self, request, org_slug):
        data = request.GET.copy()
        for name, value in FxReportForm.defaults().items():
            data.setdefault(name, value.isoformat())
        form = FxReportForm(
            data,
            suppliers=suppliers_of(self.org)
            .exclude(supplier=None)
            .order_by("supplier__name")
            .values_list("supplier_id", "supplier__name"),
        )
        context = {"form": form, "query": request.GET.urlencode(), "rows": [], "totals": []}
        if not form.is_valid():
            return render(request, self.template_name, context, status=400 if self.csv else 200)
        filters = form.cleaned_data
        rows, totals = _fx_table(
            selectors.fx_report(
                organization=self.org,
                date_from=filters["date_from"],
                date_to=filters["date_to"],
                supplier_id=filters["supplier"],
            )
        )
        if self.csv:
            return self.export(rows, totals, filters)
        return render(request, self.template_name, {**context, "rows": rows, "totals": totals})

    def export(self, rows, totals, filters):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        name = f"{self.org.slug}-fx-{filters['date_from']:%Y%m%d}-{filters['date_to']:%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        writer = csv.writer(response)
        writer.writerow(["month", "supplier", "base_currency", "receipt_to_invoice", "invoice_to_payment", "net"])
        amounts = ("receipt_invoice", "invoice_payment", "net")
        for row in rows:  # amounts as plain numbers with the base currency's decimals
            base = row["base_currency"]
            month, supplier = f"{row['month']:%Y-%m}", guard_formula(row["supplier__name"])
            writer.writerow([month, supplier, base, *(_number(row[a], base) for a in amounts)])
        for total in totals:
            writer.writerow(
                ["total", "", total["base_currency"], *(_number(total[a], total["base_currency"]) for a in amounts)]
            )
        return response


def _fx_table(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """The report's rows (sums of nothing as 0) and its totals per base currency."""
    totals: dict[str, dict] = {}
    for row in rows:
        total = totals.setdefault(
            row["base_currency"],
            {"base_currency": row["base_currency"], "receipt_invoice": 0, "invoice_payment": 0, "net": 0},
        )
        for name in ("receipt_invoice", "invoice_payment", "net"):
            row[name] = row[name] or Decimal("0")
            total[name] += row[name]
    return rows, list(totals.values())


def _number(value: Decimal, currency: str) -> str:
    return money_input(Decimal(value), currency)
