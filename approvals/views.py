"""The approver's inbox, the decision page of one request, and budget use."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from orders import selectors as order_selectors
from procurement.errors import DomainError
from procurement.forms import add_domain_error
from procurement.money import round_money
from procurement.views import OrgView, PostOnlyView

from . import selectors, services
from .forms import ApproveForm, BudgetFilterForm, RejectForm
from .models import ApprovalRequest


def _sums(amounts) -> list[tuple[str, Decimal]]:
    """[(currency, sum)] of (currency, amount) pairs, largest first."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for currency, amount in amounts:
        sums[currency] += amount
    return sorted(sums.items(), key=lambda item: -item[1])


class ApprovalInboxView(OrgView):
    """What waits for my decision, oldest first, with totals; and what I decided lately."""

    permission = "approvals.approve_approvalrequest"

    def get(self, request, org_slug):
        waiting = selectors.inbox_of(self.membership)
        now = timezone.now()
        for item in waiting:
            item.open_step = item.open_steps[0] if item.open_steps else None
            item.waiting_days = (now - item.open_step.opened_at).days if item.open_step else 0
        totals = _sums(
            (r.base_currency, r.total_base) if r.total_base is not None else (r.currency, r.total) for r in waiting
        )
        context = {
            "waiting": waiting,
            "totals": totals,
            "decided": selectors.decided_by(self.membership, limit=10),
        }
        return render(request, "approvals/inbox.html", context)


class RequestPageMixin:
    def get_object(self) -> ApprovalRequest:
        return selectors.request_for(organization=self.org, pk=self.kwargs["pk"])

    def done_url(self) -> str:
        return self.org_url("approvals:request", pk=self.kwargs["pk"])

    def show(self, approval: ApprovalRequest, *, approve_form=None, reject_form=None, status=200):
        po = approval.purchase_order
        requests = selectors.requests_of(po)
        current = next(r for r in requests if r.pk == approval.pk)
        current.purchase_order = po
        lines = order_selectors.lines_of(po)
        context = {
            "approval": current,
            "approval_list": [current],
            "po": po,
            "lines": lines,
            "others": [r for r in requests if r.pk != approval.pk],
            "may_decide": selectors.may_decide(current, self.membership),
            "approve_form": approve_form or ApproveForm(prefix="approve"),
            "reject_form": reject_form or RejectForm(prefix="reject"),
            "budgets": self.budget_impact(po, lines),
        }
        return render(self.request, "approvals/request.html", context, status=status)

    def budget_impact(self, po, lines) -> list:
        """The budgets of the order's cost centers for its date, and what the order adds."""
        spend = selectors.spend_by_cost_center(lines)
        if not spend or po.order_date is None:
            return []
        base = self.org.base_currency
        budgets = list(selectors.budgets_of(self.org, on=po.order_date, exclude=po).filter(cost_center_id__in=spend))
        for budget in budgets:  # the other orders' use, this order's, and what would be left
            budget.committed = round_money(budget.committed, base)
            budget.in_approval = round_money(budget.in_approval, base)
            rate = po.base_rate
            budget.this_order = None if rate is None else round_money(spend[budget.cost_center_id] * rate, base)
            budget.left_after = budget.amount - budget.committed - (budget.this_order or 0)
        return budgets


class ApprovalRequestView(RequestPageMixin, OrgView):
    """The decision page the e-mails link to: the order, why it needs approval, the steps."""

    permission = "orders.view_purchaseorder"

    def get(self, request, org_slug, pk):
        return self.show(self.get_object())


class DecideView(RequestPageMixin, PostOnlyView):
    permission = "approvals.approve_approvalrequest"
    verdict = "approve"

    def post(self, request, org_slug, pk):
        approval = self.get_object()
        form_class = ApproveForm if self.verdict == "approve" else RejectForm
        form = form_class(request.POST, prefix=self.verdict)
        forms = {f"{self.verdict}_form": form}
        if not form.is_valid():
            return self.show(approval, status=400, **forms)
        try:
            approved = None
            if self.verdict == "approve":
                approved = services.approve_step(
                    request=approval, by=self.membership, comment=form.cleaned_data["comment"]
                )
            else:
                services.reject_step(request=approval, by=self.membership, comment=form.cleaned_data["comment"])
        except DomainError as exc:
            add_domain_error(form, exc)
            return self.show(approval, status=400, **forms)
        po = approval.purchase_order
        what = po.number
        if approval.kind == approval.Kind.AMENDMENT:
            what = f"Amendment {approval.amendment.number} of {po.number}"
        if self.verdict == "reject":
            messages.success(request, f"{what} is rejected; {approval.requested_by.full_name} is told why.")
        elif approved.finished:
            done = {approval.Kind.SUBMISSION: "sent to " + po.supplier.name, approval.Kind.REAPPROVAL: "re-approved"}
            messages.success(
                request, f"{what} is approved and {done.get(approval.kind, 'sent to ' + po.supplier.name)}."
            )
        else:
            messages.success(request, f"Your approval of {po.number} is recorded; the order goes to the next step.")
        if selectors.waiting_for(self.membership).exists():
            return redirect(self.org_url("approvals:inbox"))
        return redirect(self.done_url())


class BudgetListView(OrgView):
    """Budget use per cost center and period: committed, in approval, remaining."""

    permission = "orders.view_purchaseorder"

    def get(self, request, org_slug):
        form = BudgetFilterForm(request.GET)
        period = form.cleaned_data.get("period") if form.is_valid() else ""
        today = timezone.localdate()
        budgets = list(selectors.budgets_of(self.org, on=None if period == "all" else today))
        base = self.org.base_currency
        for budget in budgets:
            budget.committed = round_money(budget.committed, base)
            budget.in_approval = round_money(budget.in_approval, base)
            budget.remaining = budget.amount - budget.committed
            budget.used_percent = min(100, int(budget.committed * 100 / budget.amount)) if budget.amount else 100
            budget.is_current = budget.period_start <= today <= budget.period_end
        return render(request, "approvals/budgets.html", {"form": form, "budgets": budgets, "period": period})
