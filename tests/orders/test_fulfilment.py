"""Fulfilment: shipments (SPEC §4, 11), receipts (12) with the over-receipt tolerance, the
goods-received status, and completion (15); every refusal writes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.roles import Role
from accounts.selectors import tolerances_for
from orders.models import (
    OrderEvent,
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    SalesOrder,
    Shipment,
    ShipmentLine,
)
from orders.services import fulfilment, negotiation, submission
from procurement.errors import DomainError, NotAllowed
from tests.factories import Trade, member, proposal_line, receipt_line, shipped

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


@pytest.fixture
def trade():
    trade = Trade()
    trade.shipper = member(trade.supplier, Role.FULFILMENT)
    trade.receiver = member(trade.customer, Role.RECEIVER)
    return trade


@pytest.fixture
def po(trade):
    """Confirmed and paid in advance (so that it closes once received): 10 BOLT (line 1) and
    4 kg of a custom item (line 2)."""
    po = trade.confirmed(
        lines=[
            {"listing": trade.listing, "quantity": "10"},
            {"description": "Grease", "quantity": "4", "unit": "kg", "unit_price": "3.00"},
        ]
    )
    trade.paid(po)
    return po


def _lines(po):
    return list(po.lines.order_by("position"))


def _ship(trade, po, quantities, **kwargs):
    lines = _lines(po)
    return fulfilment.record_shipment(
        so=po.sales_order,
        by=kwargs.pop("by", trade.shipper),
        lines=shipped({line.pk: q for line, q in zip(lines, quantities, strict=False)}),
        shipped_on=kwargs.pop("shipped_on", TODAY()),
        **kwargs,
    )


def _receive(trade, po, rows, **kwargs):
    """``rows``: per line, a quantity or (quantity, damaged, reason)."""
    lines = _lines(po)
    values = {}
    for line, row in zip(lines, rows, strict=False):
        quantity, damaged, reason = row if isinstance(row, tuple) else (row, "", "")
        values[line.pk] = receipt_line(quantity=quantity, damaged=damaged, reason=reason)
    return fulfilment.record_receipt(
        po=po,
        by=kwargs.pop("by", trade.receiver),
        lines=values,
        received_on=kwargs.pop("received_on", TODAY()),
        **kwargs,
    ).receipt


def _state(po):
    po.refresh_from_db()
    so = SalesOrder.objects.get(purchase_order=po)
    return po.status, so.status, po.receipt_status


def _progress(po):
    return [
        (line.quantity_shipped, line.quantity_received, line.quantity_damaged, line.quantity_short)
        for line in _lines(po)
    ]


def _written(po):
    """Everything fulfilment writes, to prove a refusal wrote none of it."""
    po.refresh_from_db()
    return (
        po.status,
        po.receipt_status,
        po.sales_order.status,
        _progress(po),
        Shipment.objects.count(),
        ShipmentLine.objects.count(),
        Receipt.objects.count(),
        ReceiptLine.objects.count(),
        po.events.count(),
    )


# --- shipping ------------------------------------------------------------------------------


def test_two_shipments_ship_the_order_partially_then_fully(trade, po, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = _ship(trade, po, ["6", "0"], carrier="DHL", tracking_number="JD0001")
    assert (first.number, first.carrier, first.tracking_number) == (1, "DHL", "JD0001")
    assert _state(po)[:2] == ("confirmed", "partially_shipped")
    assert _progress(po) == [(6, 0, 0, 0), (0, 0, 0, 0)]
    shipped = mail.outbox[-1]
    assert "JD0001" in shipped.subject and "JD0001" in shipped.body and "6 ea BOLT" in shipped.body
    assert trade.buyer.user.email in shipped.to and trade.receiver.user.email in shipped.to
    assert trade.sales.user.email not in shipped.to

    second = _ship(trade, po, ["4", "4"])
    assert second.number == 2
    assert _state(po)[:2] == ("confirmed", "shipped")
    assert _progress(po) == [(10, 0, 0, 0), (4, 0, 0, 0)]
    event = po.events.filter(kind=OrderEvent.Kind.SHIPPED).last()
    assert event.body.startswith("Shipment 2 sent") and "4 ea BOLT; 4 kg Grease" in event.body
    assert event.organization == trade.supplier


def test_shipping_more_than_is_left_is_refused_and_writes_nothing(trade, po):
    _ship(trade, po, ["6"])
    before = _written(po)
    with pytest.raises(DomainError, match=r"Line 1: 5 ea is more than the 4 ea left to ship") as exc:
        _ship(trade, po, ["5", "4"])
    assert (exc.value.line, exc.value.field) == (_lines(po)[0].pk, "quantity")
    assert _written(po) == before


@pytest.mark.parametrize(
    ("quantities", "kwargs", "message"),
    [
        (["0", ""], {}, "Enter the quantity shipped on at least one line."),
        (["-1"], {}, "cannot be negative"),
        (["1.5"], {}, "whole number"),
        (["1"], {"shipped_on": None}, "When did it ship?"),
        (["1"], {"carrier": "<b>DHL</b>"}, None),
    ],
)
def test_bad_shipments_are_refused(trade, po, quantities, kwargs, message):
    before = _written(po)
    with pytest.raises(DomainError, match=message):
        _ship(trade, po, quantities, **kwargs)
    assert _written(po) == before


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ({"quantity": "abc"}, "Line 1: “abc” is not a number."),
        ({"quantity": "+1"}, "Line 1: “+1”: type the number without a “+”."),
        ({"shipped_on": "31/12/2026"}, "Enter a valid date."),
    ],
)
def test_unreadable_shipments_are_refused_by_the_page(client, trade, po, typed, message):
    """A quantity or a date that cannot be read is refused by the page's forms, never guessed."""
    before = _written(po)
    first = _lines(po)[0]
    client.force_login(trade.shipper.user)
    data = {f"line-{first.pk}": typed.get("quantity", "1"), "shipped_on": typed.get("shipped_on", str(TODAY()))}
    response = client.post(reverse("orders:so-ship", args=[trade.supplier.slug, po.sales_order.number]), data)
    assert response.status_code == 400 and message in response.content.decode()
    assert _written(po) == before


def test_the_tolerance_is_for_receiving_not_for_shipping_more(trade, po):
    account_services.update_tolerance_policy(by=trade.customer_admin, over_receipt_percent=Decimal("10"))
    with pytest.raises(DomainError, match=r"11 ea is more than the 10 ea left to ship \(10 ea ordered, 0 ea shipped\)"):
        _ship(trade, po, ["11"])
    shipment = _ship(trade, po, ["10", "4"])
    _receive(trade, po, ["10", "4"], shipment=shipment)
    assert _state(po)[0] == "closed"  # nothing was left in transit when it closed


def test_the_tolerance_rounds_down_to_what_the_unit_allows(trade):
    account_services.update_tolerance_policy(by=trade.customer_admin, over_receipt_percent=Decimal("2.5"))
    po = trade.confirmed(
        lines=[
            {"listing": trade.listing, "quantity": "10"},
            {"description": "Grease", "quantity": "4", "unit": "kg", "unit_price": "3.00"},
        ]
    )
    bolts, grease = _lines(po)
    assert bolts.left_to_receive(Decimal("2.5")) == 10  # 10.25 ea is not a quantity of each
    assert grease.left_to_receive(Decimal("2.5")) == Decimal("4.1")
    with pytest.raises(DomainError, match="11 ea is more than the 10 ea still to receive"):
        _receive(trade, po, ["11"])
    _receive(trade, po, ["10", "4.1"])
    assert _state(po)[0] == "received"


def test_a_receipt_is_not_dated_before_its_shipment(trade, po):
    shipment = _ship(trade, po, ["10", "4"], shipped_on=TODAY() - timedelta(days=2))
    before = _written(po)
    with pytest.raises(DomainError, match="cannot have arrived before") as exc:
        _receive(trade, po, ["10", "4"], shipment=shipment, received_on=TODAY() - timedelta(days=3))
    assert exc.value.field == "received_on"
    assert _written(po) == before
    _receive(trade, po, ["10", "4"], shipment=shipment, received_on=TODAY() - timedelta(days=2))


def test_a_shipment_cannot_be_dated_in_the_future(trade, po):
    with pytest.raises(DomainError, match="in the future"):
        _ship(trade, po, ["1"], shipped_on=TODAY() + timedelta(days=1))


def test_only_confirmed_orders_ship(trade):
    po = trade.sent()
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)  # accepted, not yet confirmed
    before = _written(po)
    with pytest.raises(DomainError, match="shipped once the customer confirms"):
        _ship(trade, po, ["1"])
    assert _written(po) == before


def test_who_may_ship(trade, po):
    with pytest.raises(NotAllowed):
        _ship(trade, po, ["1"], by=trade.sales)  # sales adjusts orders; fulfilment ships
    with pytest.raises(NotAllowed):
        _ship(trade, po, ["1"], by=trade.customer_admin)  # the customer's side
    other = member(Trade().supplier, Role.FULFILMENT)
    with pytest.raises(PurchaseOrder.DoesNotExist):
        _ship(trade, po, ["1"], by=other)  # another supplier: as if it did not exist
    _ship(trade, po, ["1"], by=member(trade.supplier, Role.ADMIN))


def test_a_line_of_another_order_is_refused(trade, po):
    other = trade.confirmed()
    with pytest.raises(DomainError, match="another order"):
        fulfilment.record_shipment(
            so=po.sales_order, by=trade.shipper, lines={other.lines.get().pk: Decimal("1")}, shipped_on=TODAY()
        )


# --- receiving ---------------------------------------------------------------------------


def test_receiving_part_then_the_rest_completes_the_pair(trade, po, django_capture_on_commit_callbacks):
    _ship(trade, po, ["10", "4"])
    with django_capture_on_commit_callbacks(execute=True):
        first = _receive(trade, po, ["6", "0"])
    assert first.number == 1
    assert _state(po) == ("partially_received", "shipped", "partially_received")
    assert mail.outbox == []  # nothing damaged or short: the supplier is not e-mailed
    second = _receive(trade, po, ["4", "4"])
    assert second.number == 2
    assert _state(po) == ("closed", "completed", "fully_received")
    assert po.closed_at is not None
    assert _progress(po) == [(10, 10, 0, 0), (4, 4, 0, 0)]
    kinds = list(po.events.values_list("kind", flat=True))
    assert kinds[-3:] == ["received", "received", "closed"]
    assert "Receipt 2" in po.events.filter(kind="received").last().body


def test_a_receipt_says_where_the_order_stands(trade, po):
    _ship(trade, po, ["10", "4"])
    lines = _lines(po)
    part = fulfilment.record_receipt(
        po=po, by=trade.receiver, lines={lines[0].pk: receipt_line(quantity="6")}, received_on=TODAY()
    )
    assert (part.receipt.number, part.status) == (1, "partially_received")
    rest = fulfilment.record_receipt(
        po=po,
        by=trade.receiver,
        lines={lines[0].pk: receipt_line(quantity="4"), lines[1].pk: receipt_line(quantity="4")},
        received_on=TODAY(),
    )
    assert rest.status == "closed" == _state(po)[0]  # the fixture's order is paid: received, it closes


def test_goods_may_be_received_without_a_shipment(trade, po):
    _receive(trade, po, ["10", "4"])
    assert _state(po) == ("closed", "completed", "fully_received")  # the SO completes unshipped


@pytest.mark.parametrize(
    ("tolerance", "allowed", "refused"),
    [("0", "10", "11"), ("10", "11", "12"), ("25", "12.5", "13")],
)
def test_over_receipt_tolerance_at_its_edge_and_one_unit_over(trade, tolerance, allowed, refused):
    account_services.update_tolerance_policy(by=trade.customer_admin, over_receipt_percent=Decimal(tolerance))
    unit = "kg" if "." in allowed else "ea"
    lines = [{"description": "Sand", "quantity": "10", "unit": unit, "unit_price": "1"}]
    one, two = trade.confirmed(lines=lines), trade.confirmed(lines=lines)
    trade.paid(two)
    before = _written(one)
    with pytest.raises(DomainError, match="over-receipt tolerance is|nothing may be received beyond") as exc:
        _receive(trade, one, [refused])
    assert f"{refused} {unit} is more than the {allowed} {unit} still to receive" in exc.value.message
    assert _written(one) == before
    _receive(trade, two, [allowed])
    assert _progress(two)[0][1] == Decimal(allowed)
    assert _state(two)[0] == "closed"


def test_the_tolerance_counts_what_was_received_before(trade, po):
    account_services.update_tolerance_policy(by=trade.customer_admin, over_receipt_percent=Decimal("10"))
    _receive(trade, po, ["6"])
    with pytest.raises(DomainError, match="6 ea is more than the 5 ea still to receive"):
        _receive(trade, po, ["6"])
    _receive(trade, po, ["5", "4"])
    assert _progress(po)[0][1] == 11


@pytest.mark.parametrize("status", ["draft", "sent", "supplier_accepted", "cancelled"])
def test_receiving_an_order_that_is_not_confirmed_is_refused(trade, status):
    if status == "draft":
        po = trade.draft()
    else:
        po = trade.sent()
        if status == "supplier_accepted":
            negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
        if status == "cancelled":
            submission.cancel_purchase_order(po=po, by=trade.buyer, reason="Not needed")
    po.refresh_from_db()
    assert po.status == status
    receipts, lines = Receipt.objects.count(), list(po.lines.values_list("quantity_received", flat=True))
    with pytest.raises(DomainError, match="received on confirmed orders only"):
        _receive(trade, po, ["1"])
    assert Receipt.objects.count() == receipts
    assert list(po.lines.values_list("quantity_received", flat=True)) == lines


def test_a_closed_order_receives_nothing_more(trade, po):
    _receive(trade, po, ["10", "4"])
    with pytest.raises(DomainError, match="is closed"):
        _receive(trade, po, ["1"])


def test_who_may_receive(trade, po):
    with pytest.raises(NotAllowed):
        _receive(trade, po, ["1"], by=trade.buyer)  # buyers order; receivers receive
    with pytest.raises(PurchaseOrder.DoesNotExist):
        _receive(trade, po, ["1"], by=member(Trade().customer, Role.RECEIVER))
    _receive(trade, po, ["1"], by=trade.customer_admin)


def test_a_suspended_connection_freezes_fulfilment(trade, po):
    account_services.suspend_connection(by=trade.customer_admin, connection=trade.connection)
    before = _written(po)
    with pytest.raises(DomainError, match="frozen"):
        _ship(trade, po, ["1"])
    with pytest.raises(DomainError, match="frozen"):
        _receive(trade, po, ["1"])
    assert _written(po) == before


@pytest.mark.parametrize(
    ("rows", "kwargs", "message"),
    [
        ([""], {}, "Enter what arrived on at least one line."),
        ([("0", "1", "")], {}, r"Line 1: say why \(1 ea damaged\)"),
        (["-2"], {}, "cannot be negative"),
        (["1"], {"received_on": None}, "When did it arrive?"),
        (["1"], {"note": "<script>x</script>"}, None),
        ([("1", "", "<b>no</b>")], {}, None),
    ],
)
def test_bad_receipts_are_refused_and_write_nothing(trade, po, rows, kwargs, message):
    before = _written(po)
    with pytest.raises(DomainError, match=message):
        _receive(trade, po, rows, **kwargs)
    assert _written(po) == before


def test_a_receipt_cannot_be_dated_in_the_future(trade, po):
    with pytest.raises(DomainError, match="in the future") as exc:
        _receive(trade, po, ["1"], received_on=TODAY() + timedelta(days=1))
    assert exc.value.field == "received_on"


# --- damaged and short -------------------------------------------------------------------


def test_damaged_units_are_not_received_and_may_be_shipped_again(trade, po, django_capture_on_commit_callbacks):
    _ship(trade, po, ["6", "4"])
    _receive(trade, po, ["6", "4"])
    _ship(trade, po, ["4"])
    with django_capture_on_commit_callbacks(execute=True):
        _receive(trade, po, [("3", "1", "Crushed box")])
    assert _state(po) == ("partially_received", "shipped", "partially_received")
    assert _progress(po)[0] == (10, 9, 1, 0)
    email = mail.outbox[-1]
    assert "damaged" in email.subject
    assert "1 damaged. Reason: Crushed box" in email.body
    assert trade.sales.user.email in email.to and trade.shipper.user.email in email.to
    assert trade.buyer.user.email not in email.to
    line = _lines(po)[0]
    assert line.left_to_ship == 1 and line.left_to_receive() == 1
    with pytest.raises(DomainError, match="2 ea is more than the 1 ea left to ship"):
        _ship(trade, po, ["2"])
    _ship(trade, po, ["1"], note="Replacement for the crushed one")
    assert _progress(po)[0] == (11, 9, 1, 0)
    _receive(trade, po, ["1"])
    assert _state(po) == ("closed", "completed", "fully_received")


def test_against_a_shipment_what_did_not_arrive_is_short(trade, po, django_capture_on_commit_callbacks):
    shipment = _ship(trade, po, ["10", "4"])
    before = _written(po)
    with pytest.raises(DomainError, match=r"say why \(2 ea short\)"):
        _receive(trade, po, ["8", "4"], shipment=shipment)
    assert _written(po) == before
    with django_capture_on_commit_callbacks(execute=True):
        receipt = _receive(trade, po, [("8", "", "Two missing from the pallet"), "4"], shipment=shipment)
    assert receipt.shipment == shipment
    line = receipt.lines.get(po_line__position=1)
    assert (line.quantity, line.quantity_damaged, line.quantity_short) == (8, 0, 2)
    assert "2 short" in mail.outbox[-1].body
    assert _progress(po) == [(10, 8, 0, 2), (4, 4, 0, 0)]
    assert _lines(po)[0].left_to_ship == 2  # the supplier may send the missing two again
    with pytest.raises(DomainError, match="received already"):
        _receive(trade, po, ["2"], shipment=shipment)
    _receive(trade, po, ["2"])  # the two turn up after all, without a shipment
    assert _lines(po)[0].left_to_ship == 0  # nothing more may be sent: it is all here
    assert _state(po)[0] == "closed"


def test_a_shipment_is_received_for_its_own_lines_and_quantities(trade, po):
    shipment = _ship(trade, po, ["5"])
    with pytest.raises(DomainError, match="Line 2 was not in shipment 1"):
        _receive(trade, po, ["5", "1"], shipment=shipment)
    with pytest.raises(DomainError, match="shipment 1 held 5 ea"):
        _receive(trade, po, [("5", "1", "dented")], shipment=shipment)
    other = trade.confirmed()
    other_shipment = _ship(trade, other, ["1"])
    with pytest.raises(DomainError, match="Choose a shipment of this order") as exc:
        _receive(trade, po, ["5"], shipment=other_shipment)
    assert exc.value.field == "shipment"


def test_only_damaged_goods_leave_the_order_not_received(trade, po):
    _receive(trade, po, [("0", "2", "Wet")])
    assert _state(po) == ("confirmed", "confirmed", "not_received")
    assert _progress(po)[0] == (0, 0, 2, 0)


def test_rejected_lines_are_neither_shipped_nor_waited_for(trade):
    po = trade.sent(
        lines=[
            {"listing": trade.listing, "quantity": "10"},
            {"description": "Grease", "quantity": "4", "unit": "kg", "unit_price": "3.00"},
        ]
    )
    lines = _lines(po)
    negotiation.save_proposal(
        so=po.sales_order,
        by=trade.sales,
        lines={lines[1].pk: proposal_line(action="reject", reject_reason="Discontinued")},
    )
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    negotiation.confirm_purchase_order(po=po, by=trade.buyer)
    with pytest.raises(DomainError, match="Line 2 was rejected"):
        _ship(trade, po, ["0", "1"])
    _ship(trade, po, ["10"])
    assert _state(po)[1] == "shipped"
    _receive(trade, po, ["10"])
    assert _state(po) == ("received", "shipped", "fully_received")
    trade.paid(po)  # the invoice covers the accepted line only
    assert _state(po) == ("closed", "completed", "fully_received")


# --- completion ------------------------------------------------------------------------------


def test_completion_is_checked_again_without_harm(trade, po):
    assert fulfilment.close_if_complete(po=po) is False  # nothing received yet
    _receive(trade, po, ["10", "4"])
    assert fulfilment.close_if_complete(po=po) is False  # closed already: nothing twice
    assert po.events.filter(kind=OrderEvent.Kind.CLOSED).count() == 1


def test_received_but_unpaid_stays_open_until_the_payment_is_verified(trade):
    po = trade.confirmed()
    _receive(trade, po, ["10"])
    assert _state(po) == ("received", "confirmed", "fully_received")
    trade.paid(po)
    assert _state(po) == ("closed", "completed", "fully_received")
    assert po.events.filter(kind=OrderEvent.Kind.CLOSED).count() == 1


def test_the_under_receipt_tolerance_lets_a_short_order_close(trade):
    po = trade.confirmed(lines=[{"description": "Sand", "quantity": "100", "unit": "kg", "unit_price": "1"}])
    trade.paid(po)
    _receive(trade, po, ["97"])
    assert _state(po)[0] == "partially_received"  # 3 % short, no tolerance: waits for the rest
    account_services.update_tolerance_policy(by=trade.customer_admin, under_receipt_percent=Decimal("3"))
    assert fulfilment.close_if_complete(po=po) is True
    assert _state(po)[0] == "closed"


def test_the_tolerance_setting_is_validated(trade):
    for bad in (Decimal("-1"), Decimal("100.01"), Decimal("1.234")):
        with pytest.raises(DomainError) as exc:
            account_services.update_tolerance_policy(by=trade.customer_admin, over_receipt_percent=bad)
        assert exc.value.field == "over_receipt_percent"
    assert tolerances_for(customer_id=trade.customer.pk).over_receipt_percent == 0


def test_a_fully_received_order_offers_no_receipt_and_refuses_one(client, trade):
    """Once everything ordered is in (an unpaid order stays *received*; no over-receipt
    tolerance), *Record receipt* is gone from the order page and the service refuses a receipt."""
    po = trade.confirmed()
    lines = _lines(po)
    _ship(trade, po, [line.quantity for line in lines])
    _receive(trade, po, [line.quantity for line in lines])
    assert _state(po)[0] == PurchaseOrder.Status.RECEIVED
    client.force_login(trade.receiver.user)
    page = client.get(reverse("orders:po-detail", args=[trade.customer.slug, po.number])).content.decode()
    assert "Record receipt" not in page
    with pytest.raises(DomainError, match="is received: nothing is left to receive"):
        _receive(trade, po, [1])
    assert client.get(reverse("orders:po-receive", args=[trade.customer.slug, po.number])).status_code in (302, 403)
