"""The organization's home page: the inbox of what waits for me, across every app."""

from __future__ import annotations

from django.shortcuts import render

from accounts import selectors as account_selectors
from accounts.models import Connection
from accounts.permissions import can
from approvals.selectors import waiting_for as approvals_waiting_for
from billing.selectors import inbox_counts as billing_inbox
from orders.selectors import inbox_counts as order_inbox
from orders.selectors import listing_counts
from procurement.views import OrgView


class OrgHomeView(OrgView):
    """The inbox: what waits for me in this organization."""

    def get(self, request, org_slug):
        waiting = account_selectors.invitations_waiting_for(request.user)
        context = {"waiting": waiting}
        if can(self.membership, "accounts.manage_connections"):
            connections = account_selectors.connections_for(self.org)
            context["connections_invited"] = list(
                connections.filter(customer=self.org, status=Connection.Status.INVITED)
            )
            context["connections_suspended"] = list(connections.filter(status=Connection.Status.SUSPENDED))
        context["orders"] = order_inbox(self.org)
        if can(self.membership, "approvals.approve_approvalrequest"):
            context["orders"]["to_approve"] = approvals_waiting_for(self.membership).count()
        context["orders"].update(
            billing_inbox(
                self.org,
                customer=can(self.membership, "billing.add_payment"),
                supplier=can(self.membership, "billing.verify_payment"),
            )
        )
        if can(self.membership, "orders.view_listing"):
            context["listing_counts"] = listing_counts(self.org)
        return render(request, "home/org_home.html", context)
