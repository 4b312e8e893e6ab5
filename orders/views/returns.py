"""Returns: the tab of both order pages, and the steps of a return on each side (SPEC §6)."""

from __future__ import annotations

from django.shortcuts import render

from procurement.views import OrgView

from .. import interfaces, rules, selectors
from .common import _order_of_side


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
            "tab": "returns",
            "may_request": customer and rules.refusal("request_return", po=po, membership=self.membership) is None,
        }
        return render(request, "orders/returns.html", context)
