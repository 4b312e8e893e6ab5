"""Approvals (SPEC §5, re-approval of §4): every rule at its edge, and every refusal."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from accounts.roles import Role
from approvals import selectors, services
from approvals.models import ApprovalRequest, RequestStep
from orders.models import OrderEvent, PurchaseOrder
from orders.services import negotiation, submission
from procurement.errors import DomainError, NotAllowed
from tests.factories import ApprovalPolicyFactory, BudgetFactory, SpendingLimitFactory, Trade, member, proposal_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def trade():
    return Trade()


def _line(trade, price: str, quantity: str = "1", cost_center=None, tax_rate="0") -> dict:
    return {
        "description": "Item",
        "quantity": quantity,
        "unit": "ea",
        "unit_price": price,
        "tax_rate": tax_rate,
        "cost_center": cost_center or trade.cost_center,
    }


def _submit(trade, *prices, by=None, **line):
    by = by or trade.buyer
    po = trade.draft(by=by, lines=[_line(trade, p, **line) for p in prices])
    submission.submit_purchase_order(po=po, by=by)
    po.refresh_from_db()
    return po


def _policy(trade, *steps, tolerance="0", reminder_days=2):
    """steps: (name, threshold, approvers (memberships), rule[, role])."""
    return ApprovalPolicyFactory(
        organization=trade.customer,
        reapproval_tolerance_percent=Decimal(tolerance),
        reminder_after_days=reminder_days,
        steps=[
            {
                "name": name,
                "threshold": Decimal(threshold),
                "rule": rule,
                "approver_role": role[0] if role else "",
                "approvers": [m.user for m in approvers],
            }
            for name, threshold, approvers, rule, *role in steps
        ],
    )


def _request(po) -> ApprovalRequest:
    return po.approval_requests.order_by("-pk").first()


def _open_step(po) -> RequestStep:
    return _request(po).steps.get(status="open")


# --- nothing configured, limits ----------------------------------------------------------


def test_without_any_policy_an_order_is_released_and_the_approval_recorded(trade):
    po = _submit(trade, "5000")
    assert po.status == "sent" and po.base_rate == Decimal("1")
    request = _request(po)
    assert (request.status, request.total, request.total_base) == ("approved", Decimal("5000"), Decimal("5000"))
    assert "no approval policy" in request.summary


def test_a_total_exactly_at_the_limit_is_released_and_one_cent_over_is_not(trade):
    approver = member(trade.customer, Role.APPROVER)
    _policy(trade, ("Manager", "1000", [approver], "any"))
    SpendingLimitFactory(organization=trade.customer, user=trade.buyer.user, amount=Decimal("250.00"))
    at_limit = _submit(trade, "250.00")
    assert at_limit.status == "sent"
    assert "within" in _request(at_limit).summary
    over = _submit(trade, "250.01")
    assert over.status == "pending_approval" and not hasattr(over, "sales_order")
    step = _open_step(over)  # no step reaches 1000: over the limit, the first step approves
    assert step.name == "Manager" and "spending limit" in step.reason
    assert list(step.approvers.all()) == [approver.user]


def test_a_persons_own_limit_wins_over_their_roles(trade):
    member(trade.customer, Role.APPROVER)
    SpendingLimitFactory(organization=trade.customer, role="buyer", amount=Decimal("10000"))
    SpendingLimitFactory(organization=trade.customer, user=trade.buyer.user, amount=Decimal("100"))
    assert services.spending_limit(trade.buyer) == Decimal("100")
    po = _submit(trade, "12000")  # SPEC: a $10,000 limit does not release a $12,000 order either
    assert po.status == "pending_approval"
    assert _open_step(po).name == "Approval"  # no policy steps: the organization's approvers


def test_a_step_applies_from_its_threshold_on(trade):
    approver = member(trade.customer, Role.APPROVER)
    _policy(trade, ("Finance", "500.00", [approver], "any"))
    assert _submit(trade, "499.99").status == "sent"  # no limit set: only the steps decide
    at = _submit(trade, "500.00")
    assert at.status == "pending_approval" and _open_step(at).name == "Finance"


def test_a_step_scoped_to_cost_centers_applies_only_to_their_orders(trade):
    from tests.factories import CostCenterFactory

    lab = CostCenterFactory(organization=trade.customer, code="LAB")
    approver = member(trade.customer, Role.APPROVER)
    policy = _policy(trade, ("Lab head", "0", [approver], "any"))
    policy.steps.get().cost_centers.set([lab])
    assert _submit(trade, "100").status == "sent"
    assert _submit(trade, "100", cost_center=lab).status == "pending_approval"


# --- steps in order; one of, all of ------------------------------------------------------


def test_steps_run_in_order_and_the_last_approval_releases_the_order(trade, django_capture_on_commit_callbacks):
    first, second = member(trade.customer, Role.APPROVER), member(trade.customer, Role.APPROVER)
    _policy(trade, ("Manager", "0", [first], "any"), ("Finance", "100", [second], "any"))
    with django_capture_on_commit_callbacks(execute=True):
        po = _submit(trade, "150")
    request = _request(po)
    assert [s.status for s in request.steps.all()] == ["open", "waiting"]
    assert mail.outbox[-1].to == [first.user.email] and "Approve PO-000001?" in mail.outbox[-1].subject
    assert f"/approvals/{request.pk}/" in mail.outbox[-1].body and mail.outbox[-1].attachments
    with pytest.raises(NotAllowed):  # the second step is not open yet
        services.approve_step(request=request, by=second)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_step(request=request, by=first, comment="Fine by me")
    assert [s.status for s in request.steps.all()] == ["approved", "open"]
    assert mail.outbox[-1].to == [second.user.email]
    assert list(selectors.waiting_for(first)) == [] and list(selectors.waiting_for(second)) == [request]
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_step(request=request, by=second)
    po.refresh_from_db()
    request.refresh_from_db()
    assert (po.status, po.sales_order.status, request.status) == ("sent", "new", "approved")
    subjects = [m.subject for m in mail.outbox]
    assert "New sales order SO-000001 from " + trade.customer.name in subjects  # the supplier hears of it
    assert "PO-000001 is approved and sent to " + trade.supplier.name in subjects
    kinds = list(po.events.values_list("kind", flat=True))
    assert kinds == ["created", "submitted", "approved", "sent"]
    assert list(selectors.waiting_for(second)) == []


def test_one_of_the_approvers_is_enough_for_an_any_step(trade):
    a, b = member(trade.customer, Role.APPROVER), member(trade.customer, Role.APPROVER)
    _policy(trade, ("Managers", "0", [], "any", "approver"))
    po = _submit(trade, "10")
    assert set(_open_step(po).approvers.all()) == {a.user, b.user}
    services.approve_step(request=_request(po), by=b)
    po.refresh_from_db()
    assert po.status == "sent"
    with pytest.raises(DomainError, match="approved"):
        services.approve_step(request=_request(po), by=a)


def test_every_approver_decides_an_all_step(trade):
    a, b = member(trade.customer, Role.APPROVER), member(trade.customer, Role.ADMIN)
    _policy(trade, ("Board", "0", [a, b], "all"))
    po = _submit(trade, "10")
    request = _request(po)
    services.approve_step(request=request, by=a)
    po.refresh_from_db()
    assert po.status == "pending_approval" and _open_step(po).decisions.count() == 1
    with pytest.raises(DomainError, match="decided"):
        services.approve_step(request=request, by=a)
    services.approve_step(request=request, by=b)
    po.refresh_from_db()
    assert po.status == "sent"


# --- budgets -----------------------------------------------------------------------------


def _budget(trade, amount, owner, *, start=None, end=None):
    today = timezone.localdate()
    return BudgetFactory(
        organization=trade.customer,
        cost_center=trade.cost_center,
        period_start=start or today.replace(day=1),
        period_end=end or today + timedelta(days=30),
        amount=Decimal(amount),
        owner=owner.user,
    )


def test_a_budget_used_up_by_earlier_orders_needs_its_owner(trade):
    owner = member(trade.customer, Role.APPROVER)
    budget = _budget(trade, "1000", owner)
    assert _submit(trade, "800").status == "sent"  # committed: 800
    assert _submit(trade, "200").status == "sent"  # exactly the 200 left
    po = _submit(trade, "0.01")
    step = _open_step(po)
    assert po.status == "pending_approval" and step.kind == "budget" and step.budget == budget
    assert list(step.approvers.all()) == [owner.user]
    assert "0.00 USD of 1,000.00 USD left" in step.reason
    assert selectors.budgets_of(trade.customer).get().committed == Decimal("1000")


def test_a_draft_or_pending_order_commits_nothing_and_tax_is_not_counted(trade):
    owner = member(trade.customer, Role.APPROVER)
    _budget(trade, "100", owner)
    trade.draft(lines=[_line(trade, "90")])
    assert _submit(trade, "100", tax_rate="20").status == "sent"  # 100 before tax fits exactly
    budget = selectors.budgets_of(trade.customer).get()
    assert (budget.committed, budget.in_approval) == (Decimal("100"), Decimal("0"))


def test_orders_of_another_period_do_not_count_and_other_periods_budgets_do_not_apply(trade):
    owner = member(trade.customer, Role.APPROVER)
    today = timezone.localdate()
    last_year = _budget(trade, "10", owner, start=today - timedelta(days=400), end=today - timedelta(days=300))
    old = _submit(trade, "900")
    PurchaseOrder.objects.filter(pk=old.pk).update(order_date=today - timedelta(days=350))
    _budget(trade, "1000", owner)
    assert _submit(trade, "1000").status == "sent"  # the 900 of last year is not this period's
    assert selectors.budgets_of(trade.customer, on=today - timedelta(days=350)).get() == last_year


# --- self-approval -----------------------------------------------------------------------


def test_the_requester_never_approves_their_own_order(trade):
    boss = member(trade.customer, Role.ADMIN, Role.APPROVER)
    other = member(trade.customer, Role.APPROVER)
    _policy(trade, ("Managers", "0", [boss, other], "any"))
    po = _submit(trade, "10", by=boss)
    step = _open_step(po)
    assert list(step.approvers.all()) == [other.user]  # the requester is left out
    with pytest.raises(NotAllowed, match="someone else"):
        services.approve_step(request=_request(po), by=boss)


def test_a_step_nobody_but_the_requester_could_approve_refuses_the_submission(trade):
    boss = member(trade.customer, Role.ADMIN)
    _policy(trade, ("Boss", "0", [boss], "any"))
    po = trade.draft(by=boss, lines=[_line(trade, "10")])
    with pytest.raises(DomainError, match="Nobody else can approve"):
        submission.submit_purchase_order(po=po, by=boss)
    po.refresh_from_db()
    assert po.status == "draft" and not po.approval_requests.exists()


def test_only_the_steps_approvers_with_an_approving_role_decide(trade):
    approver = member(trade.customer, Role.APPROVER)
    stranger = member(trade.customer, Role.APPROVER)
    _policy(trade, ("Manager", "0", [approver], "any"))
    po = _submit(trade, "10")
    with pytest.raises(NotAllowed, match="not an approver"):
        services.approve_step(request=_request(po), by=stranger)
    with pytest.raises(NotAllowed):  # a buyer's role does not approve at all
        services.approve_step(request=_request(po), by=trade.buyer)
    assert trade.buyer.user.has_perm("approvals.approve_approvalrequest", _request(po)) is False
    assert approver.user.has_perm("approvals.approve_approvalrequest", _request(po))


# --- rejection and resubmission ----------------------------------------------------------


def test_rejection_needs_a_comment_returns_the_order_and_resubmission_starts_again(
    trade, django_capture_on_commit_callbacks
):
    approver = member(trade.customer, Role.APPROVER)
    _policy(trade, ("Manager", "0", [approver], "any"))
    po = _submit(trade, "10")
    request = _request(po)
    with pytest.raises(DomainError) as refused:
        services.reject_step(request=request, by=approver, comment="  ")
    assert refused.value.field == "comment"
    with django_capture_on_commit_callbacks(execute=True):
        services.reject_step(request=request, by=approver, comment="Buy the cheaper model.")
    po.refresh_from_db()
    request.refresh_from_db()
    assert (po.status, request.status) == ("rejected", "rejected")
    assert "Buy the cheaper model." in po.closing_reason
    message = mail.outbox[-1]
    assert message.to == [trade.buyer.user.email] and "Buy the cheaper model." in message.body
    event = po.events.get(kind=OrderEvent.Kind.REJECTED)
    assert "cheaper" not in event.body  # the shared thread never carries internal comments
    assert list(selectors.waiting_for(approver)) == []

    submission.revise_purchase_order(po=po, by=trade.buyer)
    submission.submit_purchase_order(po=po, by=trade.buyer)
    po.refresh_from_db()
    assert po.status == "pending_approval" and po.approval_requests.count() == 2
    services.approve_step(request=_request(po), by=approver)
    po.refresh_from_db()
    assert po.status == "sent"


def test_cancelling_a_pending_order_withdraws_its_request(trade):
    approver = member(trade.customer, Role.APPROVER)
    _policy(trade, ("Manager", "0", [approver], "any"))
    po = _submit(trade, "10")
    submission.cancel_purchase_order(po=po, by=trade.buyer, reason="Not needed")
    request = _request(po)
    assert request.status == "withdrawn" and not request.steps.filter(status="open").exists()
    assert list(selectors.waiting_for(approver)) == []
    with pytest.raises(DomainError):
        services.approve_step(request=request, by=approver)


# --- re-approval -------------------------------------------------------------------------


def _accept_at(trade, po, price: str):
    line = po.lines.get()
    negotiation.save_proposal(
        so=po.sales_order, by=trade.sales, lines={line.pk: proposal_line(action="change", unit_price=price)}
    )
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    po.refresh_from_db()


def test_a_price_increase_beyond_the_tolerance_is_approved_again_then_confirmed(
    trade, django_capture_on_commit_callbacks
):
    approver = member(trade.customer, Role.APPROVER)
    _policy(trade, ("Manager", "0", [approver], "any"), tolerance="5")
    po = _submit(trade, "100")
    services.approve_step(request=_request(po), by=approver)
    po.refresh_from_db()
    _accept_at(trade, po, "105.01")  # 5.01 % more
    with django_capture_on_commit_callbacks(execute=True):
        negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    po.refresh_from_db()
    request = _request(po)
    assert po.status == "supplier_accepted" and (request.kind, request.status) == ("reapproval", "pending")
    assert "5.0 % over" in request.summary and request.revision_number == po.revision_number
    assert mail.outbox[-1].to == [approver.user.email]
    with pytest.raises(DomainError, match="waits for re-approval"):
        negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_step(request=request, by=approver)
    po.refresh_from_db()
    assert (po.status, po.sales_order.status) == ("confirmed", "confirmed")  # as the buyer asked


def test_an_increase_within_the_tolerance_is_confirmed_at_once(trade):
    approver = member(trade.customer, Role.APPROVER)
    _policy(trade, ("Manager", "0", [approver], "any"), tolerance="5")
    po = _submit(trade, "100")
    services.approve_step(request=_request(po), by=approver)
    po.refresh_from_db()
    _accept_at(trade, po, "105.00")  # exactly 5 %
    negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    po.refresh_from_db()
    assert po.status == "confirmed" and po.approval_requests.count() == 1


def test_crossing_a_threshold_needs_re_approval_even_within_the_tolerance(trade):
    manager, cfo = member(trade.customer, Role.APPROVER), member(trade.customer, Role.APPROVER)
    _policy(trade, ("Manager", "0", [manager], "any"), ("CFO", "104", [cfo], "any"), tolerance="50")
    po = _submit(trade, "100")
    services.approve_step(request=_request(po), by=manager)
    po.refresh_from_db()
    _accept_at(trade, po, "104")
    negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    po.refresh_from_db()
    request = _request(po)
    assert po.status == "supplier_accepted" and "104.00 USD threshold of “CFO”" in request.summary
    assert [s.name for s in request.steps.all()] == ["Manager", "CFO"]


def test_a_rejected_re_approval_blocks_confirmation_until_changes_are_requested(trade):
    approver = member(trade.customer, Role.APPROVER)
    _policy(trade, ("Manager", "0", [approver], "any"))
    po = _submit(trade, "100")
    services.approve_step(request=_request(po), by=approver)
    po.refresh_from_db()
    _accept_at(trade, po, "120")
    negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    services.reject_step(request=_request(po), by=approver, comment="Too dear now")
    po.refresh_from_db()
    assert po.status == "supplier_accepted"
    with pytest.raises(DomainError, match="rejected"):
        negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    negotiation.request_changes(po=po, by=trade.buyer, note="Back to 100, please")
    po.refresh_from_db()
    assert po.status == "sent"


def test_request_changes_withdraws_a_waiting_re_approval(trade):
    approver = member(trade.customer, Role.APPROVER)
    _policy(trade, ("Manager", "0", [approver], "any"))
    po = _submit(trade, "100")
    services.approve_step(request=_request(po), by=approver)
    po.refresh_from_db()
    _accept_at(trade, po, "120")
    negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    negotiation.request_changes(po=po, by=trade.buyer, note="Too dear")
    assert _request(po).status == "withdrawn"
    assert list(selectors.waiting_for(approver)) == []


# --- currencies, reminders ---------------------------------------------------------------


def test_an_order_in_another_currency_never_skips_approval():
    trade = Trade()
    trade.connection.currency = "EUR"
    trade.connection.save()
    approver = member(trade.customer, Role.APPROVER)
    _policy(trade, ("Small", "0", [approver], "any"), ("Large", "1000000", [approver], "any"))
    po = _submit(trade, "1")
    request = _request(po)
    assert po.currency == "EUR" and po.base_rate is None and request.total_base is None
    assert [s.name for s in request.steps.all()] == ["Small", "Large"]  # cannot be measured: every step
    assert "No exchange rate from EUR to USD" in request.steps.first().reason


def test_approvers_are_reminded_once_a_day_after_the_policys_delay(trade, django_capture_on_commit_callbacks):
    approver = member(trade.customer, Role.APPROVER)
    _policy(trade, ("Manager", "0", [approver], "any"), reminder_days=2)
    po = _submit(trade, "10")
    step = _open_step(po)
    today = timezone.localdate()
    assert services.remind_approvers(today + timedelta(days=1)) == 0  # not yet 2 days
    with django_capture_on_commit_callbacks(execute=True):
        assert services.remind_approvers(today + timedelta(days=2)) == 1
    assert mail.outbox[-1].to == [approver.user.email] and "Reminder: PO-000001" in mail.outbox[-1].subject
    assert services.remind_approvers(today + timedelta(days=2)) == 0  # once a day
    assert services.remind_approvers(today + timedelta(days=3)) == 1
    services.approve_step(request=_request(po), by=approver)
    step.refresh_from_db()
    assert step.status == "approved" and services.remind_approvers(today + timedelta(days=4)) == 0


# --- who may still approve (review findings) ---------------------------------------------


def test_whoever_asks_for_a_re_approval_is_not_its_approver_either(trade):
    admin = trade.customer_admin  # the only approver, and the one who confirms
    _policy(trade, ("Admins", "0", [admin], "any"))
    po = _submit(trade, "100")
    services.approve_step(request=_request(po), by=admin)
    po.refresh_from_db()
    _accept_at(trade, po, "120")
    with pytest.raises(DomainError, match="Nobody else can approve"):
        negotiation.confirm_purchase_order(po=po, by=admin)
    po.refresh_from_db()
    assert po.status == "supplier_accepted" and po.approval_requests.count() == 1  # nothing written


def test_an_owner_who_can_no_longer_approve_hands_the_budget_to_the_admins(trade):
    owner = member(trade.customer, Role.APPROVER)
    _budget(trade, "10", owner)
    owner.roles = ["buyer"]
    owner.save()
    po = _submit(trade, "50")
    step = _open_step(po)
    assert list(step.approvers.all()) == [trade.customer_admin.user] and "can no longer approve" in step.reason


def test_a_closed_step_no_longer_waits_for_its_other_approvers(trade):
    a, b, cfo = (member(trade.customer, Role.APPROVER) for _ in range(3))
    _policy(trade, ("Managers", "0", [a, b], "any"), ("CFO", "0", [cfo], "any"))
    po = _submit(trade, "10")
    services.approve_step(request=_request(po), by=a)
    assert list(selectors.waiting_for(b)) == [] and list(selectors.waiting_for(cfo)) == [_request(po)]


def test_an_approver_who_lost_the_role_does_not_block_an_all_step_or_a_later_one(trade):
    a, b, later = (member(trade.customer, Role.APPROVER) for _ in range(3))
    _policy(trade, ("Board", "0", [a, b], "all"), ("Later", "0", [later], "any"))
    po = _submit(trade, "10")
    b.roles = ["receiver"]
    b.save()
    later.user.is_active = False
    later.user.save()
    services.approve_step(request=_request(po), by=a)  # b no longer approves: the board step is done
    step = _open_step(po)
    assert step.name == "Later" and set(step.approvers.all()) == {later.user, trade.customer_admin.user}
    assert list(selectors.waiting_for(trade.customer_admin)) == [_request(po)]
    services.approve_step(request=_request(po), by=trade.customer_admin)
    po.refresh_from_db()
    assert po.status == "sent"


def test_spend_committed_while_an_order_waited_is_checked_before_its_release(trade):
    owner = member(trade.customer, Role.APPROVER)
    manager = member(trade.customer, Role.APPROVER)
    _policy(trade, ("Manager", "0", [manager], "any"))
    _budget(trade, "150", owner)
    first, second = _submit(trade, "100"), _submit(trade, "100")  # each fits the 150 alone
    services.approve_step(request=_request(first), by=manager)
    services.approve_step(request=_request(second), by=manager)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("sent", "pending_approval")
    step = _open_step(second)
    assert step.kind == "budget" and "Since submission" in step.reason
    assert list(step.approvers.all()) == [owner.user]
    services.approve_step(request=_request(second), by=owner)
    second.refresh_from_db()
    assert second.status == "sent"
