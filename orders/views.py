"""Supplier listings: list, create, edit, (de)activate, import and export."""

from __future__ import annotations

import csv
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.html import format_html

from accounts.permissions import can
from accounts.selectors import (
    active_customers_of,
    customers_of,
    locations_of,
    member_for,
    members_of,
    suppliers_of,
    tolerances_for,
)
from approvals import selectors as approval_selectors
from billing import selectors as billing_selectors
from billing.services import billed as billing_services
from procurement.csvio import guard_formula
from procurement.errors import DomainError
from procurement.forms import add_domain_error
from procurement.money import MoneyError, format_money, parse_decimal, parse_price, round_money
from procurement.validators import parse_integer
from procurement.views import OrgView, PostOnlyView

from . import listing_csv, pdf, selectors
from .forms import (
    AccountingCodeForm,
    AddedRowsForm,
    CustomerPriceFormSet,
    DraftHeaderForm,
    LineForm,
    LinePreviewForm,
    ListingFilterForm,
    ListingForm,
    ListingImportForm,
    ListingPickerForm,
    MessageForm,
    OrderFilterForm,
    PriceBreakFormSet,
    ProposalHeaderForm,
    PurchaseOrderForm,
    ReasonForm,
    ReceiptForm,
    ShipmentForm,
)
from .models import Amendment, ProposalLine, PurchaseOrder, SalesOrder
from .revisions import diff_headers, diff_revisions
from .services.accounting import ACCOUNTING_MODELS, save_accounting_code, set_accounting_code_active
from .services.amendments import (
    AMENDABLE,
    accept_amendment,
    amendable,
    decline_amendment,
    request_amendment,
    withdraw_amendment,
)
from .services.drafts import add_line, create_purchase_order, remove_line, update_line, update_purchase_order
from .services.fulfilment import record_receipt, record_shipment, require_receivable, require_shippable
from .services.listings import ListingRefused, save_listing, set_listing_active
from .services.negotiation import (
    PROPOSAL_HEADER_FIELDS,
    accept_sales_order,
    confirm_purchase_order,
    decline_sales_order,
    request_changes,
    save_proposal,
)
from .services.sharing import share_purchase_order, unshare_purchase_order
from .services.submission import cancel_purchase_order, revise_purchase_order, submit_purchase_order
from .services.thread import add_internal_note, post_message
from .totals import line_amounts
from .units import UNITS, quantity_error

PAGE_SIZE = 25
ERRORS_SHOWN = 200  # the problems of a failed import listed on its page


class ListingListView(OrgView):
    permission = "orders.view_listing"

    def get(self, request, org_slug):
        form = ListingFilterForm(request.GET)
        filters = form.cleaned_data if form.is_valid() else {}
        sort = filters.get("sort") or "sku"
        listings = selectors.search_listings(
            self.org,
            q=filters.get("q", ""),
            status=filters.get("status", ""),
            unit=filters.get("unit", ""),
            sort=sort,
        )
        page = Paginator(listings, PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        key = sort.lstrip("-")
        context = {
            "form": form,
            "page": page,
            "sort": sort,
            "sort_label": f"{selectors.SORT_LABELS.get(key, 'SKU')}, "
            f"{'descending' if sort.startswith('-') else 'ascending'}",
            "query": query.urlencode(),
            "sort_query": _without(query, "sort"),
        }
        template = "orders/_listing_table.html" if request.htmx and not request.htmx.boosted else "orders/listings.html"
        return render(request, template, context)


def _without(query, key: str) -> str:
    query = query.copy()
    query.pop(key, None)
    return query.urlencode()


class ListingExportView(OrgView):
    permission = "orders.view_listing"

    def get(self, request, org_slug):
        form = ListingFilterForm(request.GET)
        filters = form.cleaned_data if form.is_valid() else {}
        listings = selectors.search_listings(
            self.org,
            q=filters.get("q", ""),
            status=filters.get("status", ""),
            unit=filters.get("unit", ""),
            sort=filters.get("sort") or "sku",
        ).prefetch_related("price_breaks")

        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())
        rows = (writer.writerow(row) for row in listing_csv.export_rows(listings.iterator(chunk_size=1000)))
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.org.slug}-listings.csv"'
        return response


class ListingEditView(OrgView):
    """Create (no ``pk``) or edit a listing, with its price breaks and customer prices."""

    template_name = "orders/listing_form.html"

    def dispatch(self, request, *args, **kwargs):
        self.permission = "orders.change_listing" if kwargs.get("pk") else "orders.add_listing"
        return super().dispatch(request, *args, **kwargs)

    def get_listing(self):
        pk = self.kwargs.get("pk")
        return selectors.listing_for(supplier=self.org, pk=pk) if pk else None

    def forms(self, listing, data=None):
        customers = list(active_customers_of(self.org))
        if data is not None:
            return (
                ListingForm(data),
                PriceBreakFormSet(data, prefix="breaks"),
                CustomerPriceFormSet(data, prefix="prices", form_kwargs={"customers": customers}),
            )
        if listing is None:
            initial = {
                "currency": self.org.base_currency,
                "is_active": True,
                "unit": "ea",
                "min_order_qty": "1",
            }
            breaks, prices = [], []
        else:
            initial = {
                "sku": listing.sku,
                "name": listing.name,
                "description": listing.description,
                "unit": listing.unit,
                "unit_price": f"{listing.unit_price.normalize():f}",
                "currency": listing.currency,
                "min_order_qty": f"{listing.min_order_qty.normalize():f}",
                "is_active": listing.is_active,
            }
            breaks = [
                {
                    "min_quantity": f"{b.min_quantity.normalize():f}",
                    "unit_price": f"{b.unit_price.normalize():f}",
                }
                for b in listing.price_breaks.all()
            ]
            prices = [
                {"customer": p.customer_id, "unit_price": f"{p.unit_price.normalize():f}"}
                for p in listing.customer_prices.all()
            ]
        return (
            ListingForm(initial=initial),
            PriceBreakFormSet(initial=breaks, prefix="breaks"),
            CustomerPriceFormSet(initial=prices, prefix="prices", form_kwargs={"customers": customers}),
        )

    def show(self, listing, form, breaks, prices, errors=None):
        errors = errors or {}
        return render(
            self.request,
            self.template_name,
            {
                "listing": listing,
                "form": form,
                "breaks": breaks,
                "prices": prices,
                "breaks_error": errors.get("price_breaks"),
                "prices_error": errors.get("customer_prices"),
                "units": UNITS,
                "has_customers": bool(prices.forms and prices.forms[0].customers),
            },
        )

    def get(self, request, org_slug, pk=None):
        listing = self.get_listing()
        return self.show(listing, *self.forms(listing))

    def post(self, request, org_slug, pk=None):
        listing = self.get_listing()
        form, breaks, prices = self.forms(listing, request.POST)
        if not (form.is_valid() and breaks.is_valid() and prices.is_valid()):
            return self.show(listing, form, breaks, prices)
        values = dict(form.cleaned_data)
        values["price_breaks"] = [
            (f.cleaned_data["min_quantity"], f.cleaned_data["unit_price"])
            for f in breaks
            if f.cleaned_data.get("min_quantity")
        ]
        values["customer_prices"] = [
            (f.cleaned_data["customer"], f.cleaned_data["unit_price"]) for f in prices if f.cleaned_data.get("customer")
        ]
        try:
            saved = save_listing(by=self.membership, values=values, listing=listing)
        except ListingRefused as exc:
            for field, message in exc.errors.items():
                if field in form.fields:
                    form.add_error(field, message)
            return self.show(listing, form, breaks, prices, exc.errors)
        except DomainError as exc:
            form.add_error(None, exc.message)
            return self.show(listing, form, breaks, prices)
        messages.success(request, f"Listing {saved.sku} saved.")
        return redirect(self.org_url("orders:listings"))


class ListingActiveView(PostOnlyView):
    permission = "orders.change_listing"
    active = True

    def get_object(self):
        return selectors.listing_for(supplier=self.org, pk=self.kwargs["pk"])

    def done_url(self):
        return self.org_url("orders:listing-edit", pk=self.kwargs["pk"])

    def post(self, request, org_slug, pk):
        listing = self.get_object()
        try:
            set_listing_active(by=self.membership, listing=listing, active=self.active)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            state = "active" if self.active else "inactive: customers can no longer order it"
            messages.success(request, f"Listing {listing.sku} is {state}.")
        return redirect(self.done_url())


class ListingImportView(OrgView):
    """Upload a CSV file of listings: it is kept and imported by a Celery task; the import's own
    page (``ListingImportDetailView``) follows its progress."""

    permission = "orders.add_listing"
    template_name = "orders/listing_import.html"

    def show(self, form):
        context = {
            "form": form,
            "columns": listing_csv.CSV_COLUMNS,
            "units": UNITS,
            "recent": selectors.recent_listing_imports(self.org),
        }
        return render(self.request, self.template_name, context)

    def get(self, request, org_slug):
        return self.show(ListingImportForm(max_bytes=settings.LISTING_IMPORT_MAX_BYTES))

    def post(self, request, org_slug):
        form = ListingImportForm(request.POST, request.FILES, max_bytes=settings.LISTING_IMPORT_MAX_BYTES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = listing_csv.queue_listing_import(by=self.membership, data=upload.read(), file_name=upload.name)
            except DomainError as exc:
                form.add_error("file", exc.message)
            else:
                return redirect(self.org_url("orders:listing-import", pk=job.pk))
        return self.show(form)


class ListingImportDetailView(OrgView):
    """One import: its progress while it runs (the htmx partial polls itself), then its counts or
    every problem by row. Without JavaScript, a link reloads the page."""

    permission = "orders.add_listing"

    def get(self, request, org_slug, pk):
        job = selectors.listing_import_for(organization=self.org, pk=pk)
        context = {"job": job, "errors": job.errors[:ERRORS_SHOWN], "more_errors": len(job.errors) - ERRORS_SHOWN}
        if request.htmx and not request.htmx.boosted:
            return render(request, "orders/_listing_import_status.html", context)
        return render(request, "orders/listing_import_detail.html", context)


# =============================================================================== the pair


def _filter(request, form, search, **extra):
    filters = form.cleaned_data if form.is_valid() else {}
    more = {"received": filters.get("received") or ""} if "received" in form.fields else {}
    return search(
        q=filters.get("q") or "",
        status=filters.get("status") or "",
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
        sort=filters.get("sort") or "-created",
        **{extra["counterparty"]: filters.get("counterparty")},
        **more,
    )


class _OrderListView(OrgView):
    """The shared shape of the PO and SO lists: filter bar, sorting, pagination, CSV.
    Subclasses give ``filter_form()``, ``search(form)`` and ``export(orders)``, and the
    ``columns`` a page of the list reads (the CSV reads whole rows)."""

    template_name = ""
    partial_name = ""
    csv = False
    columns: tuple[str, ...] = ()

    def get(self, request, org_slug):
        form = self.filter_form()
        orders = self.search(form)
        if self.csv:
            return self.export(orders)
        sort = (form.cleaned_data.get("sort") if form.is_valid() else "") or "-created"
        page = Paginator(orders.only(*self.columns), PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            "form": form,
            "page": page,
            "sort": sort,
            "query": query.urlencode(),
            "sort_query": _without(query, "sort"),
        }
        template = self.partial_name if request.htmx and not request.htmx.boosted else self.template_name
        return render(request, template, context)

    def csv_response(self, name, header, rows):
        writer = csv.writer(_Echo())

        def lines():
            yield writer.writerow(header)
            for row in rows:
                yield writer.writerow([guard_formula(str(cell)) for cell in row])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.org.slug}-{name}.csv"'
        return response


class _Echo:
    def write(self, value):
        return value


class PurchaseOrderListView(_OrderListView):
    """Every PO for the roles that see them; only the shared ones for anyone else."""

    template_name = "orders/po_list.html"
    partial_name = "orders/_po_table.html"
    columns = (
        "number",
        "status",
        "receipt_status",
        "total",
        "currency",
        "created_at",
        "supplier__name",
        "requester__full_name",
    )

    def filter_form(self):
        return OrderFilterForm(
            self.request.GET,
            statuses=PurchaseOrder.Status.choices,
            counterparties=suppliers_of(self.org)
            .exclude(supplier=None)
            .order_by("supplier__name")
            .values_list("supplier_id", "supplier__name"),
            counterparty_label="Supplier",
            receipt_statuses=PurchaseOrder.ReceiptStatus.choices,
        )

    def search(self, form):
        visible = selectors.visible_purchase_orders(self.membership)
        return _filter(self.request, form, partial(selectors.search_purchase_orders, visible), counterparty="supplier")

    def export(self, orders):
        rows = (
            (
                po.number,
                po.supplier.name,
                po.get_status_display(),
                po.get_receipt_status_display(),
                po.order_date or "",
                po.expected_delivery_date or "",
                po.currency,
                round_money(po.subtotal, po.currency),
                round_money(po.tax_total, po.currency),
                round_money(po.total, po.currency),
                po.requester.email,
                po.created_at.date(),
            )
            for po in orders.iterator(chunk_size=1000)
        )
        return self.csv_response(
            "purchase-orders",
            [
                "number",
                "supplier",
                "status",
                "goods_received",
                "order_date",
                "delivery_by",
                "currency",
                "subtotal",
                "tax",
                "total",
                "requester",
                "created",
            ],
            rows,
        )


class SalesOrderListView(_OrderListView):
    permission = "orders.view_salesorder"
    template_name = "orders/so_list.html"
    partial_name = "orders/_so_table.html"
    columns = (
        "number",
        "status",
        "created_at",
        "customer__name",
        "purchase_order__number",
        "purchase_order__total",
        "purchase_order__currency",
        "purchase_order__status",  # read by django-fsm when the row is loaded
    )

    def filter_form(self):
        return OrderFilterForm(
            self.request.GET,
            statuses=[*SalesOrder.Status.choices, (selectors.AMENDMENT_TO_ANSWER, "Amendment to answer")],
            counterparties=customers_of(self.org)
            .order_by("customer__name")
            .values_list("customer_id", "customer__name"),
            counterparty_label="Customer",
        )

    def search(self, form):
        return _filter(self.request, form, partial(selectors.search_sales_orders, self.org), counterparty="customer")

    def export(self, orders):
        rows = (
            (
                so.number,
                so.purchase_order.number,
                so.customer.name,
                so.get_status_display(),
                so.purchase_order.currency,
                round_money(so.purchase_order.total, so.purchase_order.currency),
                so.created_at.date(),
            )
            for so in orders.iterator(chunk_size=1000)
        )
        return self.csv_response(
            "sales-orders", ["number", "customer_po", "customer", "status", "currency", "total", "created"], rows
        )


class PurchaseOrderCreateView(OrgView):
    permission = "orders.add_purchaseorder"
    template_name = "orders/po_new.html"

    def get_form(self, data=None):
        connections = suppliers_of(self.org).filter(status="active")
        form = PurchaseOrderForm(data, connections=connections, locations=locations_of(self.org))
        if data is None:
            if self.request.GET.get("supplier"):
                form.initial["connection"] = connections.filter(supplier__slug=self.request.GET["supplier"]).first()
            form.initial["ship_to"] = locations_of(self.org).filter(is_default=True).first()
        return form

    def get(self, request, org_slug):
        return render(request, self.template_name, {"form": self.get_form()})

    def post(self, request, org_slug):
        form = self.get_form(request.POST)
        if form.is_valid():
            try:
                po = create_purchase_order(by=self.membership, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Draft {po.number} created: add its lines.")
                return redirect(self.org_url("orders:po-detail", number=po.number))
        return render(request, self.template_name, {"form": form})


class PurchaseOrderMixin:
    """Resolves ``number`` to the customer's order (404 for anyone else's)."""

    def get_po(self):
        return selectors.purchase_order_for(customer=self.org, number=self.kwargs["number"])

    def line_form(self, po, data=None, prefix=None, initial=None):
        return LineForm(
            data,
            prefix=prefix,
            initial=initial,
            listings=selectors.orderable_listings(po),
            cost_centers=selectors.cost_centers_of(self.org),
            gl_accounts=selectors.gl_accounts_of(self.org),
        )


class PurchaseOrderDetailView(PurchaseOrderMixin, OrgView):
    """For the roles that see POs, and for a colleague an admin shared this one with."""

    def get_po(self):
        return selectors.visible_purchase_order(self.membership, number=self.kwargs["number"])

    def sharing(self, po) -> dict:
        """For admins: who this order is shared with, and who it could be shared with."""
        if not can(self.membership, "accounts.manage_members"):
            return {}
        shared = {user.pk for user in selectors.shared_with(po)}
        others = [m for m in members_of(self.org) if not m.has_perm("orders.view_purchaseorder")]
        return {
            "shared_with": [m for m in others if m.user_id in shared],
            "share_candidates": [m for m in others if m.user_id not in shared],
        }

    def default_cost_center(self, lines):
        """The last line's cost center, or the organization's only one (None: choose; or none exist)."""
        if lines:
            return lines[-1].cost_center_id
        self.first_cost_centers = list(selectors.cost_centers_of(self.org).values_list("pk", flat=True)[:2])
        return self.first_cost_centers[0] if len(self.first_cost_centers) == 1 else None

    def get(self, request, org_slug, number):
        return self.show(self.get_po())

    def show(self, po, *, header_form=None, line_form=None, editing=None, thread_post=None, status=200):
        lines = selectors.lines_of(po)
        editable = (
            po.is_draft
            and can(self.membership, "orders.change_purchaseorder")
            and (self.membership.is_admin or po.requester_id == self.request.user.pk)
        )
        revisions = [] if po.is_draft else selectors.latest_revisions_of(po)
        approval_requests = approval_selectors.requests_of(po) if po.submitted_at else []
        for approval in approval_requests:
            approval.purchase_order = po
            approval.may_decide = approval_selectors.may_decide(approval, self.membership)
        reapproving = any(r.kind == "reapproval" and r.status == "pending" for r in approval_requests)
        redline, header_changes = _redline(revisions)
        if editable and header_form is None:
            header_form = DraftHeaderForm(
                connections=None,
                locations=locations_of(self.org),
                initial={
                    "expected_delivery_date": po.expected_delivery_date,
                    "valid_until": po.valid_until,
                    "ship_to": po.ship_to_id,
                    "note_to_supplier": po.note_to_supplier,
                    "currency": po.currency,
                },
            )
        edit = parse_integer(self.request.GET.get("edit"), minimum=1)
        if editable and editing is None and edit is not None:
            editing = next((line for line in lines if line.pk == edit), None)
        if editable and line_form is None:
            if editing is not None:
                line_form = self.line_form(po, initial=_line_initial(editing))
            else:
                line_form = self.line_form(
                    po, initial={"cost_center": self.default_cost_center(lines), "tax_rate": "0"}
                )
        context = {
            "po": po,
            "so": getattr(po, "sales_order", None),
            "lines": lines,
            "editable": editable,
            "header_form": header_form,
            "line_form": line_form,
            "editing": editing,
            "no_cost_centers": getattr(self, "first_cost_centers", None) == [],
            "listings": selectors.orderable_listings(po)[:50] if editable and editing is None else [],
            "redline": redline,
            "header_changes": header_changes,
            "previous": revisions[-2] if len(revisions) > 1 else None,
            "thread": selectors.thread_of(po),
            "notes": selectors.internal_notes_of(po, self.org),
            "actions": po_actions(po, self.membership, editable) - ({"confirm"} if reapproving else set()),
            **_fulfilment(po, "customer", self.membership),
            "approval_requests": approval_requests,
            "reapproving": reapproving,
            **_amendments(po),
            "thread_post": thread_post or {},
            **self.sharing(po),
        }
        if context["open_amendment"] or not any(amendable(line) for line in lines):
            context["actions"].discard("amend")
        return render(self.request, "orders/po_detail.html", context, status=status)


def _amendments(po: PurchaseOrder, side: str = "purchase-orders") -> dict:
    """Both order pages: how many amendments the order has (the tab) and the open one."""
    amendments = selectors.amendments_of(po, supplier=side == "sales-orders") if po.confirmed_at else []
    return {
        "amendment_count": len(amendments),
        "open_amendment": next((a for a in amendments if a.is_open), None),
    }


def _redline(revisions) -> tuple[list | None, list]:
    """The changes of the latest revision against the one before; (None, []) when nothing changed."""
    if len(revisions) < 2:
        return None, []
    rows = diff_revisions(revisions[-2], revisions[-1])
    header = diff_headers(revisions[-2], revisions[-1])
    if not header and all(row["kind"] == "same" for row in rows):
        return None, []
    return rows, header


def _line_initial(line) -> dict:
    return {
        "listing": line.listing_id,
        "sku": line.sku,
        "description": line.description,
        "quantity": f"{line.quantity.normalize():f}",
        "unit": line.unit,
        "unit_price": f"{line.unit_price.normalize():f}",
        "tax_rate": f"{line.tax_rate.normalize():f}",
        "cost_center": line.cost_center_id,
        "gl_account": line.gl_account_id,
        "fund": line.fund,
        "department": line.department,
        "program": line.program,
        "requested_date": line.requested_date,
    }


def po_actions(po: PurchaseOrder, membership, editable: bool) -> set[str]:
    """The buttons this member sees now: the FSM's available transitions, the role table,
    and the side rules; the services check all of it again."""
    available = {t.name for t in po.get_available_status_transitions()}
    active = po.connection.status == "active"
    actions = set()
    if editable and "release" in available and active:
        actions.add("submit")
    may_edit = can(membership, "orders.change_purchaseorder") and (
        membership.is_admin or po.requester_id == membership.user_id
    )
    if "revise" in available and may_edit:
        actions.add("revise")
    if active and "confirm" in available and can(membership, "orders.confirm_purchaseorder"):
        actions.add("confirm")
    if active and "request_changes" in available and can(membership, "orders.request_changes_purchaseorder"):
        actions.add("request_changes")
    if "cancel" in available and can(membership, "orders.cancel_purchaseorder") and (not po.is_draft or editable):
        actions.add("cancel")
    if active and po.status in PurchaseOrder.RECEIVABLE and can(membership, "orders.add_receipt"):
        actions.add("receive")
    if active and po.status in AMENDABLE and can(membership, "orders.add_amendment"):
        actions.add("amend")
    return actions


def _fulfilment(po: PurchaseOrder, side: str, membership=None) -> dict:
    """Both order pages: the progress columns, shipments and receipts, and this side's
    billing — the customer's bill with its 3-way match, the bills matched to the order and
    the *billed* mark; the supplier's invoice and the payments waiting for verification."""
    context = {"progress": False, "shipments": [], "receipts": [], "document": None}
    approved = po.status in billing_services.APPROVED
    if side == "customer" and approved:
        if getattr(po, "has_bill_matches", True):
            context["billed_matches"] = list(billing_selectors.live_matches_to(po))
        context["can_mark_billed"] = po.billed_at is None and (
            can(membership, "orders.mark_billed_purchaseorder") or po.requester_id == membership.user_id
        )
    if po.confirmed_at is None:
        return context
    context.update(progress=True, shipments=selectors.shipments_of(po), receipts=selectors.receipts_of(po))
    if side == "customer":
        bill = billing_selectors.bill_of(po)
        context["document"] = bill
        context["bill_match"] = billing_selectors.three_way(bill) if bill else None
        context["can_pay"] = bool(bill) and bill.status in bill.OPEN_STATES and can(membership, "billing.add_payment")
    else:
        invoice = billing_selectors.invoice_of(po)
        context["document"] = invoice
        context["to_verify"] = (
            billing_selectors.payments_to_verify(invoice)
            if invoice and can(membership, "billing.verify_payment")
            else 0
        )
    return context


class PurchaseOrderEditView(PurchaseOrderMixin, PostOnlyView):
    """Saves a draft's header (POST from the order page)."""

    permission = "orders.change_purchaseorder"
    get_object = PurchaseOrderMixin.get_po

    def done_url(self):
        return self.org_url("orders:po-detail", number=self.kwargs["number"])

    def post(self, request, org_slug, number):
        po = self.get_po()
        form = DraftHeaderForm(request.POST, connections=None, locations=locations_of(self.org))
        if form.is_valid():
            try:
                update_purchase_order(by=self.membership, po=po, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, "Order details saved.")
                return redirect(self.done_url())
        return PurchaseOrderDetailView(
            request=request, kwargs=self.kwargs, org=self.org, membership=self.membership
        ).show(po, header_form=form, status=400)


class LineSaveView(PurchaseOrderMixin, PostOnlyView):
    """Adds a line to a draft, or (with ``pk``) changes one. With htmx the page's order part
    is swapped in place; without it the page reloads. Errors keep what was typed."""

    permission = "orders.change_purchaseorder"

    def get_object(self):
        po = self.get_po()
        pk = self.kwargs.get("pk")
        return po, (get_object_or_404(po.lines, pk=pk) if pk else None)

    def done_url(self):
        return self.org_url("orders:po-detail", number=self.kwargs["number"])

    def post(self, request, org_slug, number, pk=None):
        po, line = self.get_object()
        form = self.line_form(po, request.POST)
        if form.is_valid():
            try:
                if line is None:
                    add_line(by=self.membership, po=po, values=form.cleaned_data)
                else:
                    update_line(by=self.membership, po=po, line=line, values=form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, "Line added." if line is None else f"Line {line.position} saved.")
                return redirect(self.done_url())
        detail = PurchaseOrderDetailView(request=request, kwargs=self.kwargs, org=self.org, membership=self.membership)
        return detail.show(po, line_form=form, editing=line, status=200 if request.htmx else 400)


class LineRemoveView(PurchaseOrderMixin, PostOnlyView):
    permission = "orders.change_purchaseorder"

    def get_object(self):
        po = self.get_po()
        return po, get_object_or_404(po.lines, pk=self.kwargs["pk"])

    def done_url(self):
        return self.org_url("orders:po-detail", number=self.kwargs["number"])

    def post(self, request, org_slug, number, pk):
        po, line = self.get_object()
        try:
            remove_line(by=self.membership, po=po, line=line)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Line {line.position} removed.")
        return redirect(self.done_url())


NO_PREVIEW = '<span class="text-muted">—</span>'


class LinePreviewView(PurchaseOrderMixin, OrgView):
    """htmx: the amount of the line being typed, before it is added (writes nothing)."""

    permission = "orders.view_purchaseorder"

    def get(self, request, org_slug, number):
        po = self.get_po()
        form = LinePreviewForm(request.GET)
        if not form.is_valid():  # unreadable input is no line yet: nothing is looked up
            return HttpResponse(NO_PREVIEW)
        data = form.cleaned_data
        listing = selectors.orderable_listings(po).filter(pk=data["listing"]).first() if data["listing"] else None
        try:
            quantity = parse_decimal(data["quantity"] or "0")
            price = (
                listing.price_for(quantity=quantity) if listing else parse_price(data["unit_price"] or "0", po.currency)
            )
            rate = parse_decimal(data["tax_rate"] or "0")
            unit = listing.unit if listing else data["unit"] or "ea"
            if quantity_error(quantity, unit) or not Decimal(0) <= rate <= Decimal(100):
                raise MoneyError("not a line yet")
            total, tax = line_amounts(quantity, price, rate, po.currency)
        except (MoneyError, DomainError):  # not a number yet, or more than an order can hold
            return HttpResponse(NO_PREVIEW)
        return HttpResponse(
            format_html(
                "{} <span class='text-muted small'>+ {} tax</span>",
                format_money(total, po.currency),
                format_money(tax, po.currency),
            )
        )


class ListingPickerView(PurchaseOrderMixin, OrgView):
    """htmx: the supplier's listings matching the search, to pick one for a new line."""

    permission = "orders.add_purchaseorder"

    def get(self, request, org_slug, number):
        po = self.get_po()
        form = ListingPickerForm(request.GET)
        data = form.cleaned_data if form.is_valid() else {"q": "", "listing": None}
        listings = selectors.orderable_listings(po, data["q"])[:50]
        return render(
            request, "orders/_listing_picker.html", {"po": po, "listings": listings, "selected": data["listing"]}
        )


class PurchaseOrderActionView(PurchaseOrderMixin, PostOnlyView):
    """Submit, confirm (buttons), request changes and cancel (a short form each)."""

    action = ""
    form_class = None
    permissions = {
        "revise": "orders.change_purchaseorder",
        "submit": "orders.submit_purchaseorder",
        "confirm": "orders.confirm_purchaseorder",
        "request_changes": "orders.request_changes_purchaseorder",
        "cancel": "orders.cancel_purchaseorder",
    }
    done = {
        "revise": "a draft again",
        "submit": "submitted",
        "confirm": "confirmed",
        "request_changes": "sent back to the supplier",
        "cancel": "cancelled",
    }
    get_object = PurchaseOrderMixin.get_po

    def dispatch(self, request, *args, **kwargs):
        self.permission = self.permissions[self.action]
        return super().dispatch(request, *args, **kwargs)

    def done_url(self):
        return self.org_url("orders:po-detail", number=self.kwargs["number"])

    def get(self, request, org_slug, number):
        po = self.get_po()
        if self.form_class is None:
            return redirect(self.done_url())
        editable = po.is_draft and (self.membership.is_admin or po.requester_id == request.user.pk)
        if self.action not in po_actions(po, self.membership, editable):
            messages.error(request, f"{po.number} is {po.get_status_display().lower()}: this is not possible now.")
            return redirect(self.done_url())
        return render(request, "orders/po_action.html", {"po": po, "form": self.form_class(), "action": self.action})

    def post(self, request, org_slug, number):
        po = self.get_po()
        form = self.form_class(request.POST) if self.form_class else None
        if form is not None and not form.is_valid():
            return render(request, "orders/po_action.html", {"po": po, "form": form, "action": self.action})
        try:
            if self.action == "revise":
                po = revise_purchase_order(po=po, by=self.membership)
            elif self.action == "submit":
                po = submit_purchase_order(po=po, by=self.membership)
            elif self.action == "confirm":
                po = confirm_purchase_order(po=po, by=self.membership)
            elif self.action == "request_changes":
                po = request_changes(po=po, by=self.membership, note=form.cleaned_data["note"])
            else:
                po = cancel_purchase_order(po=po, by=self.membership, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            if form is None:
                messages.error(request, exc.message)
                return redirect(self.done_url())
            add_domain_error(form, exc)
            return render(request, "orders/po_action.html", {"po": po, "form": form, "action": self.action})
        if self.action == "submit" and po.status == PurchaseOrder.Status.PENDING_APPROVAL:
            step = approval_selectors.open_step_of(po)
            names = ", ".join(u.full_name for u in step.approvers.all()) if step else ""
            messages.info(request, f"{po.number} is submitted for approval: {names} will decide (step “{step.name}”).")
            return redirect(self.done_url())
        if self.action == "confirm" and po.status != PurchaseOrder.Status.CONFIRMED:
            messages.info(
                request,
                f"{po.number} needs approval again before it is confirmed: it went to the approvers, "
                "and it is confirmed as soon as they approve.",
            )
            return redirect(self.done_url())
        messages.success(request, f"{po.number} is {self.done[self.action]}.")
        return redirect(self.done_url())


class ThreadPostView(PostOnlyView):
    """A message to the shared thread, or an internal note, from either side's order page."""

    internal = False

    def get_object(self):
        if self.kwargs["side"] == "purchase-orders":
            return selectors.purchase_order_for(customer=self.org, number=self.kwargs["number"])
        return selectors.sales_order_for(supplier=self.org, number=self.kwargs["number"]).purchase_order

    def done_url(self):
        name = "orders:po-detail" if self.kwargs["side"] == "purchase-orders" else "orders:so-detail"
        return self.org_url(name, number=self.kwargs["number"]) + ("#notes" if self.internal else "#thread")

    def post(self, request, org_slug, side, number):
        po = self.get_object()
        form = MessageForm(request.POST)
        try:
            if not form.is_valid():
                raise DomainError(" ".join(form.errors.get("body", ["Write something first."])))
            if self.internal:
                add_internal_note(po=po, by=self.membership, body=form.cleaned_data["body"])
            else:
                post_message(po=po, by=self.membership, body=form.cleaned_data["body"])
        except DomainError as exc:  # show the page again with the text and the reason beside it
            post = {"body": request.POST.get("body", ""), "error": exc.message, "internal": self.internal}
            if side == "purchase-orders":
                view = PurchaseOrderDetailView(
                    request=request, kwargs=self.kwargs, org=self.org, membership=self.membership
                )
                return view.show(view.get_po(), thread_post=post, status=400)
            view = SalesOrderDetailView(request=request, kwargs=self.kwargs, org=self.org, membership=self.membership)
            return view.show(view.get_so(), thread_post=post, status=400)
        return redirect(self.done_url())


class OrderPdfView(OrgView):
    """The PO PDF (customer) or the order acknowledgement (supplier)."""

    def get(self, request, org_slug, side, number):
        if side == "purchase-orders":
            po = selectors.visible_purchase_order(self.membership, number=number)
            content, name = pdf.purchase_order_pdf(po), f"{po.number}.pdf"
        else:
            if not can(self.membership, "orders.view_salesorder"):
                raise PermissionDenied
            so = selectors.sales_order_for(supplier=self.org, number=number)
            if not so.has_acknowledgement:
                messages.error(request, f"{so.number} has no acknowledgement: you have not accepted it.")
                return redirect("orders:so-detail", org_slug=self.org.slug, number=number)
            content, name = pdf.acknowledgement_pdf(so.purchase_order), f"{so.number}.pdf"
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{name}"'
        return response


class RevisionsView(OrgView):
    """Every published revision of the order, each with its redline against the one before."""

    def get(self, request, org_slug, side, number):
        po = _order_of_side(self.membership, side, number)
        revisions = selectors.revisions_of(po)
        rounds = [
            {
                "revision": rev,
                "rows": diff_revisions(revisions[i - 1] if i else None, rev),
                "header": diff_headers(revisions[i - 1] if i else None, rev),
            }
            for i, rev in enumerate(revisions)
        ]
        context = {
            "po": po,
            "rounds": list(reversed(rounds)),
            "side": side,
            "tab": "revisions",
            "amendment_count": len(selectors.amendments_of(po, supplier=side == "sales-orders")),
        }
        return render(request, "orders/revisions.html", context)


class AmendmentsView(OrgView):
    """The *Amendments* tab of both order pages: every amendment, what it changed and who answered."""

    def get(self, request, org_slug, side, number):
        po = _order_of_side(self.membership, side, number)
        amendments = selectors.amendments_of(po, supplier=side == "sales-orders")
        context = {"po": po, "side": side, "number": number, "amendments": amendments, "tab": "amendments"}
        return render(request, "orders/amendments.html", context)


def _order_of_side(membership, side: str, number: str) -> PurchaseOrder:
    """The order behind a page of either side (the customer's PO or the supplier's SO number)."""
    if side == "purchase-orders":
        return selectors.visible_purchase_order(membership, number=number)
    if not can(membership, "orders.view_salesorder"):
        raise PermissionDenied
    return selectors.sales_order_for(supplier=membership.organization, number=number).purchase_order


class AmendmentCreateView(PurchaseOrderMixin, OrgView):
    """*Amend order*: new, higher quantities or lines to cancel, and the reason (SPEC §4)."""

    permission = "orders.add_amendment"

    def done_url(self):
        return self.org_url("orders:po-detail", number=self.kwargs["number"])

    def get(self, request, org_slug, number):
        po = self.get_po()
        if "amend" not in po_actions(po, self.membership, False) or _amendments(po)["open_amendment"]:
            messages.error(request, f"{po.number} cannot be amended now.")
            return redirect(self.done_url())
        return self.show(po, ReasonForm())

    def post(self, request, org_slug, number):
        po = self.get_po()
        form = ReasonForm(request.POST)
        lines = selectors.lines_of(po, coding=False)
        quantities = {line.pk: request.POST.get(f"line-{line.pk}-quantity", "").strip() for line in lines}
        cancel = {line.pk for line in lines if request.POST.get(f"line-{line.pk}-cancel")}
        error = None
        if form.is_valid():
            try:
                amendment = request_amendment(
                    po=po, by=self.membership, reason=form.cleaned_data["reason"], quantities=quantities, cancel=cancel
                )
            except DomainError as exc:
                if exc.field == "reason":
                    add_domain_error(form, exc)
                else:
                    error = exc
            else:
                approving = amendment.status == Amendment.Status.PENDING_APPROVAL
                waits = "internal approval" if approving else po.supplier.name
                messages.success(request, f"Amendment {amendment.number} is asked; it waits for {waits}.")
                return redirect(self.done_url() + "#amendment")
        return self.show(po, form, posted=(quantities, cancel), error=error, status=400)

    def show(self, po, form, *, posted=None, error=None, status=200):
        quantities, cancel = posted or ({}, set())
        rows = []
        field = error.field if error else None
        for line in selectors.lines_of(po, coding=False):
            why = ""
            if line.is_void:
                why = line.get_status_display()
            elif not amendable(line):
                why = "Has receipts"
            rows.append(
                {
                    "line": line,
                    "why": why,
                    "quantity": quantities.get(line.pk, ""),
                    "cancel": line.pk in cancel,
                    "quantity_error": error.message if field == f"line-{line.pk}-quantity" else "",
                    "cancel_error": error.message if field == f"line-{line.pk}-cancel" else "",
                }
            )
        shown = [r for r in rows if not r["why"]]  # the rows with inputs, where an error shows beside one
        marked = any(r["quantity_error"] or (r["cancel_error"] and not r["line"].quantity_shipped) for r in shown)
        context = {"po": po, "form": form, "rows": rows, "error": None if marked else error}
        return render(self.request, "orders/amend.html", context, status=status)


class AmendmentWithdrawView(PurchaseOrderMixin, PostOnlyView):
    permission = "orders.add_amendment"

    def get_object(self):
        return selectors.amendment_for(self.get_po(), number=self.kwargs["amendment"])

    def done_url(self):
        return self.org_url("orders:po-detail", number=self.kwargs["number"])

    def post(self, request, org_slug, number, amendment):
        amendment = self.get_object()
        try:
            withdraw_amendment(amendment=amendment, by=self.membership)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Amendment {amendment.number} is withdrawn; the order stays as it was.")
        return redirect(self.done_url())


# -------------------------------------------------------------------------------- supplier


class SalesOrderMixin:
    def get_so(self):
        return selectors.sales_order_for(supplier=self.org, number=self.kwargs["number"])


class SalesOrderDetailView(SalesOrderMixin, OrgView):
    permission = "orders.view_salesorder"

    def get(self, request, org_slug, number):
        return self.show(self.get_so())

    def show(
        self,
        so,
        *,
        header_form=None,
        posted=None,
        posted_added=None,
        error=None,
        thread_post=None,
        status=200,
    ):
        po = so.purchase_order
        lines = selectors.lines_of(po, coding=False)
        proposal = selectors.proposal_of(so)
        may_adjust = (
            so.status in SalesOrder.OPEN
            and po.connection.status == "active"
            and can(self.membership, "orders.change_salesorder")
        )
        by_line = {p.po_line_id: p for p in proposal.lines.all()} if proposal else {}
        marked = error.field if error else None
        rows = [
            {
                "line": line,
                "inputs": _inputs(
                    f"line-{line.pk}",
                    (posted or {}).get(line.pk) or _proposal_values(line, by_line.get(line.pk)),
                    LINE_INPUTS,
                    marked,
                ),
            }
            for line in lines
        ]
        if posted_added is None:
            posted_added = [_added_values(p) for p in proposal.lines.all() if p.action == "add"] if proposal else []
        added_rows = [
            _inputs(f"add-{i}", values, ADD_INPUTS, marked) for i, values in enumerate([*posted_added, {}, {}])
        ]
        if header_form is None and may_adjust:
            header_form = ProposalHeaderForm(
                initial={name: getattr(proposal, name) for name in PROPOSAL_HEADER_FIELDS}
                if proposal
                else {"payment_terms_days": po.payment_terms_days, "ship_to_address": po.ship_to_address}
            )
        revisions = selectors.latest_revisions_of(po)
        context = {
            "so": so,
            "po": po,
            "rows": rows,
            "proposal": proposal,
            "may_adjust": may_adjust,
            "added_rows": added_rows,
            "thread_post": thread_post or {},
            "header_form": header_form,
            "error": error,
            "actions": so_actions(so, self.membership, lines),
            **_fulfilment(po, "supplier", self.membership),
            **dict(zip(("redline", "header_changes"), _redline(revisions), strict=True)),
            "previous": revisions[-2] if len(revisions) > 1 else None,
            "lines": lines,
            "thread": selectors.thread_of(po),
            "notes": selectors.internal_notes_of(po, self.org),
            "line_actions": ProposalLine.Action.choices[:4],
            "units": UNITS,
            **_amendments(po, "sales-orders"),
        }
        return render(self.request, "orders/so_detail.html", context, status=status)


def _plain(value):
    return "" if value is None else f"{value.normalize():f}"


LINE_INPUTS = [
    ("action", "Action", "select", "col-sm-3"),
    ("quantity", "Quantity", "text", "col-6 col-sm-2"),
    ("unit_price", "Unit price", "text", "col-6 col-sm-2"),
    ("promised_date", "Promised", "date", "col-sm-2"),
    ("backorder_quantity", "Backordered qty", "text", "col-6 col-sm-1"),
    ("backorder_date", "Rest by", "date", "col-6 col-sm-2"),
    ("reject_reason", "Reason, if you reject the line", "text", "col-12"),
]
ADD_INPUTS = [
    ("sku", "SKU", "text", "col-sm-2"),
    ("description", "Item", "text", "col-sm-4"),
    ("quantity", "Quantity", "text", "col-4 col-sm-2"),
    ("unit", "Unit", "unit", "col-4 col-sm-2"),
    ("unit_price", "Unit price", "text", "col-4 col-sm-2"),
]


def _inputs(prefix: str, values: dict, spec, marked: str | None) -> list[dict]:
    """The inputs of one row of the supplier's form, the refused one marked."""
    inputs = []
    for name, label, kind, col in spec:
        value = values.get(name, "")
        inputs.append(
            {
                "name": f"{prefix}-{name}",
                "label": label,
                "kind": kind,
                "col": col,
                "value": value.isoformat() if hasattr(value, "isoformat") else value,
                "error": marked == f"{prefix}-{name}",
            }
        )
    return inputs


def _proposal_values(line, p) -> dict:
    """The supplier form's values for a line: the saved proposal's, else the line as it stands
    (so that saving untouched lines changes nothing — a rejected line stays rejected)."""
    if p is None:
        action = "reject" if line.is_rejected else ("backorder" if line.backorder_quantity else "accept")
        return {
            "action": action,
            "quantity": _plain(line.quantity),
            "unit_price": _plain(line.unit_price),
            "promised_date": line.promised_date or "",
            "backorder_quantity": _plain(line.backorder_quantity),
            "backorder_date": line.backorder_date or "",
            "reject_reason": line.reject_reason,
        }
    return {
        "action": p.action,
        "quantity": _plain(p.quantity if p.quantity is not None else line.quantity),
        "unit_price": _plain(p.unit_price if p.unit_price is not None else line.unit_price),
        "promised_date": p.promised_date or line.promised_date or "",
        "backorder_quantity": _plain(p.backorder_quantity),
        "backorder_date": p.backorder_date or "",
        "reject_reason": p.reject_reason,
    }


def _added_values(p) -> dict:
    return {
        "sku": p.sku,
        "description": p.description,
        "quantity": _plain(p.quantity),
        "unit": p.unit,
        "unit_price": _plain(p.unit_price),
        "promised_date": p.promised_date or "",
    }


def so_actions(so: SalesOrder, membership, lines=()) -> set[str]:
    """The supplier's buttons; *Record shipment* while some line of ``lines`` is left to ship."""
    available = {t.name for t in so.get_available_status_transitions()}
    if so.purchase_order.connection.status != "active":
        return set()
    actions = set()
    if "accept" in available and can(membership, "orders.accept_salesorder"):
        actions.add("accept")
    if "decline" in available and can(membership, "orders.decline_salesorder"):
        actions.add("decline")
    if (
        so.status in SalesOrder.SHIPPABLE
        and can(membership, "orders.add_shipment")
        and any(line.left_to_ship > 0 for line in lines if not line.is_void)
    ):
        actions.add("ship")
    return actions


class ProposalSaveView(SalesOrderMixin, PostOnlyView):
    """Saves the supplier's adjustments (and, with ``accept`` in the POST, accepts the order).
    A refusal names the line and marks its input; everything typed is kept."""

    permission = "orders.change_salesorder"
    get_object = SalesOrderMixin.get_so
    LINE_FIELDS = (
        "action",
        "quantity",
        "unit_price",
        "promised_date",
        "backorder_quantity",
        "backorder_date",
        "reject_reason",
    )
    ADD_FIELDS = ("sku", "description", "quantity", "unit", "unit_price", "promised_date")

    def done_url(self):
        return self.org_url("orders:so-detail", number=self.kwargs["number"])

    def post(self, request, org_slug, number):
        so = self.get_so()
        header_form = ProposalHeaderForm(request.POST)
        rows_form = AddedRowsForm(request.POST)
        line_ids = [line.pk for line in so.purchase_order.lines.all()]
        posted = {pk: {f: request.POST.get(f"line-{pk}-{f}", "").strip() for f in self.LINE_FIELDS} for pk in line_ids}
        rows = [
            {f: request.POST.get(f"add-{i}-{f}", "").strip() for f in self.ADD_FIELDS}
            for i in range(rows_form.count() if rows_form.is_valid() else 0)
        ]
        added = [row for row in rows if row["description"] or row["quantity"] or row["unit_price"]]

        def again(error):
            detail = SalesOrderDetailView(request=request, kwargs=self.kwargs, org=self.org, membership=self.membership)
            return detail.show(so, header_form=header_form, posted=posted, posted_added=added, error=error, status=400)

        if not rows_form.is_valid():  # the hidden count was tampered with: read no row rather than guess
            return again(DomainError("The added lines could not be read: add them again."))
        if len(added) > AddedRowsForm.MAX_ADDED:
            return again(DomainError(f"At most {AddedRowsForm.MAX_ADDED} lines can be added to an order."))
        if not header_form.is_valid():
            return again(None)
        try:
            save_proposal(so=so, by=self.membership, header=header_form.cleaned_data, lines=posted, added=added)
            if "accept" in request.POST:
                accept_sales_order(so=so, by=self.membership)
        except DomainError as exc:
            if exc.field in header_form.fields:
                header_form.add_error(exc.field, exc.message)
            return again(exc)
        messages.success(
            request,
            f"{so.number} accepted: the customer sees your revision now."
            if "accept" in request.POST
            else "Your changes are saved; the customer sees them once you accept the order.",
        )
        return redirect(self.done_url())


class SalesOrderAcceptView(SalesOrderMixin, PostOnlyView):
    permission = "orders.accept_salesorder"
    get_object = SalesOrderMixin.get_so

    def done_url(self):
        return self.org_url("orders:so-detail", number=self.kwargs["number"])

    def post(self, request, org_slug, number):
        so = self.get_so()
        try:
            accept_sales_order(so=so, by=self.membership)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{so.number} accepted: the customer sees your revision now.")
        return redirect(self.done_url())


class SalesOrderDeclineView(SalesOrderMixin, PostOnlyView):
    permission = "orders.decline_salesorder"
    get_object = SalesOrderMixin.get_so

    def done_url(self):
        return self.org_url("orders:so-detail", number=self.kwargs["number"])

    def get(self, request, org_slug, number):
        so = self.get_so()
        return render(request, "orders/so_decline.html", {"so": so, "form": ReasonForm()})

    def post(self, request, org_slug, number):
        so = self.get_so()
        form = ReasonForm(request.POST)
        if form.is_valid():
            try:
                decline_sales_order(so=so, by=self.membership, reason=form.cleaned_data["reason"])
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"{so.number} is declined; the customer has been told.")
                return redirect(self.done_url())
        return render(request, "orders/so_decline.html", {"so": so, "form": form})


class AmendmentAnswerMixin(SalesOrderMixin):
    permission = "orders.accept_amendment"

    def get_object(self):
        return selectors.amendment_for(self.get_so().purchase_order, number=self.kwargs["amendment"])

    def done_url(self):
        return self.org_url("orders:so-detail", number=self.kwargs["number"])


class AmendmentAcceptView(AmendmentAnswerMixin, PostOnlyView):
    def post(self, request, org_slug, number, amendment):
        amendment = self.get_object()
        try:
            accept_amendment(amendment=amendment, by=self.membership)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                f"Amendment {amendment.number} is accepted: the order is revision {amendment.revision_number}, "
                "and the invoice follows.",
            )
        return redirect(self.done_url())


class AmendmentDeclineView(AmendmentAnswerMixin, PostOnlyView):
    def get(self, request, org_slug, number, amendment):
        amendment = self.get_object()
        if amendment.status != Amendment.Status.PROPOSED:
            return redirect(self.done_url())
        return self.show(amendment, ReasonForm())

    def post(self, request, org_slug, number, amendment):
        amendment = self.get_object()
        form = ReasonForm(request.POST)
        if form.is_valid():
            try:
                decline_amendment(amendment=amendment, by=self.membership, reason=form.cleaned_data["reason"])
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Amendment {amendment.number} is declined; the customer has been told.")
                return redirect(self.done_url())
        return self.show(amendment, form, status=400)

    def show(self, amendment, form, status=200):
        so = self.get_so()
        context = {"so": so, "po": so.purchase_order, "amendment": amendment, "form": form}
        return render(self.request, "orders/amendment_decline.html", context, status=status)


class PurchaseOrderShareView(PurchaseOrderMixin, PostOnlyView):
    """An admin shares one PO with a colleague whose roles do not show POs (or stops sharing)."""

    permission = "accounts.manage_members"
    share = True
    get_object = PurchaseOrderMixin.get_po

    def done_url(self):
        return self.org_url("orders:po-detail", number=self.kwargs["number"]) + "#sharing"

    def post(self, request, org_slug, number):
        po = self.get_po()
        pk = parse_integer(request.POST.get("member"), minimum=1)
        if pk is None:
            messages.error(request, "Choose a colleague.")
            return redirect(self.done_url())
        member = member_for(organization=self.org, pk=pk)  # another tenant's member: 404
        try:
            if self.share:
                share_purchase_order(po=po, by=self.membership, member=member)
            else:
                unshare_purchase_order(po=po, by=self.membership, member=member)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"{po.number} is {'now' if self.share else 'no longer'} shared with {member.user}."
            )
        return redirect(self.done_url())


# ------------------------------------------------------------------------ accounting codes


class AccountingCodesView(OrgView):
    """Settings: the cost centers and GL accounts that order lines are coded with."""

    permission = "accounts.change_organization"
    template_name = "orders/accounting.html"

    def show(self, forms=None, status=200):
        forms = forms or {}
        return render(
            self.request,
            self.template_name,
            {
                "sections": [
                    {
                        "kind": kind,
                        "title": title,
                        "codes": selectors.accounting_codes_of(self.org, kind),
                        "form": forms.get(kind) or AccountingCodeForm(prefix=kind),
                    }
                    for kind, title in (("cost-centers", "Cost centers"), ("gl-accounts", "GL accounts"))
                ],
            },
            status=status,
        )

    def get(self, request, org_slug):
        return self.show()

    def post(self, request, org_slug):
        kind = request.POST.get("kind")
        if kind not in ACCOUNTING_MODELS:
            return self.show(status=400)
        form = AccountingCodeForm(request.POST, prefix=kind)
        if form.is_valid():
            try:
                obj = save_accounting_code(by=self.membership, kind=kind, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"{obj} added.")
                return redirect(self.org_url("orders:accounting"))
        return self.show({kind: form}, status=400)


class AccountingCodeToggleView(PostOnlyView):
    permission = "accounts.change_organization"

    def get_object(self):
        return selectors.accounting_code_for(organization=self.org, kind=self.kwargs["kind"], pk=self.kwargs["pk"])

    def done_url(self):
        return self.org_url("orders:accounting")

    def post(self, request, org_slug, kind, pk):
        obj = self.get_object()
        set_accounting_code_active(by=self.membership, obj=obj, active=not obj.is_active)
        messages.success(request, f"{obj} is {'inactive' if obj.is_active else 'active'}.")
        return redirect(self.done_url())


# ------------------------------------------------------------------------------ fulfilment


class ShipmentCreateView(SalesOrderMixin, OrgView):
    """*Record shipment*: what goes out now, per line, with the carrier and tracking number.
    A refusal marks the line it is about and keeps everything typed."""

    permission = "orders.add_shipment"
    template_name = "orders/so_ship.html"

    def done_url(self):
        return self.org_url("orders:so-detail", number=self.kwargs["number"])

    def rows(self, po, posted=None, marked=None):
        rows = []
        for line in selectors.lines_of(po, coding=False):
            if line.is_void:
                continue
            left = line.left_to_ship
            value = posted.get(line.pk, "") if posted is not None else _plain(left)
            rows.append(
                {
                    "line": line,
                    "left": left,
                    "value": value,
                    "name": f"line-{line.pk}",
                    "error": marked == f"line-{line.pk}",
                }
            )
        return rows

    def show(self, so, form, rows, error=None, status=200):
        return render(
            self.request,
            self.template_name,
            {"so": so, "po": so.purchase_order, "form": form, "rows": rows, "error": error},
            status=status,
        )

    def get(self, request, org_slug, number):
        so = self.get_so()
        try:
            require_shippable(so.purchase_order, so)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect(self.done_url())
        form = ShipmentForm(initial={"shipped_on": timezone.localdate()})
        return self.show(so, form, self.rows(so.purchase_order))

    def post(self, request, org_slug, number):
        so = self.get_so()
        po = so.purchase_order
        form = ShipmentForm(request.POST)
        posted = {
            line.pk: request.POST.get(f"line-{line.pk}", "").strip() for line in selectors.lines_of(po, coding=False)
        }
        if not form.is_valid():
            return self.show(so, form, self.rows(po, posted), status=400)
        try:
            shipment = record_shipment(so=so, by=self.membership, lines=posted, **form.cleaned_data)
        except DomainError as exc:
            if exc.field in form.fields:
                add_domain_error(form, exc)
            return self.show(so, form, self.rows(po, posted, exc.field), error=exc, status=400)
        messages.success(request, f"Shipment {shipment.number} recorded; {so.customer.name} has been told.")
        return redirect(self.done_url())


class ReceiptCreateView(PurchaseOrderMixin, OrgView):
    """*Record receipt*: what arrived, per line — in good condition, damaged, and (against a
    shipment) short — with a reason for what is damaged or short. The oldest shipment not yet
    received is proposed; goods without a shipment are counted by hand (nothing pre-filled)."""

    permission = "orders.add_receipt"
    template_name = "orders/po_receive.html"
    FIELDS = ("quantity", "damaged", "reason")

    def done_url(self):
        return self.org_url("orders:po-detail", number=self.kwargs["number"])

    def tolerance(self, po) -> Decimal:
        """The over-receipt tolerance for this order's supplier (read once per request)."""
        if not hasattr(self, "_tolerance"):
            policy = tolerances_for(customer_id=po.customer_id, supplier_id=po.supplier_id)
            self._tolerance = policy.over_receipt_percent
        return self._tolerance

    def rows(self, po, shipment, posted=None, marked=None):
        tolerance = self.tolerance(po)
        expected = {sl.po_line_id: sl.quantity for sl in shipment.lines.all()} if shipment else None
        rows = []
        for line in selectors.lines_of(po, coding=False):
            if line.is_void or (expected is not None and line.pk not in expected):
                continue
            in_shipment = expected.get(line.pk) if expected is not None else None
            if posted is not None:
                values = posted.get(line.pk, {})
            else:
                values = {"quantity": _plain(in_shipment) if in_shipment is not None else ""}
            prefix = f"line-{line.pk}"
            rows.append(
                {
                    "line": line,
                    "left": line.left_to_receive(tolerance),
                    "in_shipment": in_shipment,
                    "inputs": {
                        name: {
                            "name": f"{prefix}-{name}",
                            "value": values.get(name, ""),
                            "error": marked == f"{prefix}-{name}",
                        }
                        for name in self.FIELDS
                    },
                }
            )
        return rows

    def show(self, po, form, shipment, rows, error=None, status=200, shipment_value=None):
        shipments = selectors.unreceived_shipments_of(po)
        form.fields["note"].label = f"Note to {po.supplier.name} (they see it with the receipt)"
        return render(
            self.request,
            self.template_name,
            {
                "po": po,
                "form": form,
                "shipment": shipment,
                "shipments": shipments,
                "shipment_value": shipment_value
                if shipment_value is not None
                else (shipment.pk if shipment else "none"),
                "rows": rows,
                "error": error,
                "tolerance": tolerances_for(
                    customer_id=po.customer_id, supplier_id=po.supplier_id
                ).over_receipt_percent,
            },
            status=status,
        )

    def get(self, request, org_slug, number):
        po = self.get_po()
        try:
            require_receivable(po)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect(self.done_url())
        wanted = request.GET.get("shipment", "")  # none: goods without one; blank: the oldest on its way
        shipment = None if wanted == "none" else selectors.unreceived_shipment(po, wanted or None)
        form = ReceiptForm(initial={"received_on": timezone.localdate()})
        return self.show(po, form, shipment, self.rows(po, shipment))

    def post(self, request, org_slug, number):
        po = self.get_po()
        raw_shipment = request.POST.get("shipment", "")
        shipment = None if raw_shipment in ("", "none") else selectors.unreceived_shipment(po, raw_shipment)
        form = ReceiptForm(request.POST)
        posted = {
            line.pk: {name: request.POST.get(f"line-{line.pk}-{name}", "").strip() for name in self.FIELDS}
            for line in selectors.lines_of(po, coding=False)
        }
        if raw_shipment not in ("", "none") and shipment is None:
            # Received meanwhile (or not this order's): keep what was typed, record nothing, and
            # keep the choice so that submitting again cannot count the goods a second time.
            form.is_valid()
            error = DomainError(
                "That shipment has been received already (see the order), or is not one of this order's. "
                "Choose another shipment, or none.",
                field="shipment",
            )
            rows = self.rows(po, None, posted)
            return self.show(po, form, None, rows, error=error, status=400, shipment_value=raw_shipment)
        if not form.is_valid():
            return self.show(po, form, shipment, self.rows(po, shipment, posted), status=400)
        try:
            receipt = record_receipt(po=po, by=self.membership, lines=posted, shipment=shipment, **form.cleaned_data)
        except DomainError as exc:
            if exc.field in form.fields:
                add_domain_error(form, exc)
            return self.show(po, form, shipment, self.rows(po, shipment, posted, exc.field), error=exc, status=400)
        po.refresh_from_db(fields=["status", "receipt_status"])
        done = {
            "closed": "everything is received: the order is complete",
            "partially_received": "the order is partially received",
        }
        messages.success(
            request, f"Receipt {receipt.number} recorded; {done.get(po.status, 'nothing is counted as received yet')}."
        )
        return redirect(self.done_url())
