"""Approval policies (with their steps inline), spending limits and budgets, for each
organization's admins (scoped: see ``accounts.admin_scoping``); approval requests, read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.utils.html import format_html, format_html_join

from accounts.admin_scoping import OrganizationScopedAdmin, ScopedInlineMixin, administered, base_currency_of
from accounts.models import Membership, User
from accounts.roles import Role
from procurement.admin_rules import in_currency
from procurement.money import format_money

from .models import (
    APPROVING_ROLES,
    LIMIT_PERMISSION,
    LIMIT_ROLES,
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalStep,
    Budget,
    SpendingLimit,
    may_approve,
)
from .selectors import with_spend


class ApprovalStepForm(forms.ModelForm):
    class Meta:
        model = ApprovalStep
        fields = ["position", "name", "threshold", "rule", "approver_role", "approvers", "cost_centers"]

    def clean(self):
        data = super().clean()
        policy = getattr(self.instance, "policy", None)
        org_id = policy.organization_id if policy is not None else None
        if not data.get("approvers") and not data.get("approver_role"):
            self.add_error("approvers", "Name the approvers, or a role whose members approve, or both.")
        if org_id:
            strangers = [cc for cc in data.get("cost_centers") or [] if cc.organization_id != org_id]
            if strangers:
                self.add_error("cost_centers", "Choose cost centers of the policy's organization.")
            refused = [u for u in data.get("approvers") or [] if not may_approve(u.pk, org_id)]
            if refused:
                names = ", ".join(str(u) for u in refused)
                self.add_error("approvers", f"Not an admin or approver of the organization: {names}.")
        return data


def approving_users(request) -> QuerySet:
    """The people who may be named to approve: admins and approvers of the organizations the
    signed-in person administers (of every organization, for a superuser)."""
    memberships = Membership.objects.all()
    if not request.user.is_superuser:
        memberships = memberships.filter(organization__in=administered(request))
    approving = {r.value for r in APPROVING_ROLES}
    pks = {user_id for user_id, roles in memberships.values_list("user_id", "roles") if approving & set(roles)}
    return User.objects.filter(pk__in=pks, is_active=True)


class ApprovalStepInline(ScopedInlineMixin, admin.StackedInline):
    model = ApprovalStep
    form = ApprovalStepForm
    extra = 0
    fields = [("position", "name"), ("threshold", "rule"), ("approver_role", "approvers"), "cost_centers"]
    filter_horizontal = ["approvers", "cost_centers"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        in_currency(formset.form, "threshold", base_currency_of(request, obj))
        return formset

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "approvers":
            kwargs["queryset"] = approving_users(request)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(OrganizationScopedAdmin):
    list_display = ["organization", "step_list", "reapproval_tolerance_percent", "reminder_after_days"]
    list_select_related = ["organization"]
    inlines = [ApprovalStepInline]

    def get_readonly_fields(self, request, obj=None):
        return ["organization"] if obj is not None else []  # a policy (and its steps) stays with its organization

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("steps")

    @admin.display(description="steps")
    def step_list(self, policy):
        currency = policy.organization.base_currency
        return "; ".join(f"{s.name} ≥ {format_money(s.threshold, currency)}" for s in policy.steps.all()) or "—"


class LimitRoleFilter(admin.SimpleListFilter):
    """The list's "by role" filter: the roles a limit can be for (LIMIT_ROLES), not every role."""

    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [(r.value, r.label) for r in Role if r in LIMIT_ROLES]

    def queryset(self, request, queryset):
        return queryset.filter(role=self.value()) if self.value() else queryset


@admin.register(SpendingLimit)
class SpendingLimitAdmin(OrganizationScopedAdmin):
    list_display = ["who", "amount_display", "organization"]
    list_select_related = ["organization", "user"]
    list_filter = [LimitRoleFilter]
    fields = ["organization", "user", "role", "amount"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":  # people who submit orders, in the organizations this admin runs
            members = (
                Membership.objects.all()
                if request.user.is_superuser
                else Membership.objects.filter(organization__in=administered(request))
            )
            buyers = {m.user_id for m in members if m.may(LIMIT_PERMISSION)}
            kwargs["queryset"] = User.objects.filter(pk__in=buyers).order_by("full_name", "email")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        in_currency(form, "amount", base_currency_of(request, obj))
        return form

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role":  # a limit is for people who release orders: roles that can buy
            kwargs["choices"] = [("", "—"), *((r.value, r.label) for r in Role if r in LIMIT_ROLES)]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    @admin.display(description="for", ordering="user__full_name")
    def who(self, limit):
        return str(limit.user) if limit.user_id else f"Every {limit.get_role_display().lower()}"

    @admin.display(description="limit", ordering="amount")
    def amount_display(self, limit):
        return format_money(limit.amount, limit.organization.base_currency)


@admin.register(Budget)
class BudgetAdmin(OrganizationScopedAdmin):
    list_display = ["cost_center", "period", "amount_display", "committed_display", "remaining", "owner"]
    list_select_related = ["organization", "cost_center", "owner"]
    list_filter = ["period_start"]
    search_fields = ["cost_center__code", "cost_center__name", "name"]
    fields = ["organization", "cost_center", "name", ("period_start", "period_end"), "amount", "owner"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        in_currency(form, "amount", base_currency_of(request, obj))
        return form

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner":
            kwargs["queryset"] = approving_users(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_queryset(self, request):
        return with_spend(super().get_queryset(request))

    @admin.display(description="period", ordering="period_start")
    def period(self, budget):
        return budget.period_label

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, budget):
        return format_money(budget.amount, budget.organization.base_currency)

    @admin.display(description="committed")
    def committed_display(self, budget):
        return format_money(budget.committed, budget.organization.base_currency)

    @admin.display(description="remaining")
    def remaining(self, budget):
        return format_money(budget.amount - budget.committed, budget.organization.base_currency)


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(OrganizationScopedAdmin):
    """Requests are written by the services only; the admin shows them with their decisions."""

    list_display = ["purchase_order", "kind", "status", "total_display", "requested_by", "created_at"]
    list_select_related = ["purchase_order", "requested_by"]
    list_filter = ["status", "kind"]
    search_fields = ["purchase_order__number"]
    fields = [
        "organization",
        "purchase_order",
        "kind",
        "status",
        "requested_by",
        "total_display",
        "summary",
        "created_at",
        "decided_at",
        "steps_and_decisions",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="total")
    def total_display(self, request):
        return format_money(request.total, request.currency)

    @admin.display(description="steps")
    def steps_and_decisions(self, request):
        rows = []
        for step in request.steps.prefetch_related("approvers", "decisions__user"):
            decisions = format_html_join(
                "",
                "<li>{} by {} on {:%d %b %Y %H:%M}{}</li>",
                (
                    (d.get_verdict_display(), d.user, d.created_at, f": {d.comment}" if d.comment else "")
                    for d in step.decisions.all()
                ),
            )
            rows.append(
                format_html(
                    "<p><strong>{}. {}</strong> — {} ({}); approvers: {}</p><ul>{}</ul>",
                    step.position,
                    step.name,
                    step.get_status_display(),
                    step.reason,
                    ", ".join(str(u) for u in step.approvers.all()),
                    decisions,
                )
            )
        return format_html_join("", "{}", ((row,) for row in rows)) or "—"
