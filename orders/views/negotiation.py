"""The supplier's answer: saving the proposal, accepting or declining the sales order."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from procurement.errors import DomainError
from procurement.forms import add_domain_error
from procurement.views import PostOnlyView

from ..forms import AddedLineForm, AddedRowsForm, ProposalHeaderForm, ProposalLineForm, ReasonForm
from ..services.negotiation import accept_sales_order, accept_with_proposal, decline_sales_order, save_proposal
from .common import SalesOrderMixin
from .sales_orders import SalesOrderDetailView


class ProposalSaveView(SalesOrderMixin, PostOnlyView):
    """Saves the supplier's adjustments (and, with ``accept`` in the POST, accepts the order in
    the same transaction).
    A refusal names the line and marks its input; everything typed is kept."""

    permission = "orders.change_salesorder"
    get_object = SalesOrderMixin.get_so

    def post(self, request, org_slug, number):
        so = self.get_so()
        header_form = ProposalHeaderForm(request.POST)
        rows_form = AddedRowsForm(request.POST)
        po_lines = list(so.purchase_order.lines.all())
        line_forms = {line.pk: ProposalLineForm(request.POST, prefix=f"line-{line.pk}") for line in po_lines}
        count = rows_form.count() if rows_form.is_valid() else 0
        rows = [AddedLineForm(request.POST, prefix=f"add-{i}") for i in range(count)]
        added_forms = [form for form in rows if not form.is_blank()]
        posted = {pk: _typed(form) for pk, form in line_forms.items()}
        added = [_typed(form) for form in added_forms]

        def again(error, marked=None):
            detail = SalesOrderDetailView(request=request, kwargs=self.kwargs, org=self.org, membership=self.membership)
            return detail.show(
                so,
                header_form=header_form,
                posted=posted,
                posted_added=added,
                error=error,
                marked=marked,
                status=400,
            )

        if not rows_form.is_valid():  # the hidden count was tampered with: read no row rather than guess
            return again(DomainError("The added lines could not be read: add them again."))
        if len(added) > AddedRowsForm.MAX_ADDED:
            return again(DomainError(f"At most {AddedRowsForm.MAX_ADDED} lines can be added to an order."))
        if not header_form.is_valid():
            return again(None)
        for line in po_lines:
            form = line_forms[line.pk]
            if not form.is_valid():
                return again(*_first_error(form, f"Line {line.position}"))
        for i, form in enumerate(added_forms):
            if not form.is_valid():  # the page shows the added rows again without the blank ones
                return again(*_first_error(form, f"Added line {i + 1}", prefix=f"add-{i}"))
        service = accept_with_proposal if "accept" in request.POST else save_proposal
        try:
            service(
                so=so,
                by=self.membership,
                header=header_form.header(),
                lines={pk: form.line_input() for pk, form in line_forms.items()},
                added=[form.line_input() for form in added_forms],
            )
        except DomainError as exc:
            if exc.line is None and exc.field in header_form.fields:
                header_form.add_error(exc.field, exc.message)
            return again(exc, _input_name(exc, line_forms, added_forms))
        messages.success(
            request,
            f"{so.number} accepted: the customer sees your revision now."
            if "accept" in request.POST
            else "Your changes are saved; the customer sees them once you accept the order.",
        )
        return redirect(self.done_url())


def _typed(form) -> dict:
    """What was typed in a row of the supplier's form, to show it again."""
    return {name: form[name].value() or "" for name in form.fields}


def _first_error(form, which: str, *, prefix: str | None = None) -> tuple[DomainError, str]:
    """A row's first input that could not be read: the refusal, and the input to mark (in the
    row as the page shows it again: ``prefix``, else the form's own)."""
    name, errors = next(iter(form.errors.items()))
    return DomainError(f"{which}: {errors[0]}"), f"{prefix}-{name}" if prefix else form.add_prefix(name)


def _input_name(exc: DomainError, line_forms: dict, added_forms: list) -> str | None:
    """The input a service's refusal of a line belongs to (``exc.line``: a line id, or
    ``("added", i)``)."""
    if isinstance(exc.line, tuple):  # the i-th added row, as the page shows them again (blank rows left out)
        form, name = added_forms[exc.line[1]], f"add-{exc.line[1]}-{exc.field}"
    else:
        form = line_forms.get(exc.line)
        name = form.add_prefix(exc.field) if form is not None else None
    return name if form is not None and exc.field in form.fields else None


class SalesOrderAcceptView(SalesOrderMixin, PostOnlyView):
    permission = "orders.accept_salesorder"
    get_object = SalesOrderMixin.get_so

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
