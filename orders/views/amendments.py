"""Amendments: the tab of both order pages, asking for one, withdrawing, accepting and declining."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from procurement.errors import DomainError
from procurement.forms import add_domain_error
from procurement.views import OrgView, PostOnlyView

from .. import rules, selectors
from ..forms import AmendmentLinesForm, ReasonForm
from ..models import Amendment
from ..services.amendments import accept_amendment, decline_amendment, request_amendment, withdraw_amendment
from .common import PurchaseOrderMixin, SalesOrderMixin, _order_of_side


class AmendmentsView(OrgView):
    """The *Amendments* tab of both order pages: every amendment, what it changed and who answered."""

    def get(self, request, org_slug, side, number):
        po = _order_of_side(self.membership, side, number)
        amendments = selectors.amendments_of(po, supplier=side == "sales-orders")
        context = {"po": po, "side": side, "number": number, "amendments": amendments, "tab": "amendments"}
        return render(request, "orders/amendments.html", context)


class AmendmentCreateView(PurchaseOrderMixin, OrgView):
    """*Amend order*: new, higher quantities or lines to cancel, and the reason (SPEC §4)."""

    permission = "orders.add_amendment"

    def get(self, request, org_slug, number):
        po = self.get_po()
        lines = selectors.lines_of(po, coding=False)
        refused = rules.refusal("amend", po=po, membership=self.membership, lines=lines)
        if refused:
            messages.error(request, refused)
            return redirect(self.done_url())
        return self.show(po, ReasonForm(), lines=lines)

    def post(self, request, org_slug, number):
        po = self.get_po()
        form = ReasonForm(request.POST)
        lines = AmendmentLinesForm(request.POST, lines=selectors.lines_of(po, coding=False))
        typed = lines.typed()
        posted = (
            {pk: row["quantity"] for pk, row in typed.items()},
            {pk for pk, row in typed.items() if row["cancel"]},
        )
        error = marked = None
        if form.is_valid() and not lines.is_valid():
            error, marked = lines.refusal()
        elif form.is_valid():
            try:
                amendment = request_amendment(
                    po=po,
                    by=self.membership,
                    reason=form.cleaned_data["reason"],
                    quantities=lines.quantities(),
                    cancel=lines.cancel(),
                )
            except DomainError as exc:
                if exc.field == "reason":
                    add_domain_error(form, exc)
                else:
                    error = exc
                    marked = lines.input_name(exc.line, exc.field) if exc.line is not None else None
            else:
                approving = amendment.status == Amendment.Status.PENDING_APPROVAL
                waits = "internal approval" if approving else po.supplier.name
                messages.success(request, f"Amendment {amendment.number} is asked; it waits for {waits}.")
                return redirect(self.done_url() + "#amendment")
        return self.show(po, form, lines=lines.lines, posted=posted, error=error, marked=marked, status=400)

    def show(self, po, form, *, lines=None, posted=None, error=None, marked=None, status=200):
        """``marked``: the input ``error`` is about (``line-<id>-quantity`` or ``-cancel``)."""
        quantities, cancel = posted or ({}, set())
        rows = []
        for line in selectors.lines_of(po, coding=False) if lines is None else lines:
            why = ""
            if line.is_void:
                why = line.get_status_display()
            elif not rules.amendable(line):
                why = "Has receipts"
            rows.append(
                {
                    "line": line,
                    "why": why,
                    "quantity": quantities.get(line.pk, ""),
                    "cancel": line.pk in cancel,
                    "quantity_error": error.message if marked == f"line-{line.pk}-quantity" else "",
                    "cancel_error": error.message if marked == f"line-{line.pk}-cancel" else "",
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

    def post(self, request, org_slug, number, amendment):
        amendment = self.get_object()
        try:
            withdraw_amendment(amendment=amendment, by=self.membership)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Amendment {amendment.number} is withdrawn; the order stays as it was.")
        return redirect(self.done_url())


class AmendmentAnswerMixin(SalesOrderMixin):
    permission = "orders.accept_amendment"

    def get_object(self):
        return selectors.amendment_for(self.get_so().purchase_order, number=self.kwargs["amendment"])


class AmendmentAcceptView(AmendmentAnswerMixin, PostOnlyView):
    def post(self, request, org_slug, number, amendment):
        amendment = self.get_object()
        try:
            accepted = accept_amendment(amendment=amendment, by=self.membership)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                f"Amendment {accepted.number} is accepted: the order is revision {accepted.revision_number}, "
                "and the invoice follows.",
            )
        return redirect(self.done_url())


class AmendmentDeclineView(AmendmentAnswerMixin, PostOnlyView):
    def get(self, request, org_slug, number, amendment):
        amendment = self.get_object()
        po = self.get_so().purchase_order
        if "decline_amendment" not in rules.amendment_actions(amendment, po=po, membership=self.membership):
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
