"""Every tenant-scoped read of the approvals app."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.models import Count, DecimalField, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user

from accounts.models import Membership, Organization
from accounts.permissions import can
from orders.models import PurchaseOrder, PurchaseOrderLine
from orders.models.purchase import VOID_LINE_STATUSES
from procurement.figures import Budgeted, BudgetUse, Gathered
from procurement.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS

from .models import ApprovalRequest, Budget, Decision, RequestStep

PERMISSION = "approvals.approve_approvalrequest"
# An order commits its budget from approval on (SPEC §5: "approved and later POs of the period").
COMMITTED = [
    PurchaseOrder.Status.SENT,
    PurchaseOrder.Status.SUPPLIER_ACCEPTED,
    PurchaseOrder.Status.CONFIRMED,
    PurchaseOrder.Status.PARTIALLY_RECEIVED,
    PurchaseOrder.Status.RECEIVED,
    PurchaseOrder.Status.CLOSED,
]
_SUM = DecimalField(max_digits=AMOUNT_MAX_DIGITS + 8, decimal_places=AMOUNT_DECIMAL_PLACES)


def _lines_on_budget(statuses: list[str], exclude: PurchaseOrder | None) -> QuerySet[PurchaseOrderLine]:
    """The lines coded to the outer budget's cost center, of the orders in ``statuses`` dated
    in its period (rejected and cancelled lines do not count)."""
    lines = PurchaseOrderLine.objects.filter(
        cost_center_id=OuterRef("cost_center_id"),
        purchase_order__order_date__gte=OuterRef("period_start"),
        purchase_order__order_date__lte=OuterRef("period_end"),
        purchase_order__status__in=statuses,
    ).exclude(status__in=VOID_LINE_STATUSES)
    return lines if exclude is None else lines.exclude(purchase_order_id=exclude.pk)


def _spend(statuses: list[str], exclude: PurchaseOrder | None = None) -> Subquery:
    """The base-currency amount (before tax) of the budget's lines. An order without a rate
    recorded on submission cannot be counted: ``unmeasured`` says when one is there."""
    lines = _lines_on_budget(statuses, exclude).filter(purchase_order__base_rate__isnull=False)
    total = (
        lines.order_by()
        .values("cost_center_id")
        .annotate(s=Sum(F("line_total") * F("purchase_order__base_rate"), output_field=_SUM))
        .values("s")
    )
    return Coalesce(Subquery(total, output_field=_SUM), Value(Decimal("0")), output_field=_SUM)


def with_spend(budgets: QuerySet[Budget], *, exclude: PurchaseOrder | None = None) -> QuerySet[Budget]:
    """Budgets annotated with ``committed`` (approved and later orders) and ``in_approval``
    (orders waiting for approval), one query for the lot."""
    return budgets.annotate(
        committed=_spend(COMMITTED, exclude),
        in_approval=_spend([PurchaseOrder.Status.PENDING_APPROVAL], exclude),
        unmeasured=Exists(_lines_on_budget(COMMITTED, exclude).filter(purchase_order__base_rate__isnull=True)),
    )


def spend_by_cost_center(lines: list[PurchaseOrderLine]) -> dict[int, Decimal]:
    """{cost center id: line amounts before tax} of an order's lines, rejected ones left out."""
    spend: dict[int, Decimal] = {}
    for line in lines:
        if not line.is_void:
            spend[line.cost_center_id] = spend.get(line.cost_center_id, Decimal("0")) + line.line_total
    return spend


def budgets_of(
    organization: Organization, *, on: date | None = None, exclude: PurchaseOrder | None = None
) -> QuerySet[Budget]:
    """The organization's budgets (those whose period holds ``on``, if given), with their use
    (by orders other than ``exclude``)."""
    budgets = Budget.objects.filter(organization=organization).select_related("cost_center", "owner")
    if on is not None:
        budgets = budgets.filter(period_start__lte=on, period_end__gte=on)
    return with_spend(budgets, exclude=exclude).order_by("-period_start", "cost_center__code")


def _open_step() -> Prefetch:
    return Prefetch("steps", queryset=RequestStep.objects.filter(status=RequestStep.Status.OPEN), to_attr="open_steps")


def waiting_for(membership: Membership) -> QuerySet[ApprovalRequest]:
    """The open requests whose current step waits for this person: the django-guardian
    permission they hold while it does, fetched for all requests in one query."""
    requests = ApprovalRequest.objects.filter(
        organization=membership.organization, status=ApprovalRequest.Status.PENDING
    )
    return get_objects_for_user(
        membership.user, PERMISSION, klass=requests, accept_global_perms=False, with_superuser=False
    )


def inbox_of(membership: Membership) -> list[ApprovalRequest]:
    return list(
        waiting_for(membership)
        .select_related("purchase_order__supplier", "purchase_order__requester", "amendment")
        .prefetch_related(_open_step())
        .order_by("created_at", "pk")
    )


def decided_by(membership: Membership, *, limit: int = 20) -> list[Decision]:
    return list(
        Decision.objects.filter(user=membership.user, step__organization=membership.organization)
        .select_related("step__request__purchase_order__supplier")
        .order_by("-created_at", "-pk")[:limit]
    )


def request_for(*, organization: Organization, pk: int) -> ApprovalRequest:
    request = (
        ApprovalRequest.objects.filter(organization=organization, pk=pk)
        .select_related(
            "purchase_order__supplier", "purchase_order__requester", "requested_by", "amendment__requested_by"
        )
        .first()
    )
    if request is None:
        raise Http404("No such approval request.")
    request.organization = request.purchase_order.customer = organization
    return request


def requests_of(po: PurchaseOrder) -> list[ApprovalRequest]:
    """The order's requests, newest first, with steps, approvers and decisions (four queries)."""
    return list(
        po.approval_requests.select_related("requested_by", "amendment").prefetch_related(
            Prefetch(
                "steps",
                queryset=RequestStep.objects.prefetch_related(
                    "approvers", Prefetch("decisions", queryset=Decision.objects.select_related("user"))
                ),
            )
        )
    )


def open_step_of(po: PurchaseOrder) -> RequestStep | None:
    return (
        RequestStep.objects.filter(request__purchase_order=po, status=RequestStep.Status.OPEN)
        .prefetch_related("approvers")
        .first()
    )


def may_decide(request: ApprovalRequest, membership: Membership) -> bool:
    """From prefetched rows (``requests_of``): whether the person may decide the open step now.
    The service checks the object permission itself again."""
    if request.status != ApprovalRequest.Status.PENDING or not can(membership, PERMISSION):
        return False
    if membership.user_id in (request.requested_by_id, request.purchase_order.requester_id):
        return False
    for step in request.steps.all():
        if step.status == RequestStep.Status.OPEN:
            decided = {d.user_id for d in step.decisions.all()}
            return any(u.pk == membership.user_id for u in step.approvers.all()) and membership.user_id not in decided
    return False


# ------------------------------------------------------------------------------ Home's figures


def budget_use(organization: Organization, *, today: date | None = None) -> BudgetUse:
    """Home's chart: the budgets that cover today, each with what is committed and what is in
    approval (``with_spend``'s rule, as the budgets page shows it), in the base currency. One query."""
    today = today or timezone.localdate()
    return BudgetUse(
        currency=organization.base_currency,
        budgets=[
            Budgeted(
                pk=budget.pk,
                label=budget.cost_center.code,
                amount=budget.amount,
                committed=budget.committed,
                in_approval=budget.in_approval,
                unmeasured=budget.unmeasured,
            )
            for budget in budgets_of(organization, on=today).order_by("cost_center__code")
        ],
    )


def waiting_total(membership: Membership) -> Gathered:
    """What the requests waiting for this person add up to (``count``, ``amount``), in the base
    currency as each request states it (``total_base``, at the rate of its submission); those
    without one counted by currency. One query."""
    base = membership.organization.base_currency
    measured = Q(total_base__isnull=False)
    rows = (
        waiting_for(membership)
        .values("currency")
        .annotate(
            n=Count("pk"),
            amount=Sum("total_base", filter=measured),
            raw=Sum("total"),
            unmeasured=Count("pk", filter=~measured),
        )
        .order_by()
    )
    gathered = Gathered(base)
    gathered.add("amount", Decimal("0"))
    for row in rows:
        gathered.add("count", row["n"])
        if row["currency"] == base:  # no rate needed
            gathered.add("amount", row["raw"])
        else:
            gathered.add("amount", row["amount"] or Decimal("0"))
            gathered.miss(row["currency"], row["unmeasured"])
    return gathered
