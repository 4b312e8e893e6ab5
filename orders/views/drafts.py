"""Editing a draft purchase order: its header and lines, lines pasted from a spreadsheet, the line
preview and the listing picker; and *Order again*, which copies any order into a new draft."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import format_html

from accounts.selectors import locations_of
from procurement.errors import DomainError
from procurement.forms import add_domain_error
from procurement.money import MoneyError, format_money, parse_price
from procurement.views import OrgView, PostOnlyView

from .. import rules, selectors
from ..forms import DraftHeaderForm, LinePreviewForm, ListingPickerForm
from ..paste import RowProblem, column_of, problem_of
from ..pricing import unit_price
from ..services.drafts import (
    LinesRefused,
    add_line,
    add_lines,
    line_problems,
    order_again,
    remove_line,
    update_line,
    update_purchase_order,
)
from ..totals import line_amounts, tax_rate_problem
from ..units import quantity_error
from .common import PurchaseOrderMixin
from .purchase_orders import PurchaseOrderDetailView


class PurchaseOrderEditView(PurchaseOrderMixin, PostOnlyView):
    """Saves a draft's header (POST from the order page)."""

    permission = "orders.change_purchaseorder"
    get_object = PurchaseOrderMixin.get_po

    def post(self, request, org_slug, number):
        po = self.get_po()
        form = DraftHeaderForm(
            request.POST,
            connections=None,
            locations=locations_of(self.org),
            locked_currency=po.currency if po.lines.exists() else None,
        )
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

    def post(self, request, org_slug, number, pk=None):
        po, line = self.get_object()
        form = self.line_form(po, request.POST)
        if form.is_valid():
            try:
                if line is None:
                    add_line(by=self.membership, po=po, values=form.line_input())
                else:
                    update_line(by=self.membership, po=po, line=line, values=form.line_input())
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, "Line added." if line is None else f"Line {line.position} saved.")
                return redirect(self.done_url())
        detail = PurchaseOrderDetailView(request=request, kwargs=self.kwargs, org=self.org, membership=self.membership)
        return detail.show(po, line_form=form, editing=line, status=200 if request.htmx else 400)


class PasteLinesView(PurchaseOrderMixin, PostOnlyView):
    """*Paste lines*: rows from a spreadsheet added to a draft, all or none. Every row is read
    like one line and checked by the service; the problems are listed by row and column next to
    the box, which keeps the pasted text for correcting."""

    permission = "orders.change_purchaseorder"
    get_object = PurchaseOrderMixin.get_po

    def post(self, request, org_slug, number):
        po = self.get_po()
        refused = rules.refusal("edit", po=po, membership=self.membership)
        if refused:
            messages.error(request, refused)
            return redirect(self.done_url())
        form = self.paste_form(po, request.POST)
        problems: list[RowProblem] = []
        if form.is_valid():
            read, problems = form.lines()
            rows, lines = [number for number, _ in read], [values for _, values in read]
            if problems:  # the rows that could be read are checked too: every problem at once
                problems += [problem_of(error, rows) for error in line_problems(po=po, lines=lines)]
                problems.sort(key=lambda problem: problem.row)
            else:
                try:
                    added = add_lines(by=self.membership, po=po, lines=lines)
                except LinesRefused as exc:
                    problems = [problem_of(error, rows) for error in exc.errors]
                except DomainError as exc:
                    if len(lines) == 1 and exc.field:
                        problems = [RowProblem(rows[0], column_of(exc.field), exc.message)]
                    else:
                        form.add_error(None, exc.message)
                else:
                    count = len(added)
                    messages.success(request, f"{count} line{'s' if count != 1 else ''} added from the pasted rows.")
                    return redirect(self.done_url())
        if problems:
            count = len(problems)
            form.add_error(
                "text",
                f"Nothing was added: {count} problem{'s' if count != 1 else ''} (below). "
                "Correct the rows and add them again.",
            )
        detail = PurchaseOrderDetailView(request=request, kwargs=self.kwargs, org=self.org, membership=self.membership)
        return detail.show(po, paste_form=form, paste_problems=problems, status=400)


class OrderAgainView(PurchaseOrderMixin, PostOnlyView):
    """*Order again*: a new draft with this order's lines at today's prices (POST only)."""

    permission = "orders.add_purchaseorder"
    get_object = PurchaseOrderMixin.get_po

    def post(self, request, org_slug, number):
        po = self.get_po()
        try:
            result = order_again(by=self.membership, po=po)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect(self.done_url())
        new = result.po
        messages.success(
            request, f"Draft {new.number} created from {po.number} at today's prices: check it, then submit it."
        )
        if result.left_out:
            messages.warning(request, f"Not copied from {po.number}: {'; '.join(result.left_out)}.")
        return redirect(self.org_url("orders:po-detail", number=new.number))


class LineRemoveView(PurchaseOrderMixin, PostOnlyView):
    permission = "orders.change_purchaseorder"

    def get_object(self):
        po = self.get_po()
        return po, get_object_or_404(po.lines, pk=self.kwargs["pk"])

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
            quantity = data["quantity"] or Decimal(0)
            if listing:
                price = unit_price(listing, quantity=quantity, customer_id=po.customer_id)
            else:
                price = parse_price(data["unit_price"] or Decimal(0), po.currency)  # within the currency's decimals
            rate = data["tax_rate"] or Decimal(0)
            unit = listing.unit if listing else data["unit"] or "ea"
            if quantity_error(quantity, unit) or tax_rate_problem(rate):
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
        listings = selectors.picker_listings(po, data["q"])
        return render(
            request, "orders/_listing_picker.html", {"po": po, "listings": listings, "selected": data["listing"]}
        )
