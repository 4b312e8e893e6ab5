"""What both order pages share: resolving the order of a page, and the context of its tabs and panels."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from accounts.permissions import can

from .. import interfaces, rules, selectors
from ..forms import LineForm
from ..models import Amendment, PurchaseOrder
from ..paste import PasteLinesForm
from ..revisions import diff_headers, diff_revisions


class PurchaseOrderMixin:
    """Resolves ``number`` to the customer's order (404 for anyone else's)."""

    def get_po(self):
        return selectors.purchase_order_for(customer=self.org, number=self.kwargs["number"])

    def done_url(self):
        """Where an action on the order returns: the order's page."""
        return self.org_url("orders:po-detail", number=self.kwargs["number"])

    def paste_form(self, po, data=None, initial=None):
        return PasteLinesForm(
            data,
            prefix="paste",
            initial=initial,
            po=po,
            cost_centers=selectors.cost_centers_of(self.org),
            gl_accounts=selectors.gl_accounts_of(self.org),
        )

    def line_form(self, po, data=None, prefix=None, initial=None):
        return LineForm(
            data,
            prefix=prefix,
            initial=initial,
            listings=selectors.orderable_listings(po),
            cost_centers=selectors.cost_centers_of(self.org),
            gl_accounts=selectors.gl_accounts_of(self.org),
        )


def _amendments(po: PurchaseOrder, side: str, membership) -> dict:
    """Both order pages: how many amendments the order has (the tab), the open one and the
    answers ``membership`` may give to it (``rules.amendment_actions``), and the latest one if
    the supplier declined it (the customer's page says so until another is asked)."""
    amendments = selectors.amendments_of(po, supplier=side == "sales-orders") if po.confirmed_at else []
    open_amendment = next((a for a in amendments if a.is_open), None)
    latest = amendments[0] if amendments else None
    return {
        "amendment_count": len(amendments),
        "open_amendment": open_amendment,
        "amendment_actions": rules.amendment_actions(open_amendment, po=po, membership=membership)
        if open_amendment
        else set(),
        "declined_amendment": latest if latest and latest.status == Amendment.Status.DECLINED else None,
    }


def _open_returns(po: PurchaseOrder, lines) -> list:
    """Both order pages: the order's returns not yet settled (their notice). Read only when a
    line says goods were asked back (``quantity_returned``): no query for any other order."""
    return selectors.open_returns_of(po) if any(line.quantity_returned for line in lines) else []


def _redline(revisions) -> tuple[list | None, list]:
    """The changes of the latest revision against the one before; (None, []) when nothing changed."""
    if len(revisions) < 2:
        return None, []
    rows = diff_revisions(revisions[-2], revisions[-1])
    header = diff_headers(revisions[-2], revisions[-1])
    if not header and all(row["kind"] == "same" for row in rows):
        return None, []
    return rows, header


def _fulfilment(po: PurchaseOrder, side: str, membership=None) -> dict:
    """Both order pages: the progress columns, shipments and receipts, the *billed* mark, and
    this side's billing (``interfaces.billing().order_page``) — the customer's bill with its
    3-way match and the bills matched to the order; the supplier's invoice and the payments
    waiting for verification."""
    context = {"progress": False, "shipments": [], "receipts": [], "document": None}
    if side == "customer":
        context["can_mark_billed"] = rules.refusal("mark_billed", po=po, membership=membership) is None
        context["can_unmark_billed"] = rules.refusal("unmark_billed", po=po, membership=membership) is None
    context.update(interfaces.billing().order_page(po=po, side=side, membership=membership))
    if po.confirmed_at is not None:
        context.update(progress=True, shipments=selectors.shipments_of(po), receipts=selectors.receipts_of(po))
    return context


def _order_of_side(membership, side: str, number: str) -> PurchaseOrder:
    """The order behind a page of either side (the customer's PO or the supplier's SO number)."""
    if side == "purchase-orders":
        return selectors.visible_purchase_order(membership, number=number)
    if not can(membership, "orders.view_salesorder"):
        raise PermissionDenied
    return selectors.sales_order_for(supplier=membership.organization, number=number).purchase_order


class SalesOrderMixin:
    """Resolves ``number`` to the supplier's sales order (404 for anyone else's)."""

    def get_so(self):
        return selectors.sales_order_for(supplier=self.org, number=self.kwargs["number"])

    def done_url(self):
        """Where an action on the sales order returns: its page."""
        return self.org_url("orders:so-detail", number=self.kwargs["number"])


def _plain(value):
    return "" if value is None else f"{value.normalize():f}"
