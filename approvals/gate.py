"""approvals' side of ``orders.interfaces.Approvals``: what orders asks of internal approval.

Registered by ``ApprovalsConfig.ready``. Each method is a thin call into approvals' services and
selectors; the order's own transitions stay in orders' services (this app calls them downward).
"""

from __future__ import annotations

from decimal import Decimal

from accounts.models import Membership
from orders.interfaces import OpenStep
from orders.models import Amendment, PurchaseOrder, PurchaseOrderLine

from . import selectors, services
from .models import ApprovalRequest


class ApprovalsGate:
    def plan_submission(self, *, po: PurchaseOrder, lines: list[PurchaseOrderLine], by: Membership) -> services.Plan:
        return services.plan_approval(po, lines, by=by)

    def start_submission(self, *, po: PurchaseOrder, plan: services.Plan, by: Membership) -> OpenStep | None:
        services.start_request(po=po, by=by, plan=plan, kind=ApprovalRequest.Kind.SUBMISSION)
        return _open_step(po)

    def plan_amendment(
        self, *, po: PurchaseOrder, old_total: Decimal, lines: list[PurchaseOrderLine], by: Membership
    ) -> services.Plan | None:
        return services.plan_amendment(po=po, old_total=old_total, lines=lines, by=by)

    def start_amendment(self, *, po: PurchaseOrder, amendment: Amendment, plan: services.Plan, by: Membership) -> None:
        services.start_amendment_request(po=po, amendment=amendment, plan=plan, by=by)

    def start_reapproval(self, *, po: PurchaseOrder, lines: list[PurchaseOrderLine], by: Membership) -> OpenStep | None:
        if services.check_reapproval(po=po, by=by, lines=lines) is None:
            return None
        return _open_step(po)

    def withdraw_open_requests(self, *, po: PurchaseOrder) -> None:
        services.withdraw_open_requests(po)

    def requests_for_page(self, *, po: PurchaseOrder, membership: Membership) -> list[ApprovalRequest]:
        requests = selectors.requests_of(po) if po.submitted_at else []
        for request in requests:
            request.purchase_order = po
            request.may_decide = selectors.may_decide(request, membership)
        return requests


def _open_step(po: PurchaseOrder) -> OpenStep | None:
    step = selectors.open_step_of(po)
    if step is None:
        return None
    return OpenStep(name=step.name, approvers=tuple(u.full_name for u in step.approvers.all()))
