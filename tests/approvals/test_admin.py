"""The Django admin for organization admins: their own organization's rows, nothing else's —
by changelist, by URL, in choices, by posted ids and through actions."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.roles import Role
from approvals.models import ApprovalPolicy, Budget, SpendingLimit
from orders.models import CostCenter, GLAccount
from tests.factories import (
    ApprovalPolicyFactory,
    BudgetFactory,
    CostCenterFactory,
    GLAccountFactory,
    OrganizationFactory,
    SpendingLimitFactory,
    member,
)

pytestmark = pytest.mark.django_db

SCOPED = [ApprovalPolicy, SpendingLimit, Budget, CostCenter, GLAccount]


@pytest.fixture
def two():
    """Two buying organizations with one of every configuration row each."""
    world = {}
    for key in ("mine", "theirs"):
        org = OrganizationFactory(name=f"Org {key}")
        admin_member = member(org, Role.ADMIN)
        approver = member(org, Role.APPROVER)
        cc = CostCenterFactory(organization=org, code=f"CC-{key}")
        gl = GLAccountFactory(organization=org, code=f"GL-{key}")
        policy = ApprovalPolicyFactory(
            organization=org,
            steps=[{"name": f"Step {key}", "threshold": Decimal("10"), "approvers": [approver.user]}],
        )
        limit = SpendingLimitFactory(organization=org, role="buyer", amount=Decimal("100"))
        budget = BudgetFactory(
            organization=org,
            cost_center=cc,
            period_start="2026-01-01",
            period_end="2026-12-31",
            amount=Decimal("1000"),
            owner=approver.user,
        )
        world[key] = {
            "org": org,
            "admin": admin_member,
            "approver": approver,
            "cc": cc,
            "gl": gl,
            "policy": policy,
            "limit": limit,
            "budget": budget,
        }
    return world


def _url(obj, view="change"):
    meta = obj._meta
    args = [obj.pk] if view != "changelist" else []
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def test_an_organization_admin_sees_only_their_own_rows(client, two):
    client.force_login(two["mine"]["admin"].user)
    assert client.get(reverse("admin:index")).status_code == 200
    for key in ("policy", "limit", "budget", "cc", "gl"):
        mine, theirs = two["mine"][key], two["theirs"][key]
        listing = client.get(_url(mine, "changelist"))
        assert listing.status_code == 200
        assert list(listing.context["cl"].queryset) == [mine], key
        assert client.get(_url(mine)).status_code == 200
        assert client.get(_url(theirs)).status_code == 404, key
        assert client.get(_url(theirs, "delete")).status_code == 404, key
        assert client.get(_url(theirs, "history")).status_code == 404, key
        assert client.post(_url(theirs, "delete"), {"post": "yes"}).status_code == 404, key
        assert type(theirs).objects.filter(pk=theirs.pk).exists()


def test_their_rows_are_never_offered_as_choices(client, two):
    client.force_login(two["mine"]["admin"].user)
    page = client.get(_url(two["mine"]["budget"]))
    form = page.context["adminform"].form
    assert list(form.fields["cost_center"].queryset) == [two["mine"]["cc"]]
    assert list(form.fields["organization"].queryset) == [two["mine"]["org"]]
    assert two["theirs"]["approver"].user not in form.fields["owner"].queryset
    page = client.get(_url(two["mine"]["policy"]))
    step_form = page.context["inline_admin_formsets"][0].formset.forms[0]
    assert list(step_form.fields["cost_centers"].queryset) == [two["mine"]["cc"]]
    assert two["theirs"]["approver"].user not in step_form.fields["approvers"].queryset
    content = page.content.decode()
    assert "CC-theirs" not in content and two["theirs"]["approver"].user.email not in content


def test_their_ids_cannot_be_posted(client, two):
    mine, theirs = two["mine"], two["theirs"]
    client.force_login(mine["admin"].user)
    response = client.post(
        reverse("admin:approvals_budget_add"),
        {
            "organization": mine["org"].pk,
            "cost_center": theirs["cc"].pk,
            "period_start": "2027-01-01",
            "period_end": "2027-12-31",
            "amount": "5",
            "owner": theirs["approver"].user.pk,
        },
    )
    assert response.status_code == 200  # the form again, with errors
    errors = response.context["adminform"].form.errors
    assert "cost_center" in errors and "owner" in errors
    response = client.post(
        reverse("admin:approvals_spendinglimit_add"),
        {"organization": theirs["org"].pk, "role": "approver", "amount": "5"},
    )
    assert "organization" in response.context["adminform"].form.errors
    assert Budget.objects.count() == 2 and SpendingLimit.objects.count() == 2
    # An inline step naming their cost center or their approver.
    policy = mine["policy"]
    step = policy.steps.get()
    data = {
        "organization": mine["org"].pk,
        "reapproval_tolerance_percent": "0",
        "reminder_after_days": "2",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "1",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "steps-0-id": step.pk,
        "steps-0-policy": policy.pk,
        "steps-0-position": "1",
        "steps-0-name": "Step",
        "steps-0-threshold": "10",
        "steps-0-rule": "any",
        "steps-0-approvers": [theirs["approver"].user.pk],
        "steps-0-cost_centers": [theirs["cc"].pk],
    }
    response = client.post(_url(policy), data)
    assert response.status_code == 200
    step_errors = response.context["inline_admin_formsets"][0].formset.errors[0]
    assert "approvers" in step_errors and "cost_centers" in step_errors
    assert list(step.approvers.all()) == [mine["approver"].user] and not step.cost_centers.exists()
    # Moving one's own row to their organization.
    response = client.post(_url(mine["limit"]), {"organization": theirs["org"].pk, "role": "buyer", "amount": "100"})
    assert response.status_code == 200
    mine["limit"].refresh_from_db()
    assert mine["limit"].organization == mine["org"]


def test_actions_act_on_their_own_rows_only(client, two):
    mine, theirs = two["mine"], two["theirs"]
    client.force_login(mine["admin"].user)
    response = client.post(
        reverse("admin:approvals_spendinglimit_changelist"),
        {"action": "delete_selected", "_selected_action": [mine["limit"].pk, theirs["limit"].pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not SpendingLimit.objects.filter(pk=mine["limit"].pk).exists()
    assert SpendingLimit.objects.filter(pk=theirs["limit"].pk).exists()


def test_a_policy_edits_its_steps_on_one_page_and_numbering_is_theirs(client, two):
    mine, theirs = two["mine"], two["theirs"]
    client.force_login(mine["admin"].user)
    policy = mine["policy"]
    step = policy.steps.get()
    response = client.post(
        _url(policy),
        {
            "organization": mine["org"].pk,
            "reapproval_tolerance_percent": "5",
            "reminder_after_days": "3",
            "steps-TOTAL_FORMS": "2",
            "steps-INITIAL_FORMS": "1",
            "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "1000",
            "steps-0-id": step.pk,
            "steps-0-policy": policy.pk,
            "steps-0-position": "1",
            "steps-0-name": "Manager",
            "steps-0-threshold": "10",
            "steps-0-rule": "any",
            "steps-0-approvers": [mine["approver"].user.pk],
            "steps-1-policy": policy.pk,
            "steps-1-position": "2",
            "steps-1-name": "Admins",
            "steps-1-threshold": "5000",
            "steps-1-rule": "all",
            "steps-1-approver_role": "admin",
        },
    )
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    assert [(s.name, s.organization_id) for s in policy.steps.all()] == [
        ("Manager", mine["org"].pk),
        ("Admins", mine["org"].pk),
    ]
    # Numbering: their own organization's prefixes, nobody else's organization.
    assert client.get(_url(theirs["org"])).status_code == 404
    response = client.post(
        _url(mine["org"]),
        {
            "po_prefix": "NW",
            "so_prefix": "SO",
            "invoice_prefix": "INV",
            "bill_prefix": "BILL",
            "rma_prefix": "RMA",
            "credit_note_prefix": "CN",
            "debit_note_prefix": "DN",
            "sequences-TOTAL_FORMS": "0",  # the read-only inline of the sequences
            "sequences-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    mine["org"].refresh_from_db()
    assert mine["org"].po_prefix == "NW" and mine["org"].name == "Org mine"


def test_people_and_platform_rows_stay_with_superusers(client, two):
    client.force_login(two["mine"]["admin"].user)
    for name in ("accounts_user", "accounts_membership", "accounts_connection", "accounts_outboundemail"):
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 403, name
    index = client.get(reverse("admin:index"))
    shown = {m["object_name"] for app in index.context["app_list"] for m in app["models"]}
    assert shown == {
        "ApprovalPolicy",
        "SpendingLimit",
        "Budget",
        "ApprovalRequest",
        "CostCenter",
        "GLAccount",
        "Organization",
        "ExchangeRate",  # billing: the organization's own rate table
    }


def test_a_superuser_sees_every_organizations_rows(client, two):
    from accounts.models import User

    root = User.objects.create_superuser(email="root@example.com", password="x", full_name="Root")
    client.force_login(root)
    for model in SCOPED:
        changelist = client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
        assert changelist.context["cl"].result_count == 2, model
    assert set(admin.site._registry) >= set(SCOPED)


def test_bad_input_is_shown_by_the_field_and_a_policy_keeps_its_organization(client, two):
    mine = two["mine"]
    client.force_login(mine["admin"].user)
    response = client.post(_url(mine["limit"]), {"organization": mine["org"].pk, "role": "", "amount": "-1"})
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "amount" in form.errors and "exactly one" in str(form.errors)
    assert client.get(_url(mine["policy"])).context["adminform"].form.fields.get("organization") is None


def test_the_view_on_site_redirect_is_for_platform_staff(client, two):
    from django.contrib.contenttypes.models import ContentType

    client.force_login(two["mine"]["admin"].user)
    ct = ContentType.objects.get_for_model(two["theirs"]["org"])
    assert client.get(reverse("admin:view_on_site", args=[ct.pk, two["theirs"]["org"].pk])).status_code == 404


# --- issue 18 #16: amounts with their currency, sensible choices, filter widgets ---------------


def test_amounts_show_their_currency_and_its_decimals(client, two):
    mine = two["mine"]
    currency = mine["org"].base_currency
    client.force_login(mine["admin"].user)
    page = client.get(_url(mine["policy"])).content.decode()
    assert 'name="steps-0-threshold" value="10.00"' in page and "10.0000" not in page
    assert f"Threshold ({currency})" in page
    page = client.get(_url(mine["limit"])).content.decode()
    assert 'name="amount" value="100.00"' in page and f"Amount ({currency})" in page
    assert f"Every buyer: 100.00 {currency}" in page  # the page's title names the limit as money
    page = client.get(_url(mine["budget"])).content.decode()
    assert 'name="amount" value="1000.00"' in page
    changelist = client.get(_url(mine["limit"], "changelist")).content.decode()
    assert f"100.00 {currency}" in changelist
    add = client.get(reverse("admin:approvals_spendinglimit_add")).content.decode()
    assert f"Amount ({currency})" in add  # their one organization's currency


def test_spending_limits_are_offered_for_roles_that_buy_only(client, two):
    mine = two["mine"]
    client.force_login(mine["admin"].user)
    response = client.get(reverse("admin:approvals_spendinglimit_add"))
    choices = [value for value, _ in response.context["adminform"].form.fields["role"].choices]
    assert choices == ["", "admin", "buyer"]
    response = client.post(
        reverse("admin:approvals_spendinglimit_add"),
        {"organization": mine["org"].pk, "role": "receiver", "amount": "50"},
    )
    assert response.status_code == 200 and "receiver" in str(response.context["adminform"].form.errors["role"])
    limit = SpendingLimit(organization=mine["org"], role="payables", amount=Decimal("5"))
    with pytest.raises(ValidationError, match="Only people who submit orders have a spending limit"):
        limit.full_clean()


def test_an_admin_of_one_organization_finds_it_chosen_without_an_empty_choice(client, two):
    mine = two["mine"]
    client.force_login(mine["admin"].user)
    for name in ("approvals_spendinglimit_add", "approvals_budget_add", "approvals_approvalpolicy_add"):
        form = client.get(reverse(f"admin:{name}")).context["adminform"].form
        field = form.fields["organization"]
        assert [value for value, _ in field.choices] == [mine["org"].pk], name  # no "---------"
        assert form.initial["organization"] == mine["org"].pk, name


def test_several_are_chosen_with_the_filter_widget_not_control_click(client, two):
    mine = two["mine"]
    client.force_login(mine["admin"].user)
    page = client.get(_url(mine["policy"])).content.decode()
    assert "Hold down" not in page
    assert 'class="selectfilter"' in page and 'data-field-name="approvers"' in page
    assert 'data-field-name="cost centers"' in page


def test_a_persons_spending_limit_is_for_someone_who_submits_orders(client, two):
    """The person select offers people who submit orders only, and a limit for anybody else (a
    receiver, say) is refused next to the field; the list filters by the roles a limit can be for."""
    mine = two["mine"]
    buyer, receiver = member(mine["org"], Role.BUYER), member(mine["org"], Role.RECEIVER)
    client.force_login(mine["admin"].user)
    add = reverse("admin:approvals_spendinglimit_add")
    people = client.get(add).context["adminform"].form.fields["user"].queryset
    assert buyer.user in people and mine["admin"].user in people
    assert receiver.user not in people and mine["approver"].user not in people
    assert two["theirs"]["admin"].user not in people  # nor anybody of another organization
    response = client.post(add, {"organization": mine["org"].pk, "user": receiver.user.pk, "amount": "100"})
    assert response.status_code == 200 and not SpendingLimit.objects.filter(user=receiver.user).exists()
    limit = SpendingLimit(organization=mine["org"], user=receiver.user, amount=Decimal("100"))
    with pytest.raises(ValidationError, match="does not submit orders"):
        limit.full_clean()
    SpendingLimit(organization=mine["org"], user=buyer.user, amount=Decimal("100")).full_clean()
    listing = client.get(reverse("admin:approvals_spendinglimit_changelist")).content.decode()
    assert "?role=buyer" in listing and "?role=receiver" not in listing
