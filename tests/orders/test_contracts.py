"""Clear contracts of the orders services (issue 17, item 6): an illegal transition is a refusal
in a sentence, never a 500; the supplier's proposal is saved and accepted in one transaction;
submitting and confirming say what happened."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from orders.models import Amendment, Proposal, PurchaseOrder, SalesOrder
from orders.services import amendments, fulfilment, negotiation, submission
from procurement.errors import DomainError
from tests.factories import ApprovalPolicyFactory, Trade, member, proposal_header, proposal_line, receipt_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def trade():
    return Trade()


def _lines(po):
    return list(po.lines.order_by("position"))


# --- an illegal transition is a refusal -------------------------------------------------------


def test_proposing_an_amendment_that_moved_on_is_a_refusal(trade):
    po = trade.confirmed()
    (line,) = _lines(po)
    amendment = amendments.request_amendment(po=po, by=trade.buyer, reason="More", quantities={line.pk: Decimal("12")})
    amendments.decline_amendment(amendment=amendment, by=trade.sales, reason="No stock")
    with pytest.raises(DomainError, match=r"^Amendment 1 is declined by the supplier: it cannot be proposed now\.$"):
        amendments.propose_amendment(amendment=amendment, po=po)
    amendment.refresh_from_db()
    assert amendment.status == Amendment.Status.DECLINED


def test_expiring_an_order_whose_sales_order_moved_on_is_a_refusal(trade):
    po = trade.sent(valid_until=timezone.localdate() + timedelta(days=1))
    PurchaseOrder.objects.filter(pk=po.pk).update(valid_until=timezone.localdate() - timedelta(days=1))
    SalesOrder.objects.filter(pk=po.sales_order.pk).update(status=SalesOrder.Status.DECLINED)  # out of step
    with pytest.raises(DomainError, match=r"is declined: it cannot be expired now\.$"):
        submission.expire_purchase_order(po=po)
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.SENT


def test_closing_an_order_whose_sales_order_moved_on_is_a_refusal(trade):
    po = trade.confirmed()
    trade.paid(po)
    SalesOrder.objects.filter(pk=po.sales_order.pk).update(status=SalesOrder.Status.CANCELLED)  # out of step
    (line,) = _lines(po)
    receiver = member(trade.customer, Role.RECEIVER)
    with pytest.raises(DomainError, match=r"is cancelled: it cannot be completed now\.$"):
        fulfilment.record_receipt(
            po=po, by=receiver, lines={line.pk: receipt_line(quantity="10")}, received_on=timezone.localdate()
        )
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.CONFIRMED and not po.receipts.exists()  # nothing written


# --- the proposal is saved and accepted in one transaction ------------------------------------


def _proposed(trade):
    """A sent order whose supplier saved a proposal: line 1 at 2.00 instead of 2.50."""
    po = trade.sent()
    (line,) = _lines(po)
    negotiation.save_proposal(
        so=po.sales_order,
        by=trade.sales,
        header=proposal_header(note="Cheaper"),
        lines={line.pk: proposal_line(unit_price="2.00")},
    )
    return po, line


def _proposal_state(po):
    proposal = Proposal.objects.get(sales_order=po.sales_order)
    return proposal.note, [(p.action, p.unit_price, p.reject_reason) for p in proposal.lines.all()]


def test_a_refused_acceptance_leaves_the_proposal_as_it_was(trade):
    po, line = _proposed(trade)
    before = _proposal_state(po)
    with pytest.raises(DomainError, match="Every line is rejected"):
        negotiation.accept_with_proposal(
            so=po.sales_order,
            by=trade.sales,
            header=proposal_header(note="None of it"),
            lines={line.pk: proposal_line(action="reject", reject_reason="Discontinued")},
        )
    assert _proposal_state(po) == before
    po.sales_order.refresh_from_db()
    assert po.sales_order.status == SalesOrder.Status.IN_REVIEW


def test_a_refused_acceptance_on_the_page_leaves_the_proposal_as_it_was(client, trade):
    po, line = _proposed(trade)
    before = _proposal_state(po)
    client.force_login(trade.sales.user)
    url = reverse("orders:so-proposal", kwargs={"org_slug": trade.supplier.slug, "number": po.sales_order.number})
    response = client.post(
        url,
        {
            "note": "None of it",
            f"line-{line.pk}-action": "reject",
            f"line-{line.pk}-reject_reason": "Discontinued",
            "add-count": "0",
            "accept": "1",
        },
    )
    assert response.status_code == 400
    assert "Every line is rejected: decline the order instead." in response.content.decode()
    assert _proposal_state(po) == before


def test_saving_and_accepting_publishes_the_proposal(trade):
    po, line = _proposed(trade)
    so = negotiation.accept_with_proposal(
        so=po.sales_order, by=trade.sales, lines={line.pk: proposal_line(unit_price="2.20")}
    )
    assert so.status == SalesOrder.Status.ACCEPTED
    line.refresh_from_db()
    assert line.unit_price == Decimal("2.20") and not Proposal.objects.filter(sales_order=so).exists()


# --- services say what happened ---------------------------------------------------------------


def _approver_policy(trade, threshold="0"):
    approver = member(trade.customer, Role.APPROVER)
    ApprovalPolicyFactory(
        organization=trade.customer,
        steps=[{"name": "Finance", "threshold": Decimal(threshold), "approvers": [approver.user]}],
    )
    return approver


def test_submitting_says_sent_or_pending_approval_with_the_approvers(trade):
    result = submission.submit_purchase_order(po=trade.draft(), by=trade.buyer)
    assert isinstance(result, submission.Sent)
    assert result.po.status == PurchaseOrder.Status.SENT and result.sales_order.purchase_order_id == result.po.pk

    approver = _approver_policy(trade)
    result = submission.submit_purchase_order(po=trade.draft(), by=trade.buyer)
    assert isinstance(result, submission.PendingApproval)
    assert result.po.status == PurchaseOrder.Status.PENDING_APPROVAL
    assert (result.step, result.approvers) == ("Finance", (approver.user.full_name,))


def test_confirming_says_confirmed_or_sent_for_re_approval(trade):
    po = trade.sent()
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    result = negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    assert isinstance(result, negotiation.Confirmed) and result.po.status == PurchaseOrder.Status.CONFIRMED

    approver = _approver_policy(trade, threshold="1000")
    po = trade.draft(lines=[{"description": "Desk", "quantity": "1", "unit": "ea", "unit_price": "900"}])
    submission.submit_purchase_order(po=po, by=trade.buyer)  # under the threshold: no approval…
    po.refresh_from_db()
    (line,) = _lines(po)
    negotiation.accept_with_proposal(
        so=po.sales_order, by=trade.sales, lines={line.pk: proposal_line(unit_price="1200")}
    )  # …but the supplier's price crosses it
    result = negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    assert isinstance(result, negotiation.SentForReapproval)
    assert result.po.status == PurchaseOrder.Status.SUPPLIER_ACCEPTED
    assert (result.step, result.approvers) == ("Finance", (approver.user.full_name,))
