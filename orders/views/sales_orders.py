"""The supplier's sales orders: the list and the order page (with the proposal form)."""

from __future__ import annotations

from functools import partial

from django.shortcuts import render

from accounts.selectors import customers_of
from procurement.lists import FilteredListView, apply_filters
from procurement.money import money_input, round_money
from procurement.views import OrgView

from .. import rules, selectors
from ..forms import OrderFilterForm, ProposalHeaderForm
from ..models import OrderEvent, ProposalLine, SalesOrder
from ..services.negotiation import PROPOSAL_HEADER_FIELDS
from ..units import UNITS
from .common import SalesOrderMixin, _amendments, _fulfilment, _open_returns, _plain, _redline


class SalesOrderListView(FilteredListView):
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
            statuses=[
                *SalesOrder.Status.choices,
                (selectors.CONFIRMED_AND_LATER, "Confirmed and later"),
                (selectors.AMENDMENT_TO_ANSWER, "Amendment to answer"),
                (selectors.RETURN_TO_ANSWER, "Return to answer"),
                (selectors.RETURN_ON_ITS_WAY, "Return on its way back"),
            ],
            counterparties=customers_of(self.org)
            .order_by("customer__name")
            .values_list("customer_id", "customer__name"),
            counterparty_label="Customer",
        )

    def search(self, form):
        return apply_filters(form, partial(selectors.search_sales_orders, self.org), counterparty="customer")

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
        marked=None,
        thread_post=None,
        status=200,
    ):
        """``marked``: the input of the supplier's form that ``error`` is about."""
        po = so.purchase_order
        lines = selectors.lines_of(po, coding=False)
        proposal = selectors.proposal_of(so)
        actions = rules.so_actions(so, self.membership, lines=lines)
        may_adjust = "adjust" in actions
        by_line = {p.po_line_id: p for p in proposal.lines.all()} if proposal else {}
        rows = [
            {
                "line": line,
                "inputs": _inputs(
                    f"line-{line.pk}",
                    (posted or {}).get(line.pk) or _proposal_values(line, by_line.get(line.pk), po.currency),
                    LINE_INPUTS,
                    marked,
                ),
            }
            for line in lines
        ]
        if posted_added is None:
            added = [p for p in proposal.lines.all() if p.action == "add"] if proposal else []
            posted_added = [_added_values(p, po.currency) for p in added]
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
        thread = selectors.thread_of(po)
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
            "actions": actions,
            "open_returns": _open_returns(po, lines),
            **_fulfilment(po, "supplier", self.membership),
            **dict(zip(("redline", "header_changes"), _redline(revisions), strict=True)),
            "previous": revisions[-2] if len(revisions) > 1 else None,
            "lines": lines,
            "thread": thread,
            "changes_note": next((e.body for e in reversed(thread) if e.kind == OrderEvent.Kind.CHANGES_REQUESTED), ""),
            "notes": selectors.internal_notes_of(po, self.org),
            "line_actions": ProposalLine.Action.choices[:4],
            "units": UNITS,
            **_amendments(po, "sales-orders", self.membership),
        }
        return render(self.request, "orders/so_detail.html", context, status=status)


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


def _proposal_values(line, p, currency: str) -> dict:
    """The supplier form's values for a line: the saved proposal's, else the line as it stands
    (so that saving untouched lines changes nothing — a rejected line stays rejected)."""
    if p is None:
        action = "reject" if line.is_rejected else ("backorder" if line.backorder_quantity else "accept")
        return {
            "action": action,
            "quantity": _plain(line.quantity),
            "unit_price": money_input(line.unit_price, currency),
            "promised_date": line.promised_date or "",
            "backorder_quantity": _plain(line.backorder_quantity),
            "backorder_date": line.backorder_date or "",
            "reject_reason": line.reject_reason,
        }
    return {
        "action": p.action,
        "quantity": _plain(p.quantity if p.quantity is not None else line.quantity),
        "unit_price": money_input(p.unit_price if p.unit_price is not None else line.unit_price, currency),
        "promised_date": p.promised_date or line.promised_date or "",
        "backorder_quantity": _plain(p.backorder_quantity),
        "backorder_date": p.backorder_date or "",
        "reject_reason": p.reject_reason,
    }


def _added_values(p, currency: str) -> dict:
    return {
        "sku": p.sku,
        "description": p.description,
        "quantity": _plain(p.quantity),
        "unit": p.unit,
        "unit_price": money_input(p.unit_price, currency),
        "promised_date": p.promised_date or "",
    }
