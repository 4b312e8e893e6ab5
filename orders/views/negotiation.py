"""The supplier's answer: saving the proposal, accepting or declining the sales order."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from procurement.errors import DomainError
from procurement.forms import add_domain_error
from procurement.views import PostOnlyView

from ..forms import AddedRowsForm, ProposalHeaderForm, ReasonForm
from ..services.negotiation import accept_sales_order, accept_with_proposal, decline_sales_order, save_proposal
from .common import SalesOrderMixin
from .sales_orders import SalesOrderDetailView


class ProposalSaveView(SalesOrderMixin, PostOnlyView):
    """Saves the supplier's adjustments (and, with ``accept`` in the POST, accepts the order in
    the same transaction).
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
        service = accept_with_proposal if "accept" in request.POST else save_proposal
        try:
            service(so=so, by=self.membership, header=header_form.cleaned_data, lines=posted, added=added)
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
