"""Returns of received goods (SPEC §6, issue 19): every rule and refusal of the services, each
refusal writing nothing; what a return does to the order's quantities, statuses and thread."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import Connection
from accounts.roles import Role
from orders.models import OrderEvent, PurchaseOrder, ReturnAttachment, ReturnLine, ReturnRequest, SalesOrder
from orders.services import returns
from orders.services.returns import ArrivalInput
from procurement.errors import DomainError, NotAllowed
from tests.factories import Trade, member

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 32


@pytest.fixture
def trade():
    trade = Trade()
    trade.receiver = member(trade.customer, Role.RECEIVER)
    trade.shipper = member(trade.supplier, Role.FULFILMENT)
    return trade


@pytest.fixture
def po(trade):
    """Received in full: 10 BOLT (line 1, 2 of them noted damaged at receipt) and 4 kg grease."""
    return trade.received(
        lines=[
            {"listing": trade.listing, "quantity": "10"},
            {"description": "Grease", "quantity": "4", "unit": "kg", "unit_price": "3.00"},
        ],
        damaged={1: "2"},
    )


def _lines(po):
    return list(po.lines.order_by("position"))


def _ask(trade, po, quantities, *, by=None, reason="damaged", resolution="credit", **kwargs):
    lines = _lines(po)
    return returns.request_return(
        po=po,
        by=by or trade.receiver,
        lines={line.pk: None if q is None else Decimal(q) for line, q in zip(lines, quantities, strict=False)},
        reason=reason,
        resolution=resolution,
        **kwargs,
    )


def _accept(trade, ret, **kwargs):
    return returns.accept_return(return_request=ret, by=kwargs.pop("by", trade.sales), instructions="To dock 4.")


def _ship_back(trade, ret, **kwargs):
    return returns.ship_return(
        return_request=ret,
        by=kwargs.pop("by", trade.receiver),
        shipped_on=kwargs.pop("shipped_on", TODAY()),
        carrier="DHL",
        tracking_number="JD01",
    )


def _arrive(trade, ret, quantities, condition="as_described", **kwargs):
    po = ret.purchase_order
    lines = _lines(po)
    return returns.receive_return(
        return_request=ret,
        by=kwargs.pop("by", trade.shipper),
        lines={line.pk: ArrivalInput(Decimal(q), condition) for line, q in zip(lines, quantities, strict=False) if q},
        received_on=kwargs.pop("received_on", TODAY()),
        **kwargs,
    )


def _nothing_written(po, before_events):
    assert ReturnRequest.objects.filter(purchase_order=po).count() == 0
    assert OrderEvent.objects.filter(purchase_order=po).count() == before_events
    assert all(line.quantity_returned == 0 for line in _lines(po))


# ------------------------------------------------------------------------------ asking


def test_a_receiver_asks_to_return_received_and_damaged_units(trade, po):
    mail.outbox.clear()
    photo = SimpleUploadedFile("crack.png", PNG, content_type="image/png")
    ret = _ask(trade, po, ["3", None], reason="damaged", resolution="credit", attachments=[photo])
    assert ret.status == ReturnRequest.Status.REQUESTED and ret.number == 1 and ret.rma_number == ""
    assert [(row.po_line.position, row.quantity) for row in ret.lines.all()] == [(1, Decimal("3"))]
    line = _lines(po)[0]
    assert line.quantity_returned == 3
    assert line.returnable == Decimal("7")  # 8 received + 2 damaged − 3 asked
    assert ReturnAttachment.objects.get(return_request=ret).name == "crack.png"
    event = po.events.get(kind=OrderEvent.Kind.RETURN_REQUESTED)
    assert "Return 1 requested for credit (damaged): 3 ea BOLT" in event.body


def test_a_buyer_and_an_admin_may_ask_too(trade, po):
    assert _ask(trade, po, ["1"], by=trade.buyer).number == 1
    assert _ask(trade, po, ["1"], by=trade.customer_admin).number == 2


@pytest.mark.parametrize(
    "quantities, words",
    [
        (["11", None], "more than the 10 ea that can still go back"),
        ([None, "4.5"], "more than the 4 kg"),
        ([None, None], "at least one line"),
        (["-1", None], "cannot be negative"),
    ],
)
def test_more_than_arrived_or_nothing_is_refused_and_writes_nothing(trade, po, quantities, words):
    events = po.events.count()
    with pytest.raises(DomainError, match=words):
        _ask(trade, po, quantities)
    _nothing_written(po, events)


def test_a_line_fully_returned_already_is_refused(trade, po):
    _ask(trade, po, ["10", None])
    events = po.events.count()
    with pytest.raises(DomainError, match=r"more than the 0 ea that can still go back .*10 ea asked back already"):
        _ask(trade, po, ["1", None])
    assert ReturnRequest.objects.filter(purchase_order=po).count() == 1
    assert po.events.count() == events


def test_other_needs_words_and_the_reason_and_resolution_are_checked(trade, po):
    events = po.events.count()
    with pytest.raises(DomainError, match="Say why") as refusal:
        _ask(trade, po, ["1"], reason="other")
    assert refusal.value.field == "reason_text"
    with pytest.raises(DomainError, match="Choose why"):
        _ask(trade, po, ["1"], reason="because")
    with pytest.raises(DomainError, match="credit or a replacement"):
        _ask(trade, po, ["1"], resolution="refund-in-cash")
    _nothing_written(po, events)
    assert _ask(trade, po, ["1"], reason="other", reason_text="Wrong colour").reason_text == "Wrong colour"


def test_an_attachment_that_is_not_a_picture_or_pdf_writes_nothing(trade, po):
    events = po.events.count()
    bad = SimpleUploadedFile("virus.exe", b"MZ\x90\x00", content_type="application/octet-stream")
    with pytest.raises(DomainError, match="PDF, PNG or JPEG") as refusal:
        _ask(trade, po, ["1"], attachments=[bad])
    assert refusal.value.field == "attachments"
    _nothing_written(po, events)
    assert not ReturnAttachment.objects.exists()


@pytest.mark.parametrize("role", [Role.PAYABLES, Role.APPROVER])
def test_a_role_that_does_not_receive_or_buy_may_not_ask(trade, po, role):
    events = po.events.count()
    with pytest.raises(NotAllowed):
        _ask(trade, po, ["1"], by=member(trade.customer, role))
    _nothing_written(po, events)


def test_another_organization_cannot_reach_the_order(trade, po):
    stranger = Trade()
    events = po.events.count()
    with pytest.raises(PurchaseOrder.DoesNotExist):
        _ask(trade, po, ["1"], by=member(stranger.customer, Role.RECEIVER))
    with pytest.raises(NotAllowed):  # the supplier has no customer's right to ask
        _ask(trade, po, ["1"], by=trade.sales)
    _nothing_written(po, events)


def test_an_unconfirmed_cancelled_or_unreceived_order_has_nothing_to_return(trade):
    sent = trade.sent()
    with pytest.raises(DomainError, match="goods are returned from confirmed orders, once received"):
        _ask(trade, sent, ["1"])
    confirmed = trade.confirmed()
    with pytest.raises(DomainError, match="Nothing received on .* is left to return"):
        _ask(trade, confirmed, ["1"])
    cancelled = trade.sent()
    from orders.services import submission

    submission.cancel_purchase_order(po=cancelled, by=trade.buyer, reason="Not needed")
    cancelled.refresh_from_db()
    with pytest.raises(DomainError, match="cancelled"):
        _ask(trade, cancelled, ["1"])
    assert not ReturnRequest.objects.exists()


def test_a_suspended_connection_freezes_returns(trade, po):
    Connection.objects.filter(pk=trade.connection.pk).update(status=Connection.Status.SUSPENDED)
    with pytest.raises(DomainError, match="frozen"):
        _ask(trade, po, ["1"])
    assert not ReturnRequest.objects.exists()


# ------------------------------------------------------------------------------ answering


def test_the_supplier_authorizes_with_an_rma_number_of_its_own_sequence(trade, po, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        first = _accept(trade, _ask(trade, po, ["1"]))
    second = _accept(trade, _ask(trade, po, ["1"]))
    assert (first.rma_number, second.rma_number) == ("RMA-000001", "RMA-000002")
    assert first.status == ReturnRequest.Status.ACCEPTED and first.instructions == "To dock 4."
    assert "authorized by" in po.events.filter(kind=OrderEvent.Kind.RETURN_ACCEPTED).first().body
    told = [m for m in mail.outbox if "authorized" in m.subject]
    assert [m.to for m in told] and all(trade.receiver.user.email in m.to for m in told)
    assert "RMA-000001" in told[0].body and "/returns/" in told[0].body
    asked = [m for m in mail.outbox if "asks to return" in m.subject]
    assert asked and trade.sales.user.email in asked[0].to


def test_the_supplier_declines_with_a_reason_and_the_quantity_may_be_asked_again(trade, po):
    ret = _ask(trade, po, ["10"])
    with pytest.raises(DomainError, match="required"):
        returns.decline_return(return_request=ret, by=trade.sales, reason="  ")
    ret.refresh_from_db()
    assert ret.status == ReturnRequest.Status.REQUESTED
    returns.decline_return(return_request=ret, by=trade.sales, reason="Used goods are not taken back.")
    ret.refresh_from_db()
    assert ret.status == ReturnRequest.Status.DECLINED and ret.decline_reason
    assert _lines(po)[0].quantity_returned == 0
    for action in (_accept, _ship_back):
        with pytest.raises(DomainError, match="declined"):
            action(trade, ret)
    assert _ask(trade, po, ["10"]).number == 2


def test_the_customer_withdraws_before_acceptance_only(trade, po):
    ret = _ask(trade, po, ["2"])
    returns.withdraw_return(return_request=ret, by=trade.receiver)
    ret.refresh_from_db()
    assert ret.status == ReturnRequest.Status.WITHDRAWN and _lines(po)[0].quantity_returned == 0
    with pytest.raises(DomainError, match="withdrawn: it cannot be authorized"):
        _accept(trade, ret)
    accepted = _accept(trade, _ask(trade, po, ["2"]))
    with pytest.raises(DomainError, match="cannot be withdrawn now"):
        returns.withdraw_return(return_request=accepted, by=trade.receiver)


def test_each_side_may_only_take_its_own_steps(trade, po):
    ret = _ask(trade, po, ["2"])
    with pytest.raises(NotAllowed):
        returns.accept_return(return_request=ret, by=trade.shipper)  # fulfilment does not authorize
    with pytest.raises(PurchaseOrder.DoesNotExist):  # another supplier does not reach the order
        returns.accept_return(return_request=ret, by=member(Trade().supplier, Role.SALES))
    with pytest.raises(NotAllowed):  # the supplier has no customer's right to withdraw
        returns.withdraw_return(return_request=ret, by=trade.sales)
    ret.refresh_from_db()
    assert ret.status == ReturnRequest.Status.REQUESTED


# ------------------------------------------------------------------------------ shipping back and arriving


def test_shipping_back_records_date_carrier_and_tracking(trade, po):
    ret = _accept(trade, _ask(trade, po, ["2"]))
    with pytest.raises(DomainError, match="future"):
        _ship_back(trade, ret, shipped_on=TODAY() + timedelta(days=1))
    shipped = _ship_back(trade, ret)
    assert (shipped.status, shipped.carrier, shipped.tracking_number) == (ReturnRequest.Status.SHIPPED, "DHL", "JD01")
    with pytest.raises(DomainError, match="cannot be shipped back now"):
        _ship_back(trade, shipped)


def test_arrival_is_checked_and_writes_nothing_when_refused(trade, po):
    ret = _ship_back(trade, _accept(trade, _ask(trade, po, ["2", "1"])))
    events = po.events.count()
    for quantities, condition, words in [
        (["3", None], "as_described", "more than the 2 ea this return sends back"),
        (["1", None], "", "in what condition"),
    ]:
        with pytest.raises(DomainError, match=words):
            _arrive(trade, ret, quantities, condition)
    with pytest.raises(DomainError, match="at least one line"):
        returns.receive_return(return_request=ret, by=trade.shipper, lines={}, received_on=TODAY())
    ret.refresh_from_db()
    assert ret.status == ReturnRequest.Status.SHIPPED and po.events.count() == events
    assert all(row.quantity_received_back == 0 for row in ret.lines.all())


def test_a_replacement_goes_back_to_ship_and_the_order_waits_for_it(trade, po):
    po_line = _lines(po)[1]  # 4 kg grease, all received
    ret = _ship_back(trade, _accept(trade, _ask(trade, po, [None, "1.5"], resolution="replacement")))
    arrived = _arrive(trade, ret, [None, "1.5"])
    assert not arrived.credited
    po_line.refresh_from_db()
    assert po_line.quantity_replaced == Decimal("1.5") and po_line.left_to_ship == Decimal("1.5")
    assert po_line.kept_quantity == Decimal("2.5") and not po_line.is_fully_received
    po.refresh_from_db()
    assert po.status in (PurchaseOrder.Status.PARTIALLY_RECEIVED,)
    assert po.receipt_status == PurchaseOrder.ReceiptStatus.PARTIALLY_RECEIVED
    assert SalesOrder.objects.get(pk=po.sales_order.pk).status == SalesOrder.Status.PARTIALLY_SHIPPED
    assert "the replacement is to ship" in po.events.get(kind=OrderEvent.Kind.RETURN_RECEIVED).body


def test_returning_the_damaged_units_first_does_not_change_what_is_kept(trade, po):
    """Line 1: 8 received, 2 noted damaged. Two units back for a replacement are the damaged
    ones: 8 are still kept, and only the 2 are owed."""
    line = _lines(po)[0]
    assert line.left_to_ship == 2  # the damaged units, owed since the receipt
    ret = _ship_back(trade, _accept(trade, _ask(trade, po, ["2"], resolution="replacement")))
    _arrive(trade, ret, ["2"])
    line.refresh_from_db()
    assert line.kept_quantity == 8 and line.left_to_ship == 2


def test_the_closed_order_takes_credits_not_replacements(trade):
    po = trade.received()
    trade.paid(po)
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.CLOSED
    with pytest.raises(DomainError, match="closed: ask for a credit") as refusal:
        _ask(trade, po, ["1"], resolution="replacement")
    assert refusal.value.field == "resolution"
    assert _ask(trade, po, ["1"], resolution="credit").status == ReturnRequest.Status.REQUESTED


def test_an_open_return_keeps_the_order_from_closing(trade):
    po = trade.received()
    ret = _ask(trade, po, ["1"])
    trade.paid(po)
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.RECEIVED  # paid and received, but a return is open
    returns.decline_return(return_request=ret, by=trade.sales, reason="Not ours to take back.")
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.CLOSED


def test_the_rules_offer_each_side_its_buttons(trade, po):
    from orders import rules

    ret = _ask(trade, po, ["1"])
    assert rules.return_actions(ret, po=po, membership=trade.receiver) == {"withdraw_return"}
    assert rules.return_actions(ret, po=po, membership=trade.sales) == {"accept_return", "decline_return"}
    assert rules.return_actions(ret, po=po, membership=trade.shipper) == set()
    _accept(trade, ret)
    ret.refresh_from_db()
    assert rules.return_actions(ret, po=po, membership=trade.receiver) == {"ship_return"}
    _ship_back(trade, ret)
    ret.refresh_from_db()
    assert rules.return_actions(ret, po=po, membership=trade.shipper) == {"receive_return"}
    assert rules.return_actions(ret, po=po, membership=trade.sales) == {"receive_return"}
    assert "request_return" in rules.po_actions(po, trade.receiver)


def test_return_lines_cannot_exceed_their_request_in_the_database(trade, po):
    from django.db import IntegrityError, transaction

    ret = _ask(trade, po, ["1"])
    with pytest.raises(IntegrityError), transaction.atomic():
        ReturnLine.objects.filter(return_request=ret).update(quantity_received_back=Decimal("2"))


# ------------------------------------------------------------------------------ the credit that follows


def _full_return(trade, po, quantities, resolution="credit", arrived=None):
    ret = _ship_back(trade, _accept(trade, _ask(trade, po, quantities, resolution=resolution)))
    return _arrive(trade, ret, arrived or quantities)


def test_a_credit_return_brings_its_credit_note_and_lowers_the_bill(trade, po, django_capture_on_commit_callbacks):
    from billing.models import CreditNote, DebitNote
    from billing.services.documents import issue_documents

    _, bill = issue_documents(po=po)  # the task runs after commit, which a test never reaches
    owed = bill.outstanding
    with django_capture_on_commit_callbacks(execute=True):
        arrived = _full_return(trade, po, ["1", "2"])
    assert arrived.credited
    credit, debit = CreditNote.objects.get(), DebitNote.objects.get()
    assert debit.credit_note == credit and credit.total == Decimal("8.50")  # 1 × 2.50 + 2 kg × 3.00
    bill.refresh_from_db()
    assert bill.credited_total == Decimal("8.50") and bill.outstanding == owed - Decimal("8.50")
    lines = _lines(po)
    assert [line.quantity_credited for line in lines] == [Decimal("1"), Decimal("2")]
    # Line 1: the unit that went back was one of the 2 noted damaged; 8 are kept of 9 expected now.
    assert (lines[0].kept_quantity, lines[0].expected_quantity, lines[0].left_to_ship) == (8, 9, 1)
    assert (lines[1].kept_quantity, lines[1].expected_quantity) == (2, 2) and lines[1].is_fully_received
    kinds = list(po.events.values_list("kind", flat=True))
    for kind in ("return_requested", "return_accepted", "return_shipped", "return_received", "credited"):
        assert kind in kinds


def test_surplus_units_go_back_without_a_credit(trade, django_capture_on_commit_callbacks):
    """12 received of 10 ordered (a 20 % over-receipt tolerance): the 2 beyond the order go back
    for nothing; a third unit back is credited."""
    from accounts import services as account_services
    from billing.models import CreditNote
    from orders.services import fulfilment
    from tests.factories import receipt_line

    account_services.update_tolerance_policy(by=trade.customer_admin, over_receipt_percent=Decimal("20"))
    po = trade.received(lines=[{"listing": trade.listing, "quantity": "10"}])
    line = _lines(po)[0]
    fulfilment.record_receipt(
        po=po, by=trade.receiver, lines={line.pk: receipt_line(quantity="2")}, received_on=TODAY()
    )
    with django_capture_on_commit_callbacks(execute=True):
        surplus = _full_return(trade, po, ["2"])
    assert not surplus.credited and not CreditNote.objects.exists()
    line.refresh_from_db()
    assert (line.quantity_credited, line.kept_quantity, line.is_fully_received) == (0, 10, True)
    assert "nothing is left to credit" in po.events.get(kind=OrderEvent.Kind.RETURN_RECEIVED).body
    with django_capture_on_commit_callbacks(execute=True):
        assert _full_return(trade, po, ["1"]).credited
    assert CreditNote.objects.get().total == Decimal("2.50")


def test_an_order_paid_in_full_then_credited_shows_a_balance_in_the_customers_favour(
    trade, django_capture_on_commit_callbacks
):
    from billing.models import Bill

    po = trade.received(lines=[{"listing": trade.listing, "quantity": "10"}])
    trade.paid(po)
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.CLOSED
    with django_capture_on_commit_callbacks(execute=True):
        _full_return(trade, po, ["2"])
    bill = Bill.objects.get(purchase_order=po)
    assert (bill.outstanding, bill.balance_in_favour) == (Decimal("0.00"), Decimal("5.00"))
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.CLOSED


def test_a_received_order_closes_once_the_credit_covers_what_was_not_paid(trade, django_capture_on_commit_callbacks):
    """Paid 20.00 of 25.00 and verified; the 2 units that go back are worth 5.00: with the
    credit the bill is settled, the invoice paid, and the order closes."""
    from billing.models import Bill, Invoice

    po = trade.received(lines=[{"listing": trade.listing, "quantity": "10"}])
    trade.paid(po, amount=Decimal("20.00"))
    with django_capture_on_commit_callbacks(execute=True):
        _full_return(trade, po, ["2"])
    bill, invoice = Bill.objects.get(purchase_order=po), Invoice.objects.get(purchase_order=po)
    assert (bill.status, invoice.status) == (Bill.Status.VERIFIED, Invoice.Status.PAID)
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.CLOSED


# ------------------------------------------------------------------------------ what the review found


def _ship_and_receive(trade, po, quantities):
    """The supplier ships ``quantities`` (per line position) and the receiver takes them in."""
    from orders.services import fulfilment
    from tests.factories import receipt_line

    lines = {line.position: line for line in _lines(po)}
    shipment = fulfilment.record_shipment(
        so=po.sales_order,
        by=trade.shipper,
        lines={lines[p].pk: Decimal(q) for p, q in quantities.items()},
        shipped_on=TODAY(),
    )
    fulfilment.record_receipt(
        po=po,
        by=trade.receiver,
        shipment=shipment,
        lines={lines[p].pk: receipt_line(quantity=q) for p, q in quantities.items()},
        received_on=TODAY(),
    )


def test_damaged_units_sent_again_then_returned_are_not_credited(trade, django_capture_on_commit_callbacks):
    """8 good and 2 damaged arrived; the 2 were sent again and arrived good: the customer keeps
    the 10 it ordered, so the 2 damaged ones go back for nothing."""
    from billing.models import CreditNote

    po = trade.received(lines=[{"listing": trade.listing, "quantity": "10"}], damaged={1: "2"})
    _ship_and_receive(trade, po, {1: "2"})
    with django_capture_on_commit_callbacks(execute=True):
        arrived = _full_return(trade, po, ["2"])
    assert not arrived.credited and not CreditNote.objects.exists()
    line = _lines(po)[0]
    assert (line.kept_quantity, line.expected_quantity, line.left_to_ship) == (10, 10, 0)


def test_a_partial_arrival_gives_back_what_did_not_come(trade, po, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _full_return(trade, po, [None, "3"], arrived=[None, "1"])
    grease = _lines(po)[1]
    assert (grease.quantity_returned, grease.quantity_received_back, grease.quantity_credited) == (1, 1, 1)
    assert grease.returnable == 3  # the 2 that never arrived back may be asked back again


def test_a_full_replacement_cycle_ends_with_the_order_closed(trade, django_capture_on_commit_callbacks):
    po = trade.received(lines=[{"listing": trade.listing, "quantity": "10"}])
    _full_return(trade, po, ["3"], resolution="replacement")
    so = SalesOrder.objects.get(purchase_order=po)
    assert so.status == SalesOrder.Status.PARTIALLY_SHIPPED
    _ship_and_receive(trade, po, {1: "1"})  # one of the three so far: still owed
    so.refresh_from_db()
    po.refresh_from_db()
    assert so.status == SalesOrder.Status.PARTIALLY_SHIPPED and po.status == PurchaseOrder.Status.PARTIALLY_RECEIVED
    _ship_and_receive(trade, po, {1: "2"})
    so.refresh_from_db()
    po.refresh_from_db()
    assert so.status == SalesOrder.Status.SHIPPED and po.status == PurchaseOrder.Status.RECEIVED
    trade.paid(po)
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.CLOSED


def test_an_owed_replacement_keeps_the_order_open_whatever_the_under_receipt_tolerance(trade):
    from accounts import services as account_services

    account_services.update_tolerance_policy(by=trade.customer_admin, under_receipt_percent=Decimal("10"))
    po = trade.received(lines=[{"listing": trade.listing, "quantity": "10"}])
    _full_return(trade, po, ["1"], resolution="replacement")
    trade.paid(po)
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.PARTIALLY_RECEIVED  # 9 of 10 is within 10 %, but 1 is owed
    assert _lines(po)[0].left_to_ship == 1


def test_withdrawing_the_last_open_return_lets_a_paid_order_close(trade):
    po = trade.received(lines=[{"listing": trade.listing, "quantity": "10"}])
    ret = _ask(trade, po, ["1"])
    trade.paid(po)
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.RECEIVED
    returns.withdraw_return(return_request=ret, by=trade.receiver)
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.CLOSED


def test_a_credit_of_everything_that_arrived_damaged_settles_a_confirmed_order(
    trade, django_capture_on_commit_callbacks
):
    """Both units arrived damaged (the order stays confirmed); both go back for credit: nothing
    is awaited any more, the order counts as received, and it closes once the bill is settled."""
    from billing.models import Bill

    po = trade.received(lines=[{"listing": trade.listing, "quantity": "2"}], damaged={1: "2"})
    assert po.status == PurchaseOrder.Status.CONFIRMED
    with django_capture_on_commit_callbacks(execute=True):
        _full_return(trade, po, ["2"])
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.CLOSED  # received (nothing awaited) and a bill of nothing left
    assert Bill.objects.get(purchase_order=po).status == Bill.Status.VERIFIED
