"""The order's documents: its PDF and its published revisions with their redlines."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render

from accounts.permissions import can
from procurement.views import OrgView

from .. import pdf, selectors
from ..revisions import diff_headers, diff_revisions
from .common import _order_of_side


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
