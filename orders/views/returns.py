"""Returns: the tab of both order pages, and the steps of a return on each side (SPEC §6).

The customer requests a return (``ReturnRequestCreateView``), may withdraw it before it is
answered, and ships it back once authorized; the supplier authorizes it (an RMA number) or
declines it, and records what arrived back. Both sides open its attachments. Each step asks
``orders.rules`` first (a refusal goes back to the Returns tab with its sentence) and calls one
service; a refusal of what was typed is shown next to the field, everything typed kept."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.contrib import messages
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from procurement.errors import DomainError
from procurement.forms import add_domain_error
from procurement.views import OrgView, PostOnlyView

from .. import interfaces, rules, selectors
from ..models import ReturnRequest
from ..returns_forms import (
    AcceptReturnForm,
    ArrivalLinesForm,
    DeclineReturnForm,
    ReceiveReturnForm,
    ReturnLinesForm,
    ReturnRequestForm,
    ShipReturnForm,
)
from ..services.returns import (
    accept_return,
    decline_return,
    receive_return,
    request_return,
    return_line_problems,
    ship_return,
    withdraw_return,
)
from .common import PurchaseOrderMixin, SalesOrderMixin, _order_of_side, _plain


def _progress(returns: list[ReturnRequest]) -> list[dict]:
    """Per order line that any return asks back, across the order's returns: how much is asked
    back, on its way, received back, and credited or to ship again. From the returns' lines as
    read (each brings its order line): no query."""
    lines, on_its_way = {}, defaultdict(Decimal)
    for return_request in returns:
        for row in return_request.lines.all():
            lines.setdefault(row.po_line_id, row.po_line)
            if return_request.status == ReturnRequest.Status.SHIPPED:
                on_its_way[row.po_line_id] += row.quantity
    return [
        {"line": line, "on_its_way": on_its_way[pk]}
        for pk, line in sorted(lines.items(), key=lambda item: item[1].position)
        if line.quantity_returned or line.quantity_received_back
    ]


class ReturnsView(OrgView):
    """The *Returns* tab of both order pages: every return of the order's goods, its progress per
    line (asked, arrived back, credited or to ship again), the credit or debit note it brought,
    and what the member may do with each now."""

    def get(self, request, org_slug, side, number):
        po = _order_of_side(self.membership, side, number)
        customer = side == "purchase-orders"
        returns = selectors.returns_of(po)
        notes = interfaces.billing().return_notes(po=po, side="customer" if customer else "supplier") if returns else {}
        for return_request in returns:
            return_request.actions = rules.return_actions(return_request, po=po, membership=self.membership)
            return_request.note = notes.get(return_request.pk)
        context = {
            "po": po,
            "side": side,
            "number": number,
            "returns": returns,
            "progress": _progress(returns),
            "tab": "returns",
            "may_request": customer and rules.refusal("request_return", po=po, membership=self.membership) is None,
        }
        return render(request, "orders/returns.html", context)


class ReturnAttachmentView(OrgView):
    """A photo or document of a return, to both sides of the order (as a download, under the
    name it was sent with)."""

    def get(self, request, org_slug, side, number, return_number, pk):
        po = _order_of_side(self.membership, side, number)
        attachment = selectors.return_attachment_for(selectors.return_for(po, number=return_number), pk=pk)
        return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name)


class ReturnRequestCreateView(PurchaseOrderMixin, OrgView):
    """*Request a return*: per received line the quantity to send back (up to what may still go
    back), why, a credit or a replacement, and photos."""

    permission = "orders.add_returnrequest"
    template_name = "orders/return_new.html"

    def done_url(self, anchor: str = "") -> str:
        return self.org_url("orders:returns", side="purchase-orders", number=self.kwargs["number"]) + anchor

    def get(self, request, org_slug, number):
        po = self.get_po()
        lines = selectors.lines_of(po, coding=False)
        refused = rules.refusal("request_return", po=po, membership=self.membership, lines=lines)
        if refused:
            messages.error(request, refused)
            return redirect(self.done_url())
        return self.show(po, lines, ReturnRequestForm())

    def post(self, request, org_slug, number):
        po = self.get_po()
        lines = selectors.lines_of(po, coding=False)
        refused = rules.refusal("request_return", po=po, membership=self.membership, lines=lines)
        if refused:
            messages.error(request, refused)
            return redirect(self.done_url())
        form = ReturnRequestForm(request.POST, request.FILES)
        returnable = [line for line in lines if line.returnable > 0]
        rows = ReturnLinesForm(request.POST, lines=returnable)
        posted = {pk: values["quantity"] for pk, values in rows.typed().items()}
        line_errors = self.line_errors(rows, returnable)
        error = marked = None
        if form.is_valid() and not line_errors:
            data = form.cleaned_data
            try:
                return_request = request_return(
                    po=po,
                    by=self.membership,
                    lines=rows.quantities(),
                    reason=data["reason"],
                    resolution=data["resolution"],
                    reason_text=data["reason_text"],
                    attachments=data["attachments"],
                )
            except DomainError as exc:
                if exc.line is None and exc.field in form.fields:
                    add_domain_error(form, exc)
                else:
                    error = exc
                    marked = rows.input_name(exc.line, exc.field) if exc.line is not None else None
            else:
                messages.success(
                    request,
                    f"{return_request.label} is requested for {return_request.get_resolution_display().lower()}; "
                    f"it waits for {po.supplier.name} to authorize it.",
                )
                return redirect(self.done_url(f"#return-{return_request.number}"))
        chosen = [upload.name for upload in request.FILES.getlist("attachments")]
        if error is not None and marked:
            line_errors[marked] = error.message
            error = None
        return self.show(
            po, lines, form, posted=posted, error=error, line_errors=line_errors, chosen=chosen, status=400
        )

    @staticmethod
    def line_errors(rows: ReturnLinesForm, lines) -> dict[str, str]:
        """Every line's problem at once, beside its input: what could not be read, then the
        service's own rule for what was typed (it checks them all again when asked)."""
        errors = {name: " ".join(messages) for name, messages in rows.errors.items()}
        typed = {line.pk: rows.cleaned_data.get(rows.input_name(line.pk, "quantity")) for line in lines}
        unread = [line for line in lines if rows.input_name(line.pk, "quantity") in errors]
        readable = [line for line in lines if line not in unread]
        problems = return_line_problems(readable, typed) if readable and (not unread or any(typed.values())) else {}
        for pk, problem in problems.items():
            errors[rows.input_name(pk, "quantity")] = problem.message
        return errors

    def show(self, po, lines, form, *, posted=None, error=None, line_errors=None, chosen=(), status=200):
        """``line_errors``: the problem beside each input (``line-<id>-quantity``), ``error`` one
        above the form; ``chosen``: the names of the files sent with a form that comes back (a
        browser cannot keep them)."""
        rows = []
        for line in lines:
            if line.is_void or not (line.quantity_received or line.quantity_damaged):
                continue
            name = ReturnLinesForm.input_name(line.pk, "quantity")
            rows.append(
                {
                    "line": line,
                    "left": line.returnable,
                    "name": name,
                    "value": (posted or {}).get(line.pk, ""),
                    "error": (line_errors or {}).get(name, ""),
                }
            )
        marked = any(row["error"] for row in rows)
        context = {
            "po": po,
            "form": form,
            "rows": rows,
            "rows_marked": marked,
            "error": error,  # about no line: above the form
            "chosen": chosen,
        }
        return render(self.request, self.template_name, context, status=status)


class ReturnMixin:
    """A return of the page's order (``return_number``), found through the side's scoped
    selector; its steps go back to the order's Returns tab."""

    side = ""
    action = ""  # the step, as ``rules.return_actions`` names it

    def get_object(self):
        return selectors.return_for(self.get_order(), number=self.kwargs["return_number"])

    def done_url(self):
        tab = self.org_url("orders:returns", side=self.side, number=self.kwargs["number"])
        return f"{tab}#return-{self.kwargs['return_number']}"

    def refused(self, po, return_request):
        """Back to the Returns tab, saying why, when the rules refuse the step now (else None)."""
        refusal = rules.return_refusal(self.action, return_request=return_request, po=po, membership=self.membership)
        if refusal:
            messages.error(self.request, refusal)
            return redirect(self.done_url())
        return None


class CustomerReturnMixin(ReturnMixin, PurchaseOrderMixin):
    """The customer's steps: its purchase order, for the roles that return goods."""

    side = "purchase-orders"
    permission = "orders.add_returnrequest"

    def get_order(self):
        return self.get_po()


class SupplierReturnMixin(ReturnMixin, SalesOrderMixin):
    """The supplier's steps: the order behind its sales order."""

    side = "sales-orders"

    def get_order(self):
        return self.get_so().purchase_order


class ReturnStepView(OrgView):
    """A step of a return with a short form: its page (GET) and the form posted from it. A
    step the rules refuse now goes back to the Returns tab, saying why. Each step's ``act``
    calls its service with the form's values and says what happened."""

    form_class = None
    template_name = ""

    def initial(self) -> dict:
        return {}

    def get(self, request, org_slug, number, return_number):
        po = self.get_order()
        return_request = selectors.return_for(po, number=return_number)
        if refused := self.refused(po, return_request):
            return refused
        return self.show(po, return_request, self.form_class(initial=self.initial()))

    def post(self, request, org_slug, number, return_number):
        po = self.get_order()
        return_request = selectors.return_for(po, number=return_number)
        if refused := self.refused(po, return_request):
            return refused
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                done = self.act(po, return_request, form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, done)
                return redirect(self.done_url())
        return self.show(po, return_request, form, status=400)

    def show(self, po, return_request, form, status=200):
        context = {
            "po": po,
            "side": self.side,
            "number": self.kwargs["number"],
            "return_request": return_request,
            "form": form,
        }
        return render(self.request, self.template_name, context, status=status)


class ReturnWithdrawView(CustomerReturnMixin, PostOnlyView):
    """The customer takes back a return the supplier has not answered (a button on the tab)."""

    def post(self, request, org_slug, number, return_number):
        return_request = self.get_object()
        try:
            withdraw_return(return_request=return_request, by=self.membership)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{return_request.label} is withdrawn; the goods stay with you.")
        return redirect(self.done_url())


class ReturnShipView(CustomerReturnMixin, ReturnStepView):
    """The customer records the authorized goods sent back: date, carrier, tracking number."""

    action = "ship_return"
    form_class = ShipReturnForm
    template_name = "orders/return_ship.html"

    def initial(self) -> dict:
        return {"shipped_on": timezone.localdate()}

    def act(self, po, return_request, data):
        shipped = ship_return(return_request=return_request, by=self.membership, **data)
        return f"{shipped.label} is recorded as shipped back; {po.supplier.name} has been told."


class ReturnAcceptView(SupplierReturnMixin, ReturnStepView):
    """The supplier authorizes a return: an RMA number from its own sequence, and instructions."""

    permission = "orders.answer_returnrequest"
    action = "accept_return"
    form_class = AcceptReturnForm
    template_name = "orders/return_accept.html"

    def act(self, po, return_request, data):
        accepted = accept_return(return_request=return_request, by=self.membership, **data)
        return (
            f"Return {accepted.number} authorized as {accepted.rma_number}; "
            f"{po.customer.name} has been told how to send it back."
        )


class ReturnDeclineView(SupplierReturnMixin, ReturnStepView):
    """The supplier declines a return, saying why."""

    permission = "orders.answer_returnrequest"
    action = "decline_return"
    form_class = DeclineReturnForm
    template_name = "orders/return_decline.html"

    def act(self, po, return_request, data):
        declined = decline_return(return_request=return_request, by=self.membership, **data)
        return f"{declined.label} is declined; {po.customer.name} has been told why."


class ReturnReceiveView(SupplierReturnMixin, OrgView):
    """*Record arrival*: what arrived back of each line of the return (the quantity sent back
    is proposed) and in what condition. A refusal marks the line it is about, everything typed
    kept."""

    permission = "orders.receive_returnrequest"
    action = "receive_return"
    template_name = "orders/return_receive.html"
    FIELDS = ("quantity", "condition")

    def rows(self, return_request, posted=None, marked=None, error=None):
        rows = []
        for row in return_request.lines.all():
            line = row.po_line
            values = posted.get(line.pk, {}) if posted is not None else {"quantity": _plain(row.quantity)}
            inputs = {}
            for name in self.FIELDS:
                input_name = ArrivalLinesForm.input_name(line.pk, name)
                inputs[name] = {
                    "name": input_name,
                    "value": values.get(name, ""),
                    "error": error.message if error is not None and marked == input_name else "",
                }
            rows.append({"line": line, "row": row, "inputs": inputs})
        return rows

    def show(self, po, return_request, form, rows, error=None, status=200):
        marked = any(row["inputs"][name]["error"] for row in rows for name in self.FIELDS)
        context = {
            "po": po,
            "side": self.side,
            "number": self.kwargs["number"],
            "return_request": return_request,
            "form": form,
            "rows": rows,
            "conditions": ArrivalLinesForm.ROW_FIELDS["condition"].choices,
            "error": error if error is not None and not marked and error.field not in form.fields else None,
            "marked": marked,
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request, org_slug, number, return_number):
        po = self.get_order()
        return_request = selectors.return_for(po, number=return_number)
        if refused := self.refused(po, return_request):
            return refused
        form = ReceiveReturnForm(initial={"received_on": timezone.localdate()})
        return self.show(po, return_request, form, self.rows(return_request))

    def post(self, request, org_slug, number, return_number):
        po = self.get_order()
        return_request = selectors.return_for(po, number=return_number)
        if refused := self.refused(po, return_request):
            return refused
        form = ReceiveReturnForm(request.POST)
        lines = ArrivalLinesForm(request.POST, lines=[row.po_line for row in return_request.lines.all()])
        posted = lines.typed()
        if not form.is_valid():
            return self.show(po, return_request, form, self.rows(return_request, posted), status=400)
        if not lines.is_valid():
            error, marked = lines.refusal()
            rows = self.rows(return_request, posted, marked, error)
            return self.show(po, return_request, form, rows, error=error, status=400)
        try:
            arrived = receive_return(
                return_request=return_request, by=self.membership, lines=lines.arrived(), **form.cleaned_data
            )
        except DomainError as exc:
            if exc.line is None and exc.field in form.fields:
                add_domain_error(form, exc)
            marked = lines.input_name(exc.line, exc.field) if exc.line is not None else None
            rows = self.rows(return_request, posted, marked, exc)
            return self.show(po, return_request, form, rows, error=exc, status=400)
        received = arrived.return_request
        if not received.for_credit:
            then = f"the replacement is on {po.sales_order.number} to ship."
        elif arrived.credited:
            then = "a credit note follows."
        else:
            then = "nothing is left to credit (the units were surplus)."
        messages.success(request, f"{received.label} is received back; {then}")
        return redirect(self.done_url())
