"""Amendments of confirmed orders (SPEC §4): every rule and refusal, re-approval exactly when a
threshold is crossed, and the invoice and the bill following as new revisions."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from accounts.models import Connection
from accounts.roles import Role
from approvals import services as approval_services
from approvals.models import ApprovalRequest
from billing.models import Bill, Invoice
from billing.services.bills import cancel_bill, create_bill
from billing.services.documents import issue_documents
from billing.services.payments import record_payment
from orders.models import Amendment, OrderEvent, Revision
from orders.services import amendments, fulfilment
from procurement.errors import DomainError, NotAllowed
from tests.factories import ApprovalPolicyFactory, BudgetFactory, Trade, bill_line, member, receipt_line, shipped

pytestmark = pytest.mark.django_db


def _line(trade, price="10.00", quantity="10", tax_rate="0") -> dict:
    return {"description": "Widget", "quantity": quantity, "unit": "ea", "unit_price": price, "tax_rate": tax_rate}


@pytest.fixture
def trade():
    trade = Trade()
    trade.payables = member(trade.customer, Role.PAYABLES)
    trade.receivables = member(trade.supplier, Role.RECEIVABLES)
    trade.receiver = member(trade.customer, Role.RECEIVER)
    trade.fulfilment = member(trade.supplier, Role.FULFILMENT)
    return trade


def _confirmed(trade, *lines):
    """A confirmed order (two lines of 10 × 10.00 by default) with its invoice and bill."""
    po = trade.confirmed(lines=list(lines) or [_line(trade), _line(trade, price="5.00")])
    issue_documents(po=po)
    po.refresh_from_db()
    return po


def _lines(po):
    return list(po.lines.order_by("position"))


def _amend(trade, po, quantities=None, cancel=(), reason="More needed for the new site", by=None):
    return amendments.request_amendment(
        po=po, by=by or trade.buyer, reason=reason, quantities=shipped(quantities or {}), cancel=cancel
    )


def _receive(trade, po, line, quantity):
    return fulfilment.record_receipt(
        po=po, by=trade.receiver, lines={line.pk: receipt_line(quantity=quantity)}, received_on=timezone.localdate()
    ).receipt


# --- asking ------------------------------------------------------------------------------


def test_an_amendment_is_asked_of_the_supplier_and_changes_nothing_yet(trade, django_capture_on_commit_callbacks):
    po = _confirmed(trade)
    first, second = _lines(po)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        amendment = _amend(trade, po, {first.pk: "15"})
    assert (amendment.number, amendment.status) == (1, "proposed")
    assert (amendment.old_total, amendment.new_total) == (Decimal("150.00"), Decimal("200.00"))
    (a,) = amendment.lines.all()
    assert (a.po_line_id, a.old_quantity, a.new_quantity, a.new_line_total) == (
        first.pk,
        Decimal("10"),
        Decimal("15"),
        Decimal("150.00"),
    )
    po.refresh_from_db()
    first.refresh_from_db()
    assert po.total == Decimal("150.00") and first.quantity == Decimal("10")  # until the supplier accepts
    event = po.events.filter(kind=OrderEvent.Kind.AMENDMENT).get()
    assert "10 ea → 15 ea" in event.body and "More needed for the new site" in event.body
    (email,) = [m for m in mail.outbox if "amend" in m.subject]
    assert trade.sales.user.email in email.to and "15" in email.body and "200.00 USD" in email.body


def test_accepting_publishes_a_revision_and_the_invoice_and_the_bill_follow(trade, django_capture_on_commit_callbacks):
    po = _confirmed(trade)
    first, second = _lines(po)
    amendment = _amend(trade, po, {first.pk: "15"}, cancel={second.pk})
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        amendments.accept_amendment(amendment=amendment, by=trade.sales)
    amendment.refresh_from_db()
    po.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert amendment.status == "accepted" and amendment.revision_number == po.revision_number == 3
    assert first.quantity == Decimal("15") and first.line_total == Decimal("150.00")
    assert second.status == "cancelled" and "amendment 1" in second.reject_reason
    assert po.total == Decimal("150.00") and po.status == "confirmed"
    revision = po.revisions.get(number=3)
    assert revision.kind == Revision.Kind.AMENDED and revision.total == Decimal("150.00")
    for document in (Invoice.objects.get(purchase_order=po), Bill.objects.get(purchase_order=po)):
        assert (document.revision, document.total, document.subtotal) == (3, Decimal("150.00"), Decimal("150.00"))
        (line,) = document.lines.all()
        assert (line.po_line_id, line.quantity, line.line_total) == (first.pk, Decimal("15"), Decimal("150.00"))
    assert first.quantity_invoiced == Decimal("15") and second.quantity_invoiced == Decimal("0")
    kinds = list(po.events.values_list("kind", flat=True))
    assert kinds[-2:] == [OrderEvent.Kind.AMENDMENT_ACCEPTED, OrderEvent.Kind.INVOICED]
    subjects = [m.subject for m in mail.outbox]
    assert any("accepted amendment 1" in s for s in subjects)
    assert any(s.startswith(f"Bill {po.bill.number} revised") for s in subjects)
    assert any(s.startswith(f"Invoice {po.invoice.number} revised") for s in subjects)


def test_every_refusal_writes_nothing(trade):
    po = _confirmed(trade)
    first, second = _lines(po)
    events = po.events.count()
    cases = [
        ({first.pk: "9"}, (), "quantities can only be raised", (first.pk, "quantity")),
        ({first.pk: "10"}, (), "changes nothing", (None, None)),
        ({}, (), "changes nothing", (None, None)),
        ({first.pk: "10.5"}, (), "ea", (first.pk, "quantity")),
        ({first.pk: "-1"}, (), "cannot be negative", (first.pk, "quantity")),
        ({first.pk: "12"}, {first.pk}, "not both", (first.pk, "quantity")),
        ({}, {first.pk, second.pk}, "cannot cancel every line", (None, None)),
        ({999999: "5"}, (), "another order", (None, None)),
    ]
    for quantities, cancel, words, where in cases:
        with pytest.raises(DomainError) as refused:
            _amend(trade, po, quantities, cancel)
        assert words in refused.value.message, words
        assert (refused.value.line, refused.value.field) == where
    with pytest.raises(DomainError) as refused:
        _amend(trade, po, {first.pk: "12"}, reason="  ")
    assert refused.value.field == "reason"
    with pytest.raises(NotAllowed):
        _amend(trade, po, {first.pk: "12"}, by=member(trade.customer, Role.RECEIVER))
    assert not Amendment.objects.exists() and po.events.count() == events


def test_only_confirmed_orders_are_amended(trade):
    draft = trade.draft()
    sent = trade.sent()
    for po in (draft, sent):
        with pytest.raises(DomainError, match="only a confirmed order"):
            _amend(trade, po, {po.lines.get().pk: "20"})
    po = _confirmed(trade, _line(trade))
    (line,) = _lines(po)
    _receive(trade, po, line, "10")
    po.refresh_from_db()
    assert po.status == "received"
    with pytest.raises(DomainError, match="only a confirmed order"):
        _amend(trade, po, {line.pk: "20"})


def test_lines_with_receipts_are_refused_the_others_may_change(trade):
    po = _confirmed(trade)
    first, second = _lines(po)
    _receive(trade, po, first, "4")
    po.refresh_from_db()
    assert po.status == "partially_received"
    for quantities, cancel in (({first.pk: "20"}, ()), ({}, {first.pk})):
        with pytest.raises(DomainError, match="has receipts"):
            _amend(trade, po, quantities, cancel)
    amendment = _amend(trade, po, {second.pk: "12"})
    assert amendment.new_total == Decimal("160.00")


def test_a_shipped_line_is_not_cancelled_but_may_be_raised(trade):
    po = _confirmed(trade)
    first, second = _lines(po)
    fulfilment.record_shipment(
        so=po.sales_order,
        by=trade.fulfilment,
        lines={first.pk: Decimal("10"), second.pk: Decimal("10")},
        shipped_on=timezone.localdate(),
    )
    with pytest.raises(DomainError, match="has been shipped") as refused:
        _amend(trade, po, {}, {first.pk})
    assert (refused.value.line, refused.value.field) == (first.pk, "cancel")
    amendment = _amend(trade, po, {first.pk: "12"})
    amendments.accept_amendment(amendment=amendment, by=trade.sales)
    po.sales_order.refresh_from_db()
    assert po.sales_order.status == "partially_shipped"  # two more to ship


def test_one_open_amendment_at_a_time_and_a_withdrawn_one_frees_the_order(trade, django_capture_on_commit_callbacks):
    po = _confirmed(trade)
    first, _ = _lines(po)
    amendment = _amend(trade, po, {first.pk: "11"})
    with pytest.raises(DomainError, match="open already"):
        _amend(trade, po, {first.pk: "12"})
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        amendments.withdraw_amendment(amendment=amendment, by=trade.buyer)
    amendment.refresh_from_db()
    assert amendment.status == "withdrawn" and amendment.decided_by == trade.buyer.user
    assert any("withdrew amendment 1" in m.subject for m in mail.outbox)
    with pytest.raises(DomainError, match="withdrawn"):
        amendments.accept_amendment(amendment=amendment, by=trade.sales)
    assert _amend(trade, po, {first.pk: "12"}).number == 2


def test_the_supplier_declines_with_a_reason(trade, django_capture_on_commit_callbacks):
    po = _confirmed(trade)
    first, _ = _lines(po)
    amendment = _amend(trade, po, {first.pk: "30"})
    with pytest.raises(DomainError) as refused:
        amendments.decline_amendment(amendment=amendment, by=trade.sales, reason="")
    assert refused.value.field == "reason"
    with pytest.raises(NotAllowed):
        amendments.accept_amendment(amendment=amendment, by=trade.fulfilment)
    with django_capture_on_commit_callbacks(execute=True):
        amendments.decline_amendment(amendment=amendment, by=trade.sales, reason="Out of stock until March")
    amendment.refresh_from_db()
    po.refresh_from_db()
    assert (amendment.status, amendment.decline_reason) == ("declined", "Out of stock until March")
    assert po.total == Decimal("150.00") and po.revision_number == 2
    assert any("declined amendment 1" in m.subject and "March" in m.body for m in mail.outbox)


def test_a_suspended_connection_freezes_amendments(trade):
    po = _confirmed(trade)
    first, _ = _lines(po)
    amendment = _amend(trade, po, {first.pk: "11"})
    Connection.objects.filter(pk=po.connection_id).update(status=Connection.Status.SUSPENDED)
    with pytest.raises(DomainError, match="frozen"):
        amendments.accept_amendment(amendment=amendment, by=trade.sales)
    with pytest.raises(DomainError, match="frozen"):
        amendments.decline_amendment(amendment=amendment, by=trade.sales, reason="No")


def test_a_receipt_of_an_amended_line_lets_the_amendment_lapse(trade, django_capture_on_commit_callbacks):
    po = _confirmed(trade)
    first, second = _lines(po)
    amendment = _amend(trade, po, {first.pk: "20"})
    _receive(trade, po, second, "2")  # another line: the amendment stays open
    assert Amendment.objects.get(pk=amendment.pk).status == "proposed"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _receive(trade, po, first, "2")
    amendment.refresh_from_db()
    assert amendment.status == "lapsed" and "Line 1 was received since" in amendment.decline_reason
    assert any("Amendment 1 of" in m.subject and "lapsed" in m.subject for m in mail.outbox)
    assert "lapsed" in po.events.filter(kind=OrderEvent.Kind.AMENDMENT_WITHDRAWN).get().body
    with pytest.raises(DomainError, match="lapsed"):
        amendments.accept_amendment(amendment=amendment, by=trade.sales)
    po.refresh_from_db()
    assert po.total == Decimal("150.00")


def test_acceptance_checks_again_what_happened_since(trade):
    po = _confirmed(trade)
    first, second = _lines(po)
    amendment = _amend(trade, po, {}, {second.pk})
    fulfilment.record_shipment(
        so=po.sales_order, by=trade.fulfilment, lines={second.pk: Decimal("3")}, shipped_on=timezone.localdate()
    )
    with pytest.raises(DomainError, match="has been shipped since"):
        amendments.accept_amendment(amendment=amendment, by=trade.sales)
    assert Amendment.objects.get(pk=amendment.pk).status == "proposed"


def test_a_discount_is_never_more_than_what_is_left(trade):
    po = _confirmed(trade)
    first, second = _lines(po)
    type(po).objects.filter(pk=po.pk).update(discount=Decimal("120.00"), total=Decimal("30.00"))
    po.refresh_from_db()
    with pytest.raises(DomainError, match="less than the order's discount of 120.00 USD"):
        _amend(trade, po, {}, {first.pk})
    assert not Amendment.objects.exists()


def test_another_organizations_amendment_is_not_found(trade):
    po = _confirmed(trade)
    first, _ = _lines(po)
    amendment = _amend(trade, po, {first.pk: "20"})
    other = Trade()
    with pytest.raises(ObjectDoesNotExist):  # the pages answer 404 (tests/test_isolation.py)
        amendments.accept_amendment(amendment=amendment, by=other.sales)
    with pytest.raises(ObjectDoesNotExist):
        amendments.withdraw_amendment(amendment=amendment, by=other.buyer)


# --- money -------------------------------------------------------------------------------


def test_a_paid_bill_is_partly_paid_again_and_the_invoice_reopens(trade):
    po = _confirmed(trade)
    first, _ = _lines(po)
    trade.paid(po)
    bill, invoice = Bill.objects.get(purchase_order=po), Invoice.objects.get(purchase_order=po)
    assert (bill.status, invoice.status) == ("verified", "paid")
    amendment = _amend(trade, po, {first.pk: "12"})
    amendments.accept_amendment(amendment=amendment, by=trade.sales)
    bill.refresh_from_db()
    invoice.refresh_from_db()
    assert bill.total == Decimal("170.00") and bill.outstanding == Decimal("20.00")
    assert (bill.status, invoice.status, invoice.paid_at) == ("partially_paid", "open", None)
    po.refresh_from_db()
    assert po.billed_at is not None  # its bill still covers it


def test_cancelling_below_what_was_paid_is_refused(trade):
    po = _confirmed(trade)
    first, second = _lines(po)
    bill = Bill.objects.get(purchase_order=po)
    record_payment(
        bill=bill, by=trade.payables, amount=Decimal("90.00"), paid_on=timezone.localdate(), method="bank_transfer"
    )
    with pytest.raises(DomainError, match="90.00 USD has been paid"):
        _amend(trade, po, {}, {first.pk})  # would leave 50.00
    assert _amend(trade, po, {}, {second.pk}).new_total == Decimal("100.00")


def test_cancelling_what_was_left_to_receive_completes_a_paid_order(trade):
    po = _confirmed(trade)
    first, second = _lines(po)
    _receive(trade, po, first, "10")
    amendment = _amend(trade, po, {}, {second.pk})
    amendments.accept_amendment(amendment=amendment, by=trade.sales)
    po.refresh_from_db()
    assert po.status == "received" and po.receipt_status == "fully_received"
    trade.paid(po)
    po.refresh_from_db()
    assert po.status == "closed"


def test_amounts_keep_the_currencys_decimals_and_tax():
    trade = Trade(currency="KWD")
    po = trade.confirmed(lines=[_line(trade, price="1.235", quantity="3", tax_rate="5")])
    issue_documents(po=po)
    (line,) = _lines(po)
    amendment = _amend(trade, po, {line.pk: "7"})
    amendments.accept_amendment(amendment=amendment, by=trade.sales)
    po.refresh_from_db()
    # 7 × 1.235 = 8.645; tax 5 % = 0.43225 → 0.432
    assert (po.subtotal, po.tax_total, po.total) == (Decimal("8.645"), Decimal("0.432"), Decimal("9.077"))
    assert Bill.objects.get(purchase_order=po).total == Decimal("9.077")


# --- re-approval -------------------------------------------------------------------------


def _policy(trade, threshold: str):
    approver = member(trade.customer, Role.APPROVER)
    ApprovalPolicyFactory(
        organization=trade.customer,
        steps=[{"name": "Finance", "threshold": Decimal(threshold), "approvers": [approver.user]}],
    )
    return approver


@pytest.mark.parametrize(
    ("old_quantity", "new_quantity", "crosses"),
    [
        ("90", "99.99", False),  # 900.00 → 999.90: under the threshold still
        ("90", "100", True),  # 900.00 → 1,000.00: reaches it exactly
        ("100", "150", False),  # 1,000.00 → 1,500.00: the old total had reached it already
    ],
)
def test_re_approval_exactly_when_the_new_total_crosses_a_threshold(trade, old_quantity, new_quantity, crosses):
    po = _confirmed(trade, {**_line(trade, price="10.00", quantity=old_quantity), "unit": "kg"})
    approver = _policy(trade, "1000.00")  # set after the order was approved and confirmed
    (line,) = _lines(po)
    amendment = _amend(trade, po, {line.pk: new_quantity})
    request = ApprovalRequest.objects.filter(amendment=amendment).first()
    if crosses:
        assert amendment.status == "pending_approval" and "crosses the 1,000.00 USD threshold" in (
            amendment.reapproval_reason
        )
        assert (request.kind, request.status, request.total) == ("amendment", "pending", amendment.new_total)
        approval_services.approve_step(request=request, by=approver)
        amendment.refresh_from_db()
        assert amendment.status == "proposed" and amendment.proposed_at is not None
    else:
        assert amendment.status == "proposed" and request is None


def test_a_rejected_amendment_leaves_the_order_as_it_was(trade):
    po = _confirmed(trade, _line(trade, price="10.00", quantity="90"))
    approver = _policy(trade, "1000.00")
    (line,) = _lines(po)
    amendment = _amend(trade, po, {line.pk: "120"})
    request = ApprovalRequest.objects.get(amendment=amendment)
    approval_services.reject_step(request=request, by=approver, comment="Not this quarter")
    amendment.refresh_from_db()
    po.refresh_from_db()
    assert amendment.status == "rejected" and po.total == Decimal("900.00") and po.status == "confirmed"
    assert not po.events.filter(kind__startswith="amendment").exists()  # the supplier never heard of it
    assert _amend(trade, po, {line.pk: "95"}).status == "proposed"  # the order may be amended again


def test_withdrawing_an_amendment_in_approval_ends_the_approval(trade):
    po = _confirmed(trade, _line(trade, price="10.00", quantity="90"))
    _policy(trade, "1000.00")
    (line,) = _lines(po)
    amendment = _amend(trade, po, {line.pk: "120"})
    amendments.withdraw_amendment(amendment=amendment, by=trade.buyer)
    assert ApprovalRequest.objects.get(amendment=amendment).status == "withdrawn"


def test_an_order_without_a_recorded_rate_is_never_amended_past_its_approvers(trade):
    po = _confirmed(trade, _line(trade, price="10.00", quantity="5"), _line(trade, price="1.00", quantity="5"))
    _policy(trade, "1000.00")
    type(po).objects.filter(pk=po.pk).update(base_rate=None)
    po.refresh_from_db()
    first, second = _lines(po)
    amendment = _amend(trade, po, {first.pk: "6"})
    assert amendment.status == "pending_approval" and "No exchange rate" in amendment.reapproval_reason
    amendments.withdraw_amendment(amendment=amendment, by=trade.buyer)
    assert _amend(trade, po, {}, {second.pk}).status == "proposed"  # less to spend crosses nothing


def test_an_amendment_that_would_exceed_a_budget_needs_its_owner(trade):
    po = _confirmed(trade, _line(trade, price="10.00", quantity="15"))  # 150.00 USD
    owner = member(trade.customer, Role.APPROVER)
    ApprovalPolicyFactory(organization=trade.customer)
    today = timezone.localdate()
    BudgetFactory(
        organization=trade.customer,
        cost_center=trade.cost_center,
        period_start=today - timedelta(days=1),
        period_end=today + timedelta(days=1),
        amount=Decimal("200.00"),
        owner=owner.user,
    )
    (line,) = _lines(po)
    assert _amend(trade, po, {line.pk: "20"}).status == "proposed"  # 200.00: exactly the budget
    amendments.withdraw_amendment(amendment=po.amendments.get(), by=trade.buyer)
    amendment = _amend(trade, po, {line.pk: "21"})
    assert amendment.status == "pending_approval" and "budget" in amendment.reapproval_reason
    step = ApprovalRequest.objects.get(amendment=amendment).steps.get()
    assert step.kind == "budget" and list(step.approvers.all()) == [owner.user]


def test_the_supplier_never_sees_an_amendment_in_internal_approval(client, trade):
    from django.urls import reverse

    po = _confirmed(trade, _line(trade, price="10.00", quantity="90"))
    _policy(trade, "1000.00")
    (line,) = _lines(po)
    _amend(trade, po, {line.pk: "120"}, reason="Secret expansion")
    client.force_login(trade.sales.user)
    kwargs = {"org_slug": trade.supplier.slug, "number": po.sales_order.number}
    for page in (
        reverse("orders:so-detail", kwargs=kwargs),
        reverse("orders:amendments", kwargs={**kwargs, "side": "sales-orders"}),
    ):
        assert "Secret expansion" not in client.get(page).content.decode()


def test_whoever_asked_hears_the_answer(trade, django_capture_on_commit_callbacks):
    po = _confirmed(trade)
    first, _ = _lines(po)
    colleague = member(trade.customer, Role.BUYER)
    amendment = _amend(trade, po, {first.pk: "11"}, by=colleague)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        amendments.decline_amendment(amendment=amendment, by=trade.sales, reason="No")
    (email,) = [m for m in mail.outbox if "declined amendment" in m.subject]
    assert colleague.user.email in email.to and po.requester.email in email.to


def test_a_cancelled_bill_is_left_as_it_was(trade, django_capture_on_commit_callbacks):
    po = _confirmed(trade)
    first, _ = _lines(po)
    bill = Bill.objects.get(purchase_order=po)
    cancel_bill(bill=bill, by=trade.payables, reason="Paper invoice instead")
    amendment = _amend(trade, po, {first.pk: "11"})
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        amendments.accept_amendment(amendment=amendment, by=trade.sales)
    bill.refresh_from_db()
    assert (bill.status, bill.total, bill.revision) == ("cancelled", Decimal("150.00"), 2)
    assert Invoice.objects.get(purchase_order=po).total == Decimal("160.00")
    assert not any("Bill" in m.subject for m in mail.outbox)
    assert "bill" not in po.events.filter(kind=OrderEvent.Kind.INVOICED).last().body


def test_cancelling_below_the_bills_matched_by_hand_is_refused(trade):
    from billing.models import BillMatch

    po = _confirmed(trade)
    first, second = _lines(po)
    bill = Bill.objects.get(purchase_order=po)
    cancel_bill(bill=bill, by=trade.payables, reason="They sent a paper invoice")
    paper = create_bill(
        by=trade.payables,
        supplier=trade.supplier,
        currency="USD",
        bill_date=timezone.localdate(),
        due_date=timezone.localdate(),
        lines=[bill_line(description="Paper invoice", quantity="1", unit_price="120.00")],
    )
    BillMatch.objects.create(bill=paper, purchase_order=po, amount=Decimal("120.00"), matched_by=trade.payables.user)
    with pytest.raises(DomainError, match="Bills matched to .* amount to 120.00 USD"):
        _amend(trade, po, {}, {first.pk})  # would leave 50.00
    assert _amend(trade, po, {first.pk: "11"}).new_total == Decimal("160.00")
