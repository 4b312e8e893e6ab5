"""Posting to the shared thread or an internal note, from either side's order page."""

from __future__ import annotations

from django.shortcuts import redirect

from procurement.errors import DomainError
from procurement.views import PostOnlyView

from .. import selectors
from ..forms import MessageForm
from ..services.thread import add_internal_note, post_message
from .purchase_orders import PurchaseOrderDetailView
from .sales_orders import SalesOrderDetailView


class ThreadPostView(PostOnlyView):
    """A message to the shared thread, or an internal note, from either side's order page."""

    internal = False

    def get_object(self):
        if self.kwargs["side"] == "purchase-orders":
            return selectors.purchase_order_for(customer=self.org, number=self.kwargs["number"])
        return selectors.sales_order_for(supplier=self.org, number=self.kwargs["number"]).purchase_order

    def done_url(self):
        name = "orders:po-detail" if self.kwargs["side"] == "purchase-orders" else "orders:so-detail"
        return self.org_url(name, number=self.kwargs["number"]) + ("#notes" if self.internal else "#thread")

    def post(self, request, org_slug, side, number):
        po = self.get_object()
        form = MessageForm(request.POST)
        try:
            if not form.is_valid():
                raise DomainError(" ".join(form.errors.get("body", ["Write something first."])))
            if self.internal:
                add_internal_note(po=po, by=self.membership, body=form.cleaned_data["body"])
            else:
                post_message(po=po, by=self.membership, body=form.cleaned_data["body"])
        except DomainError as exc:  # show the page again with the text and the reason beside it
            post = {"body": request.POST.get("body", ""), "error": exc.message, "internal": self.internal}
            if side == "purchase-orders":
                view = PurchaseOrderDetailView(
                    request=request, kwargs=self.kwargs, org=self.org, membership=self.membership
                )
                return view.show(view.get_po(), thread_post=post, status=400)
            view = SalesOrderDetailView(request=request, kwargs=self.kwargs, org=self.org, membership=self.membership)
            return view.show(view.get_so(), thread_post=post, status=400)
        return redirect(self.done_url())
