"""Names, numbers and dates an organization's admin enters in the Django admin follow the
rules of the pages: plain text, ASCII digits within the column, business dates in a window.
And every admin form of the site (and of its inlines) applies them: no admin is left out."""

from decimal import Decimal

import pytest
from django import forms
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from accounts.roles import Role
from approvals.models import Budget, SpendingLimit
from orders.models import CostCenter, GLAccount
from procurement.admin_rules import InputRulesMixin
from procurement.forms import DecimalField, IntegerField
from procurement.validators import business_date, no_markup
from tests.factories import ApprovalPolicyFactory, CostCenterFactory, OrganizationFactory, UserFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def org_admin(client):
    org = OrganizationFactory()
    me = member(org, Role.ADMIN)
    client.force_login(me.user)
    return me


def step_data(policy, step, **step_values):
    return {
        "organization": policy.organization_id,
        "reapproval_tolerance_percent": "0",
        "reminder_after_days": "2",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "1",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "steps-0-id": step.pk,
        "steps-0-policy": policy.pk,
        "steps-0-position": "1",
        "steps-0-name": "Department head",
        "steps-0-threshold": "10",
        "steps-0-rule": "any",
        "steps-0-approver_role": "approver",
        **{f"steps-0-{k}": v for k, v in step_values.items()},
    }


@pytest.fixture
def policy(org_admin):
    return ApprovalPolicyFactory(
        organization=org_admin.organization,
        steps=[{"name": "Department head", "threshold": Decimal("10"), "approver_role": "approver"}],
    )


@pytest.mark.parametrize(
    "values,field",
    [
        ({"name": "<b>Boss</b>"}, "name"),
        ({"name": "Boss\x00"}, "name"),
        ({"threshold": "٥"}, "threshold"),
        ({"threshold": "+5"}, "threshold"),
        ({"threshold": "1" * 20}, "threshold"),
        ({"position": "40000"}, "position"),
    ],
)
def test_an_approval_step_in_the_admin_follows_the_rules(client, policy, values, field):
    step = policy.steps.get()
    response = client.post(
        reverse("admin:approvals_approvalpolicy_change", args=[policy.pk]), step_data(policy, step, **values)
    )
    assert response.status_code == 200
    assert field in response.context["inline_admin_formsets"][0].formset.errors[0]
    step.refresh_from_db()
    assert (step.name, step.threshold, step.position) == ("Department head", Decimal("10"), 1)


def test_a_plain_step_is_saved(client, policy):
    step = policy.steps.get()
    response = client.post(
        reverse("admin:approvals_approvalpolicy_change", args=[policy.pk]), step_data(policy, step, name="Finance & Co")
    )
    assert response.status_code == 302
    assert policy.steps.get().name == "Finance & Co"


def budget_data(org_admin, **values):
    cost_center = CostCenterFactory(organization=org_admin.organization)
    approver = member(org_admin.organization, Role.APPROVER)
    return {
        "organization": org_admin.organization_id,
        "cost_center": cost_center.pk,
        "name": "FY2027",
        "period_start": "2027-01-01",
        "period_end": "2027-12-31",
        "amount": "1000",
        "owner": approver.user_id,
        **values,
    }


@pytest.mark.parametrize(
    "values,fields",
    [
        ({"name": "<img src=x onerror=alert(1)>"}, {"name"}),
        ({"period_start": "0001-01-01", "period_end": "9999-12-31"}, {"period_start", "period_end"}),
        ({"amount": "٥٠٠"}, {"amount"}),
    ],
)
def test_a_budget_in_the_admin_follows_the_rules(client, org_admin, values, fields):
    response = client.post(reverse("admin:approvals_budget_add"), budget_data(org_admin, **values))
    assert response.status_code == 200
    assert fields <= set(response.context["adminform"].form.errors)
    assert not Budget.objects.exists()


def test_a_plain_budget_is_saved(client, org_admin):
    response = client.post(reverse("admin:approvals_budget_add"), budget_data(org_admin))
    assert response.status_code == 302
    assert Budget.objects.get().name == "FY2027"


@pytest.mark.parametrize("model", [CostCenter, GLAccount])
@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "Ops\x00"])
def test_cost_center_and_gl_account_names_in_the_admin_are_plain_text(client, org_admin, model, name):
    path = reverse(f"admin:orders_{model._meta.model_name}_add")
    response = client.post(
        path, {"organization": org_admin.organization_id, "code": "X1", "name": name, "is_active": "on"}
    )
    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    assert not model.objects.exists()


def test_a_spending_limit_takes_ascii_digits(client, org_admin):
    response = client.post(
        reverse("admin:approvals_spendinglimit_add"),
        {"organization": org_admin.organization_id, "role": "buyer", "amount": "+500"},
    )
    assert response.status_code == 200 and "amount" in response.context["adminform"].form.errors
    assert not SpendingLimit.objects.exists()


def _form_fields(model_admin, request):
    """Every form field an admin page can show: the model's form and its inlines' forms."""
    form = model_admin.get_form(request)
    fields = [(model_admin, name, field) for name, field in form.base_fields.items()]
    for inline in model_admin.get_inline_instances(request):
        formset = inline.get_formset(request)
        fields += [(inline, name, field) for name, field in formset.form.base_fields.items()]
    return fields


def test_every_admin_and_inline_of_the_site_applies_the_rules():
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    checked = set()
    for model_admin in admin.site._registry.values():
        assert isinstance(model_admin, InputRulesMixin), f"{type(model_admin).__name__} does not apply the input rules"
        for inline in model_admin.get_inline_instances(request):
            assert isinstance(inline, InputRulesMixin), f"{type(inline).__name__} does not apply the input rules"
        for owner, name, field in _form_fields(model_admin, request):
            where = f"{type(owner).__name__}.{name}"
            if isinstance(field, forms.CharField) and not isinstance(field.widget, forms.PasswordInput):
                assert no_markup in field.validators, where
            if isinstance(field, forms.DateField):
                assert business_date in field.validators, where
            if isinstance(field, forms.DecimalField):
                assert isinstance(field, DecimalField), where
            if isinstance(field, forms.IntegerField) and not isinstance(field, forms.DecimalField):
                assert isinstance(field, IntegerField) and field.max_value is not None, where
            checked.add(where)
    assert {"ApprovalStepInline.name", "BudgetAdmin.name", "OrganizationAdmin.name", "GroupAdmin.name"} <= checked
    assert {"LocationInline.name", "PriceBreakInline.unit_price"} <= checked  # inlines without our mixin class
