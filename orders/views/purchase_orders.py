"""The customer's purchase orders: the list, a new draft, the order page, its actions and sharing."""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.shortcuts import redirect, render

from accounts.permissions import can
from accounts.selectors import locations_of, member_for, members_of, suppliers_of
from procurement.errors import DomainError
from procurement.forms import add_domain_error
from procurement.lists import FilteredListView, apply_filters
from procurement.money import money_input, round_money
from procurement.validators import parse_integer
from procurement.views import OrgView, PostOnlyView

from .. import interfaces, rules, selectors
from ..forms import DraftHeaderForm, OrderFilterForm, PurchaseOrderForm
from ..models import PurchaseOrder
from ..services.drafts import create_purchase_order
from ..services.negotiation import SentForReapproval, confirm_purchase_order, request_changes
from ..services.sharing import share_purchase_order, unshare_purchase_order
from ..services.submission import PendingApproval, cancel_purchase_order, revise_purchase_order, submit_purchase_order
from .common import PurchaseOrderMixin, _amendments, _fulfilment, _open_returns, _redline


class PurchaseOrderListView(FilteredListView):
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
            statuses=[
                *PurchaseOrder.Status.choices,
                (selectors.CONFIRMED_AND_LATER, "Confirmed and later"),
                (selectors.RETURN_TO_SHIP, "Return to ship back"),
                (selectors.RETURN_ON_ITS_WAY, "Return on its way back"),
            ],
            counterparties=suppliers_of(self.org)
            .exclude(supplier=None)
            .order_by("supplier__name")
            .values_list("supplier_id", "supplier__name"),
            counterparty_label="Supplier",
            receipt_statuses=PurchaseOrder.ReceiptStatus.choices,
        )

    def search(self, form):
        visible = selectors.visible_purchase_orders(self.membership)
        return apply_filters(form, partial(selectors.search_purchase_orders, visible), counterparty="supplier")

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

    def show(
        self,
        po,
        *,
        header_form=None,
        line_form=None,
        editing=None,
        thread_post=None,
        paste_form=None,
        paste_problems=(),
        status=200,
    ):
        lines = selectors.lines_of(po)
        amendments = _amendments(po, "purchase-orders", self.membership)
        approval_requests = interfaces.approvals().requests_for_page(po=po, membership=self.membership)
        actions = rules.po_actions(
            po,
            self.membership,
            lines=lines,
            open_amendment=amendments["open_amendment"],
            approval_requests=approval_requests,
        )
        editable = "edit" in actions
        revisions = [] if po.is_draft else selectors.latest_revisions_of(po)
        reapproving = any(r.kind == "reapproval" and r.status == "pending" for r in approval_requests)
        redline, header_changes = _redline(revisions)
        if editable and header_form is None:
            header_form = DraftHeaderForm(
                connections=None,
                locations=locations_of(self.org),
                locked_currency=po.currency if lines else None,
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
        defaults = {"cost_center": self.default_cost_center(lines), "tax_rate": "0"} if editable else {}
        if editable and line_form is None:
            if editing is not None:
                line_form = self.line_form(po, initial=_line_initial(editing, po.currency))
            else:
                line_form = self.line_form(po, initial=defaults)
        if editable and paste_form is None:
            paste_form = self.paste_form(po, initial=defaults)
        if editable:  # both forms choose among the same cost centers: read them once
            choices = [choice for choice in line_form.fields["cost_center"].choices if choice[0] != ""]
            line_form.fields["cost_center"].choices = [("", line_form.fields["cost_center"].empty_label), *choices]
            paste_form.fields["cost_center"].choices = [("", paste_form.fields["cost_center"].empty_label), *choices]
        context = {
            "po": po,
            "so": getattr(po, "sales_order", None),
            "paste_form": paste_form,
            "paste_problems": paste_problems,
            "lines": lines,
            "editable": editable,
            "header_form": header_form,
            "line_form": line_form,
            "editing": editing,
            "no_cost_centers": getattr(self, "first_cost_centers", None) == [],
            "listings": selectors.picker_listings(po) if editable and editing is None else [],
            "redline": redline,
            "header_changes": header_changes,
            "previous": revisions[-2] if len(revisions) > 1 else None,
            "thread": selectors.thread_of(po),
            "notes": selectors.internal_notes_of(po, self.org),
            "actions": actions,
            "open_returns": _open_returns(po, lines),
            **_fulfilment(po, "customer", self.membership),
            "approval_requests": approval_requests,
            "reapproving": reapproving,
            **amendments,
            "thread_post": thread_post or {},
            **self.sharing(po),
        }
        return render(self.request, "orders/po_detail.html", context, status=status)


def _line_initial(line, currency: str) -> dict:
    return {
        "listing": line.listing_id,
        "sku": line.sku,
        "description": line.description,
        "quantity": f"{line.quantity.normalize():f}",
        "unit": line.unit,
        "unit_price": money_input(line.unit_price, currency),
        "tax_rate": f"{line.tax_rate.normalize():f}",
        "cost_center": line.cost_center_id,
        "gl_account": line.gl_account_id,
        "fund": line.fund,
        "department": line.department,
        "program": line.program,
        "requested_date": line.requested_date,
    }


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

    def get(self, request, org_slug, number):
        po = self.get_po()
        if self.form_class is None:
            return redirect(self.done_url())
        refused = rules.refusal(self.action, po=po, membership=self.membership)
        if refused:
            messages.error(request, refused)
            return redirect(self.done_url())
        return render(request, "orders/po_action.html", {"po": po, "form": self.form_class(), "action": self.action})

    def post(self, request, org_slug, number):
        po = self.get_po()
        form = self.form_class(request.POST) if self.form_class else None
        if form is not None and not form.is_valid():
            return render(request, "orders/po_action.html", {"po": po, "form": form, "action": self.action})
        result = None
        try:
            if self.action == "revise":
                po = revise_purchase_order(po=po, by=self.membership)
            elif self.action == "submit":
                result = submit_purchase_order(po=po, by=self.membership)
            elif self.action == "confirm":
                result = confirm_purchase_order(po=po, by=self.membership)
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
        if isinstance(result, PendingApproval):
            names = ", ".join(result.approvers)
            messages.info(
                request, f"{po.number} is submitted for approval: {names} will decide (step “{result.step}”)."
            )
            return redirect(self.done_url())
        if isinstance(result, SentForReapproval):
            messages.info(
                request,
                f"{po.number} needs approval again before it is confirmed: it went to the approvers, "
                "and it is confirmed as soon as they approve.",
            )
            return redirect(self.done_url())
        messages.success(request, f"{po.number} is {self.done[self.action]}.")
        return redirect(self.done_url())


class PurchaseOrderShareView(PurchaseOrderMixin, PostOnlyView):
    """An admin shares one PO with a colleague whose roles do not show POs (or stops sharing)."""

    permission = "accounts.manage_members"
    share = True
    get_object = PurchaseOrderMixin.get_po

    def done_url(self):
        return super().done_url() + "#sharing"

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
