"""The factories keep what they make inside one tenant, and make valid rows by default."""

from decimal import Decimal

import pytest

from accounts.roles import Role
from tests.factories import (
    ApprovalPolicyFactory,
    ApprovalStepFactory,
    BudgetFactory,
    ExchangeRateFactory,
    SpendingLimitFactory,
    member,
)

pytestmark = pytest.mark.django_db


def test_a_policy_with_steps_numbers_them_in_its_organization():
    policy = ApprovalPolicyFactory(steps=[{"name": "Manager"}, {"name": "CFO", "threshold": Decimal("1000")}])
    approver = member(policy.organization, Role.APPROVER)
    later = ApprovalStepFactory(policy=policy, approvers=[approver.user])
    steps = list(policy.steps.all())
    assert [(s.position, s.name) for s in steps[:2]] == [(1, "Manager"), (2, "CFO")]
    assert steps[2] == later and later.position == 3 and list(later.approvers.all()) == [approver.user]
    assert {s.organization_id for s in steps} == {policy.organization_id}


def test_a_budget_and_a_limit_are_valid_rows_of_one_organization():
    budget = BudgetFactory()
    budget.full_clean()  # the cost center and the owner (an approver) are of its organization
    assert budget.cost_center.organization_id == budget.organization_id
    assert SpendingLimitFactory().role == "buyer"
    person = member(budget.organization, Role.BUYER)
    mine = SpendingLimitFactory(organization=budget.organization, user=person.user)
    mine.full_clean()
    assert mine.role == ""


def test_a_second_rate_of_the_same_day_replaces_the_first():
    first = ExchangeRateFactory(rate=Decimal("1.10"))
    assert (first.from_currency, first.to_currency) == ("EUR", first.organization.base_currency)
    again = ExchangeRateFactory(organization=first.organization, day=first.day, rate=Decimal("1.20"))
    first.refresh_from_db()
    assert again.pk == first.pk and first.rate == Decimal("1.20")
