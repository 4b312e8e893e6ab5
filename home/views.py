"""The organization's home page: the inbox of what waits for me, across every app."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse

from accounts import selectors as account_selectors
from accounts.models import Connection
from accounts.permissions import can
from approvals.selectors import budget_use, waiting_total
from billing.selectors import LIVE, sales_by_month, spend_by_month
from billing.selectors import inbox_counts as billing_inbox
from orders.selectors import CONFIRMED_AND_LATER, listing_counts, returns_inbox, sales_by_customer, spend_by_supplier
from orders.selectors import inbox_counts as order_inbox
from procurement.views import OrgView

from . import charts


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
            waiting_approval = waiting_total(self.membership)
            context["orders"]["to_approve"] = int(waiting_approval.get("count"))
            context["orders"]["to_approve_amount"] = waiting_approval.get("amount")
            context["orders"]["to_approve_unconverted"] = waiting_approval.unconverted
        context["orders"].update(
            billing_inbox(
                self.org,
                customer=can(self.membership, "billing.add_payment"),
                supplier=can(self.membership, "billing.verify_payment"),
            )
        )
        context["orders"].update(
            returns_inbox(
                self.org,
                customer=can(self.membership, "orders.add_returnrequest"),
                supplier=can(self.membership, "orders.answer_returnrequest")
                or can(self.membership, "orders.receive_returnrequest"),
            )
        )
        if can(self.membership, "orders.view_listing"):
            context["listing_counts"] = listing_counts(self.org)
        context["charts"] = self.charts()
        return render(request, "home/org_home.html", context)

    def charts(self) -> list[charts.Chart]:
        """The charts this person's role may follow to their lists: spend and budgets for a
        buyer, sales for a supplier (each from one selector)."""
        org, slug, found = self.org, self.org.slug, []
        if org.buys and can(self.membership, "orders.view_purchaseorder"):
            pos = reverse("orders:po-list", args=[slug])
            lists = {"committed": (pos, CONFIRMED_AND_LATER)}
            if can(self.membership, "billing.view_bill"):
                lists["billed"] = (reverse("billing:bill-list", args=[slug]), LIVE)
            spend = spend_by_month(org)
            spend.series = [s for s in spend.series if s.key in lists]
            found.append(
                charts.by_month(
                    "spend",
                    spend,
                    title="Spend by month",
                    description=(
                        f"Per month of the last 12, in {org.base_currency}: committed — orders confirmed by both "
                        "sides and later, by the month they were created, at the rate recorded on submission; "
                        "billed — bills not cancelled, by bill date, at the rate of the bill's day."
                    ),
                    lists=lists,
                )
            )
            found.append(
                charts.by_party(
                    "suppliers",
                    spend_by_supplier(org),
                    title="Spend by supplier",
                    description=(
                        f"What was committed to each supplier over the last 12 months, in {org.base_currency}: "
                        "the 8 largest, then the others added up."
                    ),
                    url=pos,
                    status=CONFIRMED_AND_LATER,
                    party="Supplier",
                    rest_label="Other suppliers",
                )
            )
            found.append(charts.budget_use(budget_use(org), url=reverse("approvals:budgets", args=[slug])))
        if org.sells and can(self.membership, "orders.view_salesorder"):
            sos = reverse("orders:so-list", args=[slug])
            lists = {"sold": (sos, CONFIRMED_AND_LATER)}
            if can(self.membership, "billing.view_invoice"):
                lists["invoiced"] = (reverse("billing:invoice-list", args=[slug]), LIVE)
            sales = sales_by_month(org)
            sales.series = [s for s in sales.series if s.key in lists]
            found.append(
                charts.by_month(
                    "sales",
                    sales,
                    title="Sales by month",
                    description=(
                        f"Per month of the last 12, in {org.base_currency}: sold — sales orders confirmed and "
                        "later, by the month they were created; invoiced — invoices not cancelled, by invoice "
                        "date; each at the rate of its day."
                    ),
                    lists=lists,
                )
            )
            found.append(
                charts.by_party(
                    "customers",
                    sales_by_customer(org),
                    title="Sales by customer",
                    description=(
                        f"What each customer ordered over the last 12 months (confirmed and later), in "
                        f"{org.base_currency}: the 8 largest, then the others added up."
                    ),
                    url=sos,
                    status=CONFIRMED_AND_LATER,
                    party="Customer",
                    rest_label="Other customers",
                )
            )
        return found
