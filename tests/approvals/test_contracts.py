"""Clear contracts of the approvals services (issue 17, item 6): deciding a request whose order
or amendment moved on is a refusal in a sentence, never a 500 — through the service and the page."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.roles import Role
from approvals import services
from approvals.models import ApprovalRequest
from orders.models import Amendment
from orders.services import amendments
from procurement.errors import DomainError
from tests.factories import ApprovalPolicyFactory, Trade, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def trade():
    trade = Trade()
    trade.approver = member(trade.customer, Role.APPROVER)
    return trade


def _amendment_in_approval(trade):
    """A confirmed order of 25.00 USD amended to 50.00, which crosses a 30.00 step: the
    amendment waits for the approver."""
    po = trade.confirmed()
    ApprovalPolicyFactory(
        organization=trade.customer,
        steps=[{"name": "Finance", "threshold": Decimal("30"), "approvers": [trade.approver.user]}],
    )
    (line,) = po.lines.all()
    amendment = amendments.request_amendment(po=po, by=trade.buyer, reason="More", quantities={line.pk: Decimal("20")})
    assert amendment.status == Amendment.Status.PENDING_APPROVAL
    return po, amendment, ApprovalRequest.objects.get(amendment=amendment)


def _moved_on(amendment):
    Amendment.objects.filter(pk=amendment.pk).update(status=Amendment.Status.WITHDRAWN)  # out of step


def test_approving_a_request_whose_amendment_moved_on_is_a_refusal(trade):
    po, amendment, request = _amendment_in_approval(trade)
    _moved_on(amendment)
    with pytest.raises(DomainError, match=r"^Amendment 1 is withdrawn: it cannot be proposed now\.$"):
        services.approve_step(request=request, by=trade.approver)
    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.PENDING and not request.steps.get().decisions.exists()


def test_rejecting_a_request_whose_amendment_moved_on_is_a_refusal(trade):
    po, amendment, request = _amendment_in_approval(trade)
    _moved_on(amendment)
    with pytest.raises(DomainError, match=r"^Amendment 1 is withdrawn: it cannot be rejected now\.$"):
        services.reject_step(request=request, by=trade.approver, comment="No")
    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.PENDING


def test_deciding_a_request_that_was_decided_is_a_refusal(trade):
    po, amendment, request = _amendment_in_approval(trade)
    services.approve_step(request=request, by=trade.approver)
    with pytest.raises(DomainError, match="This approval was approved"):
        services.reject_step(request=request, by=trade.approver, comment="Changed my mind")
    with pytest.raises(DomainError, match="This approval was approved"):
        services.approve_step(request=request, by=trade.approver)


def test_withdrawing_leaves_a_request_that_moved_on_as_it_was(trade):
    po, amendment, request = _amendment_in_approval(trade)
    services.approve_step(request=request, by=trade.approver)
    services.withdraw_open_requests(po)  # the order moved on: only a pending request ends
    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.APPROVED


def test_approving_on_the_page_a_request_whose_amendment_moved_on_shows_the_refusal(client, trade):
    po, amendment, request = _amendment_in_approval(trade)
    _moved_on(amendment)
    client.force_login(trade.approver.user)
    url = reverse("approvals:approve", kwargs={"org_slug": trade.customer.slug, "pk": request.pk})
    response = client.post(url, {"approve-comment": ""})
    assert response.status_code == 400  # the decision page again, with the sentence: never a 500
    assert "Amendment 1 is withdrawn: it cannot be proposed now." in response.content.decode()
