"""Every write of the approvals app (SPEC §5, and the re-approval rule of §4).

On submission ``plan_approval`` reads the organization's policy, the requester's spending limit
and the budgets of the order's cost centers, and says which steps must approve; the order
services then either release the order at once or send it for approval, and ``start_request``
records the request (an approved one when nothing needed approval). Approvers decide the open
step through ``approve_step`` / ``reject_step``; the last approval releases the order to the
supplier (or, for a re-approval, confirms it), one rejection sends it back to the requester.

The approvers of the open step hold the django-guardian permission ``approve_approvalrequest``
on the request while it waits for them; it is taken back when they decide or the step closes,
so "what waits for me" is one query over object permissions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm

from accounts.mail import absolute_url, queue_email
from accounts.models import Membership, Organization, User
from accounts.permissions import can, require
from accounts.selectors import rate_to_base
from orders import events
from orders.models import OrderEvent, PurchaseOrder, PurchaseOrderLine
from orders.rules import require_active
from orders.services import amendments, negotiation, submission
from procurement.errors import DomainError, NotAllowed
from procurement.money import format_money, round_money
from procurement.transactions import require_atomic
from procurement.transitions import transition
from procurement.validators import clean_text

from .models import (
    APPROVING_ROLES,
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalStep,
    Budget,
    Decision,
    RequestStep,
    SpendingLimit,
)
from .selectors import PERMISSION, spend_by_cost_center, with_spend

CODENAME = PERMISSION.split(".")[1]  # guardian filters its rows by codename


# ------------------------------------------------------------------------------- the plan


@dataclass
class PlannedStep:
    kind: str
    name: str
    reason: str
    rule: str
    approvers: list[User]
    policy_step: ApprovalStep | None = None
    budget: Budget | None = None


@dataclass
class Plan:
    """What a submission needs: the steps in order (none: approved at once), and why."""

    rate: Decimal | None
    total_base: Decimal | None
    steps: list[PlannedStep] = field(default_factory=list)
    summary: str = ""


def _in_base(po: PurchaseOrder, amount: Decimal, rate: Decimal | None) -> Decimal | None:
    return None if rate is None else round_money(amount * rate, po.customer.base_currency)


def spending_limit(membership: Membership) -> Decimal | None:
    """The person's own limit, else the highest limit of their roles; None: no limit set."""
    limits = list(
        SpendingLimit.objects.filter(organization_id=membership.organization_id)
        .filter(Q(user_id=membership.user_id) | Q(role__in=membership.roles))
        .values_list("user_id", "amount")
    )
    own = [amount for user_id, amount in limits if user_id is not None]
    if own:
        return own[0]
    return max((amount for _, amount in limits), default=None)


def _approving_members(organization: Organization) -> dict[int, tuple[User, set[str]]]:
    """{user id: (user, roles)} of the active members who hold a role that approves."""
    approving = {r.value for r in APPROVING_ROLES}
    return {
        m.user_id: (m.user, set(m.roles))
        for m in organization.memberships.select_related("user")
        if m.user.is_active and approving & set(m.roles)
    }


def _by_name(users) -> list[User]:
    return sorted(users, key=lambda u: (u.full_name, u.email))


def _with_role(members: dict, role: str, exclude: set[int]) -> list[User]:
    return _by_name(user for pk, (user, roles) in members.items() if role in roles and pk not in exclude)


def _step_approvers(step: ApprovalStep, members: dict, exclude: set[int]) -> list[User]:
    """The named approvers who still may approve, and the members of the step's role; never
    anyone in ``exclude`` (the requester and whoever asked for the approval)."""
    people = {u.pk: members[u.pk][0] for u in step.approvers.all() if u.pk in members}
    if step.approver_role:
        people.update({u.pk: u for u in _with_role(members, step.approver_role, set())})
    return _by_name(u for pk, u in people.items() if pk not in exclude)


def _live(lines: list[PurchaseOrderLine]) -> list[PurchaseOrderLine]:
    """The lines that count: a line the supplier rejected costs nothing."""
    return [line for line in lines if not line.is_void]


def _applies_to(step: ApprovalStep, cost_centers: set[int]) -> bool:
    """A step scoped to cost centers applies only to orders with a line coded to one of them."""
    scoped = {cc.pk for cc in step.cost_centers.all()}
    return not scoped or bool(scoped & cost_centers)


def _configured(organization: Organization) -> bool:
    return (
        Organization.objects.filter(pk=organization.pk)
        .filter(
            Exists(ApprovalPolicy.objects.filter(organization=OuterRef("pk")))
            | Exists(SpendingLimit.objects.filter(organization=OuterRef("pk")))
            | Exists(Budget.objects.filter(organization=OuterRef("pk")))
        )
        .exists()
    )


def _requester_membership(po: PurchaseOrder) -> Membership:
    membership = (
        Membership.objects.select_related("user", "organization")
        .filter(user_id=po.requester_id, organization_id=po.customer_id)
        .first()
    )
    if membership is None:
        raise DomainError(f"{po.requester} is no longer a member of {po.customer.name}.")
    return membership


_LOOK_UP = object()


def plan_approval(
    po: PurchaseOrder, lines: list[PurchaseOrderLine], *, by: Membership, reason: str = "", rate=_LOOK_UP
) -> Plan:
    """Which steps must approve ``po`` (its totals as they stand), asked by ``by``; ``reason``
    says why a re-approval was asked. Neither the requester nor the person asking approves.
    ``rate``: the rate to the base currency recorded on submission (re-approvals pass
    ``po.base_rate``, so a later rate never changes what must approve); looked up by default.
    Raises DomainError when a step has nobody else who may approve it — nothing is then
    written. Locks the budgets it reads until the caller's transaction ends, so that two
    submissions cannot both spend the same remainder."""
    org = po.customer
    on = po.order_date or timezone.localdate()
    if rate is _LOOK_UP:
        rate = rate_to_base(po.currency, org.base_currency, on, organization=org)
    total_base = _in_base(po, po.total, rate)
    plan = Plan(rate=rate, total_base=total_base)
    if not _configured(org):
        plan.summary = f"{org.name} has no approval policy, spending limits or budgets."
        return plan

    requester = _requester_membership(po)
    base = org.base_currency
    shown = format_money(total_base, base) if total_base is not None else format_money(po.total, po.currency)
    live = _live(lines)
    cost_centers = {line.cost_center_id for line in live}
    policy_steps = list(
        ApprovalStep.objects.filter(policy__organization=org)
        .prefetch_related("cost_centers", "approvers")
        .order_by("position")
    )
    members = _approving_members(org)
    exclude = {po.requester_id, by.user_id}

    reasons = [reason] if reason else []
    applying = []
    for step in policy_steps:
        if not _applies_to(step, cost_centers):
            continue
        if total_base is None:
            applying.append((step, f"No exchange rate from {po.currency} to {base} yet: every step applies."))
        elif total_base >= step.threshold:
            applying.append((step, f"Total {shown} is at least {format_money(step.threshold, base)}."))

    limit = spending_limit(requester)
    over_limit = limit is not None and (total_base is None or total_base > limit)
    if over_limit:
        reasons.append(
            f"{shown} is over {requester.user.full_name}'s spending limit of {format_money(limit, base)}."
            if total_base is not None
            else f"Without an exchange rate, {po.currency} cannot be compared with the spending limit."
        )
        if not applying and policy_steps:  # over the limit, the first step approves at least
            applying.append((policy_steps[0], reasons[-1]))

    for step, why in applying:
        approvers = _step_approvers(step, members, exclude)
        if not approvers:
            raise DomainError(
                f"Nobody else can approve step “{step.name}” of this order (whoever raised or submits an order "
                f"never approves it): ask an admin to name approvers for it in the approval policy."
            )
        plan.steps.append(PlannedStep("policy", step.name, why, step.rule, approvers, policy_step=step))

    if over_limit and not policy_steps:
        approvers = _with_role(members, "approver", exclude) or _with_role(members, "admin", exclude)
        if not approvers:
            raise DomainError(f"{reasons[-1]} Nobody else in {org.name} can approve it: ask an admin.")
        plan.steps.append(PlannedStep("policy", "Approval", reasons[-1], ApprovalStep.Rule.ANY, approvers))

    plan.steps += _budget_steps(po, live, rate, on, members=members, exclude=exclude)
    if plan.steps:
        plan.summary = " ".join(reasons + [s.reason for s in plan.steps if s.reason not in reasons])
    else:
        within = (
            f"within {requester.user.full_name}'s limit of {format_money(limit, base)}" if limit is not None else ""
        )
        # why, not the outcome: the page puts it beside its "Approved at once"
        plan.summary = f"{shown}: no step applies" + (f", {within}" if within else "") + "."
    return plan


def _budget_steps(
    po: PurchaseOrder,
    lines: list[PurchaseOrderLine],
    rate: Decimal | None,
    on: date,
    *,
    members: dict,
    exclude: set[int],
    skip: set[int] = frozenset(),
) -> list:
    """A step for the owner of each budget (not in ``skip``) that the order would exceed. The
    budgets stay locked until the caller's transaction ends."""
    require_atomic()
    spend = spend_by_cost_center(lines)
    budgets = list(
        Budget.objects.select_for_update(of=("self",))
        .filter(organization=po.customer, cost_center_id__in=spend, period_start__lte=on, period_end__gte=on)
        .exclude(pk__in=skip)
        .select_related("cost_center", "owner")
        .order_by("cost_center__code")
    )
    if not budgets:
        return []
    # Read the spend in a statement of its own, after the lock: a subquery of the locking
    # statement would see the snapshot taken before it waited (tests/test_postgres.py).
    committed, unmeasured = {}, set()
    spent = with_spend(Budget.objects.filter(pk__in=[b.pk for b in budgets]), exclude=po)
    for pk, amount, blind in spent.values_list("pk", "committed", "unmeasured"):
        committed[pk] = amount
        if blind:
            unmeasured.add(pk)
    base = po.customer.base_currency
    steps = []
    for budget in budgets:
        amount = _in_base(po, spend[budget.cost_center_id], rate)
        left = budget.amount - round_money(committed[budget.pk], base)
        label = f"{budget.cost_center.code} {budget.period_label}"
        if amount is None:
            why = f"Without an exchange rate the order cannot be measured against the {label} budget."
        elif budget.pk in unmeasured:  # never skip the owner for a remainder nobody can know
            why = (
                f"An order committed on the {label} budget has no exchange rate to {base}: what is left of it "
                "cannot be measured."
            )
        elif amount > left:
            why = (
                f"{format_money(amount, base)} on {budget.cost_center.code} would exceed the {label} budget: "
                f"{format_money(max(left, Decimal('0')), base)} of {format_money(budget.amount, base)} left."
            )
        else:
            continue
        approvers = [members[budget.owner_id][0]] if budget.owner_id in members else []
        if budget.owner_id in exclude:
            approvers = []
            why += " The owner raised or submits this order, so an admin approves."
        elif not approvers:
            why += f" {budget.owner} can no longer approve, so an admin does."
        approvers = approvers or _with_role(members, "admin", exclude)
        if not approvers:
            raise DomainError(f"{why} Nobody but you can approve it: ask an admin.")
        steps.append(PlannedStep("budget", f"Budget {label}", why, ApprovalStep.Rule.ANY, approvers, budget=budget))
    return steps


# ---------------------------------------------------------------------- requests and steps


@transaction.atomic
def start_request(*, po: PurchaseOrder, by: Membership, plan: Plan, kind: str) -> ApprovalRequest:
    """Record the request; with steps, open the first (permission and e-mail to its approvers)."""
    approved = not plan.steps
    request = ApprovalRequest.objects.create(
        organization=po.customer,
        purchase_order=po,
        kind=kind,
        status=ApprovalRequest.Status.APPROVED if approved else ApprovalRequest.Status.PENDING,
        requested_by=by.user,
        revision_number=po.revision_number + (1 if kind == ApprovalRequest.Kind.SUBMISSION else 0),
        currency=po.currency,
        total=po.total,
        base_currency=po.customer.base_currency,
        total_base=plan.total_base,
        summary=plan.summary,
        decided_at=timezone.now() if approved else None,
    )
    if approved:
        return request
    steps = RequestStep.objects.bulk_create(
        RequestStep(
            request=request,
            organization=po.customer,
            position=n,
            kind=planned.kind,
            name=planned.name,
            reason=planned.reason[:300],
            rule=planned.rule,
            policy_step=planned.policy_step,
            budget=planned.budget,
        )
        for n, planned in enumerate(plan.steps, start=1)
    )
    RequestStep.approvers.through.objects.bulk_create(
        RequestStep.approvers.through(requeststep_id=step.pk, user_id=user.pk)
        for step, planned in zip(steps, plan.steps, strict=True)
        for user in planned.approvers
    )
    _open(request, po, steps[0], plan.steps[0].approvers)
    return request


def _open(request: ApprovalRequest, po: PurchaseOrder, step: RequestStep, approvers: list[User]) -> None:
    require_atomic()
    step.status = RequestStep.Status.OPEN
    step.opened_at = timezone.now()
    step.save(update_fields=["status", "opened_at"])
    assign_perm(PERMISSION, approvers, request)
    queue_email(
        key=f"approval_step:{step.pk}",
        to=[u.email for u in approvers],
        template="approval_requested",
        organization=po.customer,
        attachments=[{"renderer": "purchase_order_pdf", "pk": po.pk, "revision": request.revision_number}],
        context={
            "po": po,
            "request": request,
            "step": step,
            "step_count": request.steps.count(),
            "url": absolute_url(decision_path(request)),
        },
    )


def decision_path(request: ApprovalRequest) -> str:
    return reverse("approvals:request", kwargs={"org_slug": request.organization.slug, "pk": request.pk})


def _revoke(request: ApprovalRequest, users: list[int] | None = None) -> None:
    """Take back the permission to decide ``request`` (from ``users``, or everyone)."""
    require_atomic()
    perms = UserObjectPermission.objects.filter(
        content_type=ContentType.objects.get_for_model(ApprovalRequest),
        object_pk=str(request.pk),
        permission__codename=CODENAME,
    )
    if users is not None:
        perms = perms.filter(user_id__in=users)
    perms.delete()


def _lock(request: ApprovalRequest, by: Membership) -> tuple[PurchaseOrder, ApprovalRequest]:
    """Lock the order, then the request (orders are always locked first: no deadlock)."""
    require_atomic()
    po = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("connection", "customer", "supplier", "requester")
        .get(approval_requests__pk=request.pk, customer=by.organization)
    )
    request = ApprovalRequest.objects.select_for_update(of=("self",)).get(pk=request.pk, organization=by.organization)
    request.organization = po.customer
    require_active(po)  # a suspended connection freezes the order
    return po, request


def _check_decider(po: PurchaseOrder, request: ApprovalRequest, step: RequestStep | None, by: Membership) -> None:
    if request.status != ApprovalRequest.Status.PENDING or step is None:
        last = Decision.objects.filter(step__request=request).select_related("user").order_by("-pk").first()
        who = f" by {last.user.full_name}" if last else ""
        raise DomainError(f"This approval was {request.get_status_display().lower()}{who} already.")
    if by.user_id in (po.requester_id, request.requested_by_id):
        raise NotAllowed("You raised this order: someone else approves it.")
    if not step.approvers.filter(pk=by.user_id).exists():
        raise NotAllowed(f"You are not an approver of the step “{step.name}”.")
    if Decision.objects.filter(step=step, user=by.user).exists() or not by.user.has_perm(PERMISSION, request):
        raise DomainError(f"You have decided the step “{step.name}” already.")


def _clean_comment(comment: str, *, required: bool) -> str:
    return clean_text(comment, "comment", required=required, limit=2000)


@dataclass(frozen=True)
class StepApproved:
    """What an approval did: ``finished`` when it completed the request (the order was released
    to the supplier, or confirmed after re-approval, or the amendment proposed); otherwise the
    decision is recorded and the request waits for others (this step's or the next)."""

    request: ApprovalRequest
    finished: bool


@transaction.atomic
def approve_step(*, request: ApprovalRequest, by: Membership, comment: str = "") -> StepApproved:
    """Approve the open step; the last approval releases (or, re-approved, confirms) the order."""
    require(by, PERMISSION)
    po, request = _lock(request, by)
    step = request.steps.filter(status=RequestStep.Status.OPEN).first()
    _check_decider(po, request, step, by)
    comment = _clean_comment(comment, required=False)
    Decision.objects.create(step=step, user=by.user, verdict=Decision.Verdict.APPROVED, comment=comment)
    _revoke(request, [by.user_id])
    exclude = {po.requester_id, request.requested_by_id}
    if step.rule == ApprovalStep.Rule.ALL:
        # Everyone named must decide — who still may: someone who lost the role no longer blocks.
        members = _approving_members(po.customer)
        decided = set(step.decisions.values_list("user_id", flat=True))
        if any(u.pk in members and u.pk not in exclude | decided for u in step.approvers.all()):
            return StepApproved(request=request, finished=False)
    step.status = RequestStep.Status.APPROVED
    step.decided_at = timezone.now()
    step.save(update_fields=["status", "decided_at"])
    _revoke(request)  # the step is closed for all its approvers
    following = request.steps.filter(status=RequestStep.Status.WAITING).order_by("position").first()
    if following is None and request.kind == ApprovalRequest.Kind.SUBMISSION:
        following = _recheck_budgets(po, request, exclude)
    if following is not None:
        _open(request, po, following, _still_approving(po, following, exclude))
        return StepApproved(request=request, finished=False)
    transition(request, "approve", "approved", noun="This approval")
    request.save()
    _approved(po, request, by)
    return StepApproved(request=request, finished=True)


def _still_approving(po: PurchaseOrder, step: RequestStep, exclude: set[int]) -> list[User]:
    """The step's approvers who still may approve when it opens; if none is left, the
    organization's admins take it over (recorded on the step); if none, the approval refuses."""
    require_atomic()
    members = _approving_members(po.customer)
    approvers = [members[u.pk][0] for u in step.approvers.all() if u.pk in members and u.pk not in exclude]
    if not approvers:
        approvers = _with_role(members, "admin", exclude)
        if not approvers:
            raise DomainError(
                f"Nobody can approve the next step “{step.name}” any more: ask an admin to restore an approver."
            )
        step.approvers.add(*approvers)
        step.reason = f"{step.reason} Its approvers can no longer approve, so an admin does."[:300]
        step.save(update_fields=["reason"])
    return approvers


def _recheck_budgets(po: PurchaseOrder, request: ApprovalRequest, exclude: set[int]) -> RequestStep | None:
    """Before the release: spend committed while the order waited may leave a budget short now.
    Then its owner approves too (a new step), unless they approved this request already."""
    require_atomic()
    approved = set(
        request.steps.filter(kind=RequestStep.Kind.BUDGET, status=RequestStep.Status.APPROVED)
        .exclude(budget=None)
        .values_list("budget_id", flat=True)
    )
    planned = _budget_steps(
        po,
        list(po.lines.all()),
        po.base_rate,
        po.order_date or timezone.localdate(),
        members=_approving_members(po.customer),
        exclude=exclude,
        skip=approved,
    )
    if not planned:
        return None
    last = request.steps.order_by("-position").values_list("position", flat=True).first() or 0
    steps = []
    for n, p in enumerate(planned, start=last + 1):
        step = RequestStep.objects.create(
            request=request,
            organization=po.customer,
            position=n,
            kind=p.kind,
            name=p.name,
            reason=f"Since submission: {p.reason}"[:300],
            rule=p.rule,
            budget=p.budget,
        )
        step.approvers.set(p.approvers)
        steps.append(step)
    return steps[0]


def _approved(po: PurchaseOrder, request: ApprovalRequest, by: Membership) -> None:
    require_atomic()
    approvers = ", ".join(
        sorted({d.user.full_name for d in Decision.objects.filter(step__request=request).select_related("user")})
    )
    if request.kind == ApprovalRequest.Kind.AMENDMENT:  # the supplier is asked now (its thread says so)
        amendments.propose_amendment(amendment=request.amendment, po=po)
        _tell_requester(po, request, "approval_approved", approvers=approvers)
        return
    if request.kind == ApprovalRequest.Kind.SUBMISSION:
        submission.release_after_approval(po=po, by=by)
        _tell_requester(po, request, "approval_approved", approvers=approvers)
        return
    events.record_event(po, OrderEvent.Kind.APPROVED, by=by, body="Re-approved internally.")
    asker = (
        Membership.objects.select_related("user", "organization")
        .filter(user_id=request.requested_by_id, organization_id=po.customer_id)
        .first()
    )
    confirmed = False
    if asker is not None and can(asker, "orders.confirm_purchaseorder"):  # what they asked for
        result = negotiation.confirm_purchase_order(po=po, by=asker)
        confirmed = isinstance(result, negotiation.Confirmed)
    _tell_requester(po, request, "approval_approved", approvers=approvers, confirmed=confirmed)


@transaction.atomic
def reject_step(*, request: ApprovalRequest, by: Membership, comment: str) -> ApprovalRequest:
    """Reject the open step (a comment is required): the order goes back to the requester."""
    require(by, PERMISSION)
    po, request = _lock(request, by)
    step = request.steps.filter(status=RequestStep.Status.OPEN).first()
    _check_decider(po, request, step, by)
    comment = _clean_comment(comment, required=True)
    Decision.objects.create(step=step, user=by.user, verdict=Decision.Verdict.REJECTED, comment=comment)
    now = timezone.now()
    RequestStep.objects.filter(pk=step.pk).update(status=RequestStep.Status.REJECTED, decided_at=now)
    request.steps.filter(status=RequestStep.Status.WAITING).update(status=RequestStep.Status.SKIPPED)
    transition(request, "reject", "rejected", noun="This approval")
    request.save()
    _revoke(request)
    if request.kind == ApprovalRequest.Kind.SUBMISSION:
        submission.reject_after_approval(po=po, reason=f"Rejected by {by.user.full_name} ({step.name}): {comment}")
    if request.kind == ApprovalRequest.Kind.AMENDMENT:  # the supplier never heard of it
        amendments.reject_after_approval(amendment=request.amendment, po=po)
    else:  # the thread is shared with the supplier: the comment stays on the customer's side
        events.record_event(po, OrderEvent.Kind.REJECTED, by=by, body="Rejected in internal approval.")
    _tell_requester(po, request, "approval_rejected", step=step, comment=comment, decider=by.user)
    return request


def _tell_requester(po: PurchaseOrder, request: ApprovalRequest, template: str, **context) -> None:
    url = reverse("orders:po-detail", kwargs={"org_slug": po.customer.slug, "number": po.number})
    queue_email(
        key=f"{template}:{request.pk}",
        to=[request.requested_by.email, po.requester.email],
        template=template,
        organization=po.customer,
        context={"po": po, "request": request, "url": absolute_url(url), **context},
    )


@transaction.atomic
def withdraw_open_requests(po: PurchaseOrder) -> None:
    """The order was cancelled or sent back: its open request ends (inside the caller's lock)."""
    for request in ApprovalRequest.objects.select_for_update().filter(
        purchase_order=po, status=ApprovalRequest.Status.PENDING
    ):
        transition(request, "withdraw", "withdrawn", noun="This approval")
        request.save()
        request.steps.filter(status__in=[RequestStep.Status.OPEN, RequestStep.Status.WAITING]).update(
            status=RequestStep.Status.SKIPPED
        )
        _revoke(request)


# ------------------------------------------------------------------------------ re-approval


def approved_request(po: PurchaseOrder) -> ApprovalRequest | None:
    return po.approval_requests.filter(status=ApprovalRequest.Status.APPROVED).order_by("-pk").first()


def reapproval_reason(po: PurchaseOrder, lines: list[PurchaseOrderLine]) -> str | None:
    """Why the supplier-accepted ``po`` needs approval again, or None (SPEC §4): its total is
    over the approved total by more than the policy's tolerance, or crosses a step's threshold
    (or the requester's spending limit) that the approved total did not reach."""
    approved = approved_request(po)
    if approved is None or approved.revision_number == po.revision_number or not _configured(po.customer):
        return None  # released before approvals existed, or this revision is approved already
    policy = ApprovalPolicy.objects.filter(organization_id=po.customer_id).first()
    tolerance = policy.reapproval_tolerance_percent if policy else Decimal("0")
    cur = po.currency
    if po.total > approved.total * (1 + tolerance / 100):
        increase = (po.total - approved.total) / approved.total * 100 if approved.total else Decimal("100")
        return (
            f"The accepted total {format_money(po.total, cur)} is {increase.quantize(Decimal('0.1'))} % over the "
            f"approved {format_money(approved.total, cur)} (tolerance {tolerance.normalize():f} %)."
        )
    if po.total <= approved.total:
        return None
    old, new = approved.total_base, _in_base(po, po.total, po.base_rate)
    if old is None or new is None:  # every step applied on submission; cost centers may have changed since
        return (
            f"No exchange rate from {po.currency} to {po.customer.base_currency} was recorded on submission: "
            "the accepted total cannot be measured against the approval thresholds."
        )
    return _crossing(po, old, new, lines, what="The accepted total")


def _crossing(po: PurchaseOrder, old: Decimal, new: Decimal, lines: list[PurchaseOrderLine], *, what: str):
    """The threshold that the base-currency total ``new`` reaches and ``old`` did not — a
    policy step's (for the lines' cost centers) or the requester's spending limit — in words."""
    base = po.customer.base_currency
    cost_centers = {line.cost_center_id for line in _live(lines)}
    crossed = ApprovalStep.objects.filter(
        policy__organization_id=po.customer_id, threshold__gt=old, threshold__lte=new
    ).prefetch_related("cost_centers")
    for step in crossed:
        if _applies_to(step, cost_centers):
            return f"{what} crosses the {format_money(step.threshold, base)} threshold of “{step.name}”."
    limit = spending_limit(_requester_membership(po))
    if limit is not None and old <= limit < new:
        return f"{what} is over {po.requester.full_name}'s spending limit of {format_money(limit, base)}."
    return None


def plan_amendment(
    *, po: PurchaseOrder, old_total: Decimal, lines: list[PurchaseOrderLine], by: Membership
) -> Plan | None:
    """The approval an amendment needs before the supplier sees it, or None (SPEC §4): when the
    new total crosses a threshold the old did not — a policy step's or the requester's spending
    limit — or leaves a budget of the order's cost centers exceeded (SPEC §5). ``po`` carries
    the amended totals in memory and ``lines`` the amended lines. Both totals are measured at
    the rate recorded on submission; without one the increase cannot be measured, and approval
    is asked rather than skipped. Then the steps that apply to the amended order approve it."""
    if not _configured(po.customer) or po.total <= old_total:
        return None  # nothing configured, or nothing more to spend: no threshold can be crossed
    rate = po.base_rate
    old, new = _in_base(po, old_total, rate), _in_base(po, po.total, rate)
    if old is None:
        why = (
            f"No exchange rate from {po.currency} to {po.customer.base_currency} was recorded on submission: "
            "the amended total cannot be measured against the approval thresholds."
        )
    else:
        why = _crossing(po, old, new, lines, what="The amended total")
    if why is None:
        on = po.order_date or timezone.localdate()
        members, exclude = _approving_members(po.customer), {po.requester_id, by.user_id}
        over = _budget_steps(po, _live(lines), rate, on, members=members, exclude=exclude)
        why = over[0].reason if over else None
    if why is None:
        return None
    plan = plan_approval(po, lines, by=by, reason=why, rate=rate)
    return plan if plan.steps else None


@transaction.atomic
def start_amendment_request(*, po: PurchaseOrder, amendment, plan: Plan, by: Membership) -> ApprovalRequest:
    """Start the approval of an amendment (``po`` as amended, in memory): its first step opens."""
    request = start_request(po=po, by=by, plan=plan, kind=ApprovalRequest.Kind.AMENDMENT)
    request.amendment = amendment
    request.save(update_fields=["amendment"])
    return request


def reapproval_refusal(po: PurchaseOrder, *, requests: list[ApprovalRequest] | None = None) -> str | None:
    """Why the order cannot be confirmed now because of its re-approval: one waits for the
    approvers, or the re-approval of this revision was rejected; None otherwise. ``requests``:
    the order's requests newest first, when the caller has read them (else one query)."""
    if requests is None:
        latest = po.approval_requests.order_by("-pk").first()
    else:
        latest = max(requests, key=lambda r: r.pk, default=None)
    if latest is None or latest.kind != ApprovalRequest.Kind.REAPPROVAL or latest.revision_number != po.revision_number:
        return None
    if latest.status == ApprovalRequest.Status.PENDING:
        return "This order waits for re-approval: it is confirmed as soon as it is approved."
    if latest.status == ApprovalRequest.Status.REJECTED:
        return (
            f"The re-approval of revision {po.revision_number} was rejected: request changes from "
            f"{po.supplier.name} or cancel the order."
        )
    return None


@transaction.atomic
def check_reapproval(*, po: PurchaseOrder, by: Membership, lines: list[PurchaseOrderLine]) -> ApprovalRequest | None:
    """Before *Confirm order* (inside its lock): None when the order may be confirmed now;
    otherwise the re-approval request that was started. Refuses while one waits or after
    the re-approval of this revision was rejected."""
    refused = reapproval_refusal(po)
    if refused:
        raise DomainError(refused)
    reason = reapproval_reason(po, lines)
    if reason is None:
        return None
    plan = plan_approval(po, lines, by=by, reason=reason, rate=po.base_rate)  # the rate of submission
    request = start_request(po=po, by=by, plan=plan, kind=ApprovalRequest.Kind.REAPPROVAL)
    if request.status == ApprovalRequest.Status.APPROVED:
        return None
    events.record_event(po, OrderEvent.Kind.SUBMITTED, by=by, body="Sent for internal re-approval before confirmation.")
    return request


# -------------------------------------------------------------------------------- reminders


def remind_approvers(today: date | None = None) -> int:
    """E-mail the approvers of every step open longer than its policy's reminder delay, once
    a day (the outbox key carries the date). Returns how many reminders were queued."""
    today = today or timezone.localdate()
    sent = 0
    steps = (
        RequestStep.objects.filter(status=RequestStep.Status.OPEN)
        .exclude(reminded_on=today)
        .select_related("request__purchase_order__supplier", "request__organization__approval_policy")
        .order_by("opened_at")
    )
    for step in steps.iterator(chunk_size=200):
        policy = getattr(step.request.organization, "approval_policy", None)
        days = policy.reminder_after_days if policy else 2
        if step.opened_at.date() > today - timedelta(days=days):
            continue
        with transaction.atomic():
            locked = RequestStep.objects.select_for_update().filter(pk=step.pk, status=RequestStep.Status.OPEN)
            if not locked.exclude(reminded_on=today).exists():
                continue
            waiting = step.approvers.exclude(pk__in=step.decisions.values("user_id"))
            to = [u.email for u in waiting if u.is_active]
            if not to:
                continue
            request = step.request
            queue_email(
                key=f"approval_reminder:{step.pk}:{today.isoformat()}",
                to=to,
                template="approval_reminder",
                organization=request.organization,
                context={
                    "po": request.purchase_order,
                    "request": request,
                    "step": step,
                    "days": (today - step.opened_at.date()).days,
                    "url": absolute_url(decision_path(request)),
                },
            )
            locked.update(reminded_on=today)
            sent += 1
    return sent
