"""Internal approvals of purchase orders (SPEC §5): each customer organization's policy with its
ordered steps, spending limits, budgets, and the approval requests with their steps and decisions.

Policies, limits and budgets are configured in the Django admin (scoped to the organization's
admins, see ``approvals.admin``); requests, steps and decisions are written only by
``approvals.services``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition

from accounts.models import Membership, Organization
from accounts.roles import Role, roles_granting
from orders.models import CostCenter, PurchaseOrder
from orders.models.fields import money_field
from procurement.money import format_money

# The roles whose members may approve (SPEC §2: "approve / reject (when assigned)").
APPROVING_ROLES = (Role.ADMIN, Role.APPROVER)
APPROVER_ROLE_CHOICES = [(r.value, r.label) for r in APPROVING_ROLES]
# A spending limit is the requester's (SPEC §5): for the roles that submit orders.
LIMIT_PERMISSION = "orders.submit_purchaseorder"  # who has a spending limit: people who submit orders
LIMIT_ROLES = roles_granting(LIMIT_PERMISSION)


def may_approve(user_id: int, organization_id: int) -> bool:
    """Whether the user is a member of the organization with a role that approves."""
    roles = Membership.objects.filter(user_id=user_id, organization_id=organization_id).values_list("roles", flat=True)
    return any(set(r) & {role.value for role in APPROVING_ROLES} for r in roles)


class ApprovalPolicy(models.Model):
    """How one customer organization approves its purchase orders."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="approval_policy")
    reapproval_tolerance_percent = models.DecimalField(
        "re-approval tolerance (%)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="A supplier-accepted total more than this much over the approved total is approved again "
        "before the order can be confirmed. Crossing a step's threshold always is.",
    )
    reminder_after_days = models.PositiveSmallIntegerField(
        "remind approvers after (days)",
        default=2,
        help_text="Approvers get a daily reminder of a step waiting longer than this.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "approval policies"
        ordering = ["organization__name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reapproval_tolerance_percent__gte=0), name="tolerance_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"Approval policy of {self.organization}"


class ApprovalStep(models.Model):
    """A step of a policy: applies when the PO total in base currency reaches its threshold
    (and, if cost centers are named, when a line is coded to one of them)."""

    class Rule(models.TextChoices):
        ANY = "any", "One of them approves"
        ALL = "all", "All of them approve"

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="steps")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", editable=False)
    position = models.PositiveSmallIntegerField(help_text="Steps run in this order, lowest first.")
    name = models.CharField(max_length=100, help_text="What approvers see, e.g. “Department head” or “Finance”.")
    threshold = money_field(
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Applies when the order total, in base currency, is at least this.",
    )
    cost_centers = models.ManyToManyField(
        CostCenter, blank=True, related_name="+", help_text="Only for orders with lines of these (none: every order)."
    )
    approvers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", help_text="Named approvers (admins or approvers)."
    )
    approver_role = models.CharField(
        max_length=20,
        choices=APPROVER_ROLE_CHOICES,
        blank=True,
        help_text="And/or every member with this role.",
    )
    rule = models.CharField(max_length=3, choices=Rule.choices, default=Rule.ANY)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "position"],
                name="one_step_per_position",
                violation_error_message="Two steps cannot share a position.",
            ),
            models.CheckConstraint(condition=models.Q(threshold__gte=0), name="threshold_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"

    def save(self, *args, **kwargs) -> None:
        self.organization_id = self.policy.organization_id
        super().save(*args, **kwargs)


class SpendingLimit(models.Model):
    """Up to ``amount`` (base currency) a person, or everyone with a role, may release an
    order that no step applies to without approval. A person's own limit wins over their
    roles'; of several roles, the highest limit counts."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="spending_limits")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    amount = money_field(validators=[MinValueValidator(Decimal("0"))], help_text="In base currency.")

    class Meta:
        ordering = ["organization__name", "role", "user__full_name"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(user__isnull=False) & models.Q(role=""))
                | (models.Q(user__isnull=True) & ~models.Q(role="")),
                name="limit_for_user_or_role",
                violation_error_message="A limit is for one person or for one role: choose exactly one.",
            ),
            models.UniqueConstraint(
                fields=["organization", "user"],
                condition=models.Q(user__isnull=False),
                name="one_limit_per_user",
                violation_error_message="This person has a spending limit already: change that one.",
            ),
            models.UniqueConstraint(
                fields=["organization", "role"],
                condition=~models.Q(role=""),
                name="one_limit_per_role",
                violation_error_message="This role has a spending limit already: change that one.",
            ),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="limit_not_negative"),
        ]

    def __str__(self) -> str:
        if self.user_id:
            who = str(self.user)
        elif self.role in Role.values:
            who = f"Every {Role(self.role).label.lower()}"
        else:
            who = "Spending limit"
        if self.amount is None or not self.organization_id:
            return who
        return f"{who}: {format_money(self.amount, self.organization.base_currency)}"

    def clean(self) -> None:
        if self.role and self.role not in LIMIT_ROLES:
            names = " or ".join(sorted(Role(r).label.lower() for r in LIMIT_ROLES))
            raise ValidationError({"role": f"Only people who submit orders have a spending limit: {names}."})
        members = Membership.objects.filter(user_id=self.user_id, organization_id=self.organization_id)
        if self.user_id and self.organization_id:
            membership = members.first()
            if membership is None:
                raise ValidationError({"user": "This person is not a member of the organization."})
            if not membership.may(LIMIT_PERMISSION):
                roles = ", ".join(membership.role_labels).lower() or "no role"
                raise ValidationError(
                    {"user": f"This person ({roles}) does not submit orders: a spending limit would never apply."}
                )


class Budget(models.Model):
    """What a cost center may commit in a period. An order that would take it over needs the
    owner's approval; committed spend = the approved and later orders of the period."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="budgets")
    cost_center = models.ForeignKey(CostCenter, on_delete=models.PROTECT, related_name="budgets")
    name = models.CharField(max_length=100, blank=True, help_text="E.g. “FY2026 Q4”. Blank: the dates.")
    period_start = models.DateField()
    period_end = models.DateField()
    amount = money_field(validators=[MinValueValidator(Decimal("0"))], help_text="In base currency, before tax.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Approves orders that would exceed the budget (an admin or approver).",
    )

    class Meta:
        ordering = ["-period_start", "cost_center__code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(period_end__gte=models.F("period_start")), name="period_order"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="budget_not_negative"),
            models.UniqueConstraint(
                fields=["cost_center", "period_start"],
                name="one_budget_per_cost_center_and_start",
                violation_error_message="This cost center has a budget starting that day already.",
            ),
        ]
        indexes = [models.Index(fields=["organization", "cost_center", "period_start"])]

    def __str__(self) -> str:
        return f"{self.cost_center.code} {self.period_label}"

    @property
    def period_label(self) -> str:
        return self.name or f"{self.period_start:%d %b %Y} – {self.period_end:%d %b %Y}"

    def clean(self) -> None:
        errors = {}
        if self.cost_center_id and self.organization_id and self.cost_center.organization_id != self.organization_id:
            errors["cost_center"] = "Choose a cost center of the same organization."
        if self.owner_id and self.organization_id and not may_approve(self.owner_id, self.organization_id):
            errors["owner"] = "The owner approves: choose an admin or approver of the organization."
        if self.period_start and self.period_end:
            if self.period_end < self.period_start:
                errors["period_end"] = "The period ends before it starts."
            elif self.cost_center_id:
                overlapping = Budget.objects.filter(
                    cost_center_id=self.cost_center_id,
                    period_start__lte=self.period_end,
                    period_end__gte=self.period_start,
                ).exclude(pk=self.pk)
                if overlapping.exists():
                    errors["period_start"] = "This cost center has a budget overlapping these dates already."
        if errors:
            raise ValidationError(errors)


class ApprovalRequest(FSMModelMixin, models.Model):
    """One submission (or re-approval) of a purchase order, with its steps and decisions."""

    class Kind(models.TextChoices):
        SUBMISSION = "submission", "Submission"
        REAPPROVAL = "reapproval", "Re-approval"
        AMENDMENT = "amendment", "Amendment"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="approval_requests")
    amendment = models.ForeignKey(
        "orders.Amendment", on_delete=models.CASCADE, null=True, blank=True, related_name="approval_requests"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.SUBMISSION)
    status = FSMField(max_length=12, choices=Status.choices, default=Status.PENDING, protected=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revision_number = models.PositiveIntegerField(default=0, help_text="The order's revision it approves.")
    currency = models.CharField(max_length=3)
    total = money_field()
    base_currency = models.CharField(max_length=3)
    total_base = money_field(null=True, blank=True, help_text="Empty: no exchange rate to the base currency.")
    summary = models.TextField(blank=True, help_text="Why approval was (or was not) needed.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("approve_approvalrequest", "Approve or reject purchase orders")]
        indexes = [models.Index(fields=["organization", "status"])]
        constraints = [
            # At most one open request per order: two submissions racing cannot both start one.
            models.UniqueConstraint(
                fields=["purchase_order"], condition=models.Q(status="pending"), name="one_open_request_per_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.purchase_order} ({self.get_status_display().lower()})"

    @transition(field=status, source=Status.PENDING, target=Status.APPROVED)
    def approve(self) -> None:
        self.decided_at = timezone.now()

    @transition(field=status, source=Status.PENDING, target=Status.REJECTED)
    def reject(self) -> None:
        self.decided_at = timezone.now()

    @transition(field=status, source=Status.PENDING, target=Status.WITHDRAWN)
    def withdraw(self) -> None:
        self.decided_at = timezone.now()


class RequestStep(models.Model):
    """A step of one request: who may decide it (fixed when the request starts) and where it is."""

    class Kind(models.TextChoices):
        POLICY = "policy", "Policy step"
        BUDGET = "budget", "Budget"

    class Status(models.TextChoices):
        WAITING = "waiting", "Not yet open"
        OPEN = "open", "Waiting for a decision"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        SKIPPED = "skipped", "Not needed"

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="steps")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.POLICY)
    name = models.CharField(max_length=100)
    reason = models.CharField(max_length=300, help_text="Why this step applies.")
    rule = models.CharField(max_length=3, choices=ApprovalStep.Rule.choices, default=ApprovalStep.Rule.ANY)
    policy_step = models.ForeignKey(ApprovalStep, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    budget = models.ForeignKey(Budget, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    approvers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="approval_steps")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    opened_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    reminded_on = models.DateField(null=True, blank=True, help_text="The last day a reminder went out.")

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["request", "position"], name="one_request_step_per_position")]
        indexes = [models.Index(fields=["status", "opened_at"])]

    def __str__(self) -> str:
        return f"{self.position}. {self.name} ({self.get_status_display().lower()})"


class Decision(models.Model):
    """Who decided a step, when, how, and what they said."""

    class Verdict(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    step = models.ForeignKey(RequestStep, on_delete=models.CASCADE, related_name="decisions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["step", "user"], name="one_decision_per_person_and_step"),
            models.CheckConstraint(
                condition=~models.Q(verdict="rejected") | ~models.Q(comment=""), name="rejection_has_comment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_verdict_display()} by {self.user} at {self.created_at:%Y-%m-%d %H:%M}"
