"""Bills entered by hand, the PO lock, bill-to-PO matching with the billed mark, and the
3-way match (SPEC §6)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import services as account_services
from accounts.roles import Role
from billing import selectors
from billing.models import Bill, BillMatch
from billing.services.billed import mark_po_billed, match_bill, unmark_po_billed, unmatch_bill
from billing.services.bills import cancel_bill, create_bill, update_bill
from billing.services.documents import issue_documents
from billing.services.payments import record_payment, verify_payment
from orders.models import PurchaseOrder
from orders.services import fulfilment, negotiation
from procurement.errors import DomainError, NotAllowed
from tests.factories import ConnectionFactory, SupplierFactory, bill_line, member, receipt_line

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate


def _hand_bill(trade, total="100.00", supplier=None, currency="USD", **kwargs):
    return create_bill(
        by=kwargs.pop("by", trade.payables),
        supplier=supplier or trade.supplier,
        currency=currency,
        bill_date=TODAY(),
        due_date=TODAY() + timedelta(days=30),
        lines=[bill_line(description="Paper invoice", quantity="1", unit_price=total)],
        **kwargs,
    )


def _sent(trade, price="10.00"):
    """A confirmed order of 10 ea at ``price`` whose own bill the customer cancelled (the
    supplier sent its invoice on paper): open to bills entered by hand."""
    po = trade.confirmed(lines=[{"description": "Valve", "quantity": "10", "unit": "ea", "unit_price": price}])
    _, own = issue_documents(po=po)
    cancel_bill(bill=own, by=trade.payables, reason="The supplier invoiced on paper")
    po.refresh_from_db()
    assert po.billed_at is None
    return po


# --- bills entered by hand --------------------------------------------------------------------


def test_a_bill_by_hand_has_lines_totals_and_no_lock(trade):
    bill = create_bill(
        by=trade.payables,
        supplier=trade.supplier,
        currency="USD",
        bill_date=TODAY(),
        due_date=TODAY() + timedelta(days=30),
        supplier_reference="SUP-77",
        lines=[
            bill_line(description="Freight", quantity="1", unit_price="40", tax_rate="10"),
            bill_line(description="Pallets", quantity="2", unit_price="5.25"),
        ],
    )
    assert (bill.subtotal, bill.tax_total, bill.total) == (Decimal("50.50"), Decimal("4.00"), Decimal("54.50"))
    assert [line.position for line in bill.lines.all()] == [1, 2]  # (a blank row: see test_views)
    assert not bill.is_locked and bill.created_by == trade.payables.user
    update_bill(bill=bill, by=trade.payables, bill_date=TODAY() - timedelta(days=1), notes="Checked")
    bill.refresh_from_db()
    assert bill.bill_date == TODAY() - timedelta(days=1) and bill.notes == "Checked"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"lines": []}, (0, "description")),
        ({"lines": [bill_line(description="X", quantity="0", unit_price="1")]}, (0, "quantity")),
        ({"lines": [bill_line(description="X", quantity="1", unit_price="1.001")]}, (0, "unit_price")),
        ({"lines": [bill_line(description="X", quantity="1", unit_price="1", tax_rate="101")]}, (0, "tax_rate")),
        ({"due_date": TODAY() - timedelta(days=1)}, (None, "due_date")),
        ({"bill_date": TODAY() + timedelta(days=1)}, (None, "bill_date")),
        ({"currency": "XXX"}, (None, "currency")),
    ],
)
def test_bad_bills_are_refused_and_write_nothing(trade, change, where):
    values = {
        "supplier": trade.supplier,
        "currency": "USD",
        "bill_date": TODAY(),
        "due_date": TODAY(),
        "lines": [bill_line(description="X", quantity="1", unit_price="1")],
        **change,
    }
    with pytest.raises(DomainError) as exc:
        create_bill(by=trade.payables, **values)
    assert (exc.value.line, exc.value.field) == where
    assert not Bill.objects.exists()


def test_a_bill_from_a_supplier_we_do_not_buy_from_is_refused(trade):
    with pytest.raises(DomainError) as exc:
        _hand_bill(trade, supplier=SupplierFactory())
    assert exc.value.field == "supplier"
    with pytest.raises(NotAllowed):
        _hand_bill(trade, by=trade.buyer)


def test_the_same_suppliers_invoice_number_twice_is_refused(trade):
    _hand_bill(trade, supplier_reference="INV-9")
    with pytest.raises(DomainError, match="exists already"):
        _hand_bill(trade, supplier_reference="inv-9")


# --- the PO lock ------------------------------------------------------------------------------


@pytest.fixture
def order_bill(trade):
    po = trade.confirmed()
    issue_documents(po=po)
    return Bill.objects.get(purchase_order=po)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bill_date", date(2020, 1, 1)),
        ("supplier", None),
        ("location", None),
        ("supplier_reference", "OTHER-1"),
        ("currency", "EUR"),
        ("lines", [{"description": "More", "quantity": "1", "unit_price": "999"}]),
    ],
)
def test_the_po_lock_refuses_each_locked_field(trade, order_bill, field, value):
    before = Bill.objects.filter(pk=order_bill.pk).values().get()
    lines = list(order_bill.lines.values())
    if field == "location":  # a location that differs from the order's ship-to
        from tests.factories import LocationFactory

        value = LocationFactory(organization=trade.customer)
    with pytest.raises(DomainError, match="follows purchase order") as exc:
        update_bill(bill=order_bill, by=trade.payables, notes="x", **{field: value})
    assert exc.value.field == field
    assert Bill.objects.filter(pk=order_bill.pk).values().get() == before
    assert list(order_bill.lines.values()) == lines


@pytest.mark.parametrize("field", ["bill_date", "due_date"])
def test_the_bill_services_take_dates_not_text(trade, order_bill, field):
    """Dates typed by a person are parsed by the forms' DateFields; the services refuse text
    (they read ISO strings once), and write nothing."""
    text = str(TODAY())
    dates = {"bill_date": TODAY(), "due_date": TODAY(), field: text}
    with pytest.raises(TypeError, match=f"{field} must be a date"):
        create_bill(
            by=trade.payables,
            supplier=trade.supplier,
            currency="USD",
            lines=[bill_line(description="Paper invoice", quantity="1", unit_price="1")],
            **dates,
        )
    assert Bill.objects.count() == 1  # the order's own
    before = Bill.objects.filter(pk=order_bill.pk).values().get()
    with pytest.raises(TypeError, match=f"{field} must be a date"):
        update_bill(bill=order_bill, by=trade.payables, **{field: text})
    assert Bill.objects.filter(pk=order_bill.pk).values().get() == before


def test_the_po_lock_leaves_due_date_reference_and_notes_open(trade, order_bill):
    later = order_bill.due_date + timedelta(days=5)
    update_bill(
        bill=order_bill,
        by=trade.payables,
        due_date=later,
        reference_number="AP-2026-14",
        notes="Pay with the March run",
        bill_date=order_bill.bill_date,  # unchanged locked values are fine
        supplier=order_bill.supplier,
    )
    order_bill.refresh_from_db()
    assert (order_bill.due_date, order_bill.reference_number, order_bill.notes) == (
        later,
        "AP-2026-14",
        "Pay with the March run",
    )


def test_cancel_needs_the_permission_a_reason_and_no_payment(trade, order_bill):
    with pytest.raises(NotAllowed):
        cancel_bill(bill=order_bill, by=trade.buyer, reason="Duplicate")
    record_payment(bill=order_bill, by=trade.payables, amount=Decimal("1"), paid_on=TODAY(), method="cheque")
    with pytest.raises(DomainError, match="Payments are recorded"):
        cancel_bill(bill=order_bill, by=trade.payables, reason="Duplicate")
    bill = _hand_bill(trade)
    with pytest.raises(DomainError):
        cancel_bill(bill=bill, by=trade.payables, reason="")
    cancel_bill(bill=bill, by=trade.payables, reason="Entered twice")
    bill.refresh_from_db()
    assert bill.status == "cancelled" and bill.cancelled_by == trade.payables.user


# --- matching ---------------------------------------------------------------------------------


def test_matching_covers_an_order_and_marks_it_billed(trade):
    po = _sent(trade)  # 100.00
    one, two = _hand_bill(trade, "60.00"), _hand_bill(trade, "40.00")
    match_bill(bill=one, po=po, amount=Decimal("60"), by=trade.payables)
    po.refresh_from_db()
    assert po.billed_at is None
    match = match_bill(bill=two, po=po, amount=Decimal("40"), by=trade.payables)
    po.refresh_from_db()
    assert po.billed_at is not None and po.billed_by is None  # billed by its bills
    assert match.matched_by == trade.payables.user
    assert selectors.three_way(two).reasons  # a bill-level match is shown


@pytest.mark.parametrize(("short", "billed"), [("0.10", True), ("0.11", False)])
def test_the_ten_cent_rule(trade, short, billed):
    po = _sent(trade)
    amount = Decimal("100.00") - Decimal(short)
    bill = _hand_bill(trade, str(amount))
    match_bill(bill=bill, po=po, amount=amount, by=trade.payables)
    po.refresh_from_db()
    assert (po.billed_at is not None) is billed


def test_the_rounding_band_comes_from_the_tolerance_policy(trade):
    account_services.set_supplier_tolerance(
        by=trade.customer_admin, supplier=trade.supplier, reason="Rounds to the dollar", billed_band=Decimal("1.00")
    )
    po = _sent(trade)
    bill = _hand_bill(trade, "99.00")
    match_bill(bill=bill, po=po, amount=Decimal("99"), by=trade.payables)
    po.refresh_from_db()
    assert po.billed_at is not None


def test_same_supplier_and_currency_only(trade):
    po = _sent(trade)
    other = ConnectionFactory(customer=trade.customer, supplier=SupplierFactory()).supplier
    with pytest.raises(DomainError, match="is an order to") as exc:
        match_bill(bill=_hand_bill(trade, supplier=other), po=po, amount=Decimal("1"), by=trade.payables)
    assert exc.value.field == "po"
    with pytest.raises(DomainError, match="is in USD; this bill is in EUR"):
        match_bill(bill=_hand_bill(trade, currency="EUR"), po=po, amount=Decimal("1"), by=trade.payables)
    assert not BillMatch.objects.exists()


def test_billed_orders_refuse_matches(trade):
    po = _sent(trade)
    mark_po_billed(po=po, by=trade.buyer)  # the requester may
    po.refresh_from_db()
    assert po.billed_by == trade.buyer.user
    with pytest.raises(DomainError, match="marked billed: nothing more can be matched"):
        match_bill(bill=_hand_bill(trade), po=po, amount=Decimal("1"), by=trade.payables)
    confirmed = trade.confirmed()
    issue_documents(po=confirmed)  # its own bill covers it
    confirmed.refresh_from_db()
    assert confirmed.billed_at is not None
    with pytest.raises(DomainError, match="marked billed"):
        match_bill(bill=_hand_bill(trade), po=confirmed, amount=Decimal("1"), by=trade.payables)
    assert not BillMatch.objects.exists()


def test_who_may_mark_billed(trade):
    po = _sent(trade)
    with pytest.raises(NotAllowed):
        mark_po_billed(po=po, by=member(trade.customer, Role.BUYER))  # not the requester
    with pytest.raises(NotAllowed):
        mark_po_billed(po=po, by=trade.payables)
    mark_po_billed(po=po, by=trade.customer_admin)
    with pytest.raises(DomainError, match="already"):
        mark_po_billed(po=po, by=trade.buyer)


def test_a_billed_mark_made_by_hand_is_undone_by_the_same_people(trade):
    po = _sent(trade)
    assert not po.events.filter(kind="marked_billed").exists()
    with pytest.raises(DomainError, match="is not marked billed"):
        unmark_po_billed(po=po, by=trade.buyer)
    mark_po_billed(po=po, by=trade.buyer)
    with pytest.raises(NotAllowed, match="undo its billed mark"):
        unmark_po_billed(po=po, by=trade.payables)
    with pytest.raises(NotAllowed):
        unmark_po_billed(po=po, by=member(trade.customer, Role.BUYER))  # not the requester
    po = unmark_po_billed(po=po, by=trade.customer_admin)
    assert (po.billed_at, po.billed_by) == (None, None)
    undone = po.events.get(kind="billed_undone")
    assert undone.actor == trade.customer_admin.user and "bills can be matched to it again" in undone.body
    match_bill(bill=_hand_bill(trade), po=po, amount=Decimal("1"), by=trade.payables)  # matched again
    # A mark the bills made is lifted by unmatching them, not by hand.
    match_bill(bill=_hand_bill(trade, "99"), po=po, amount=Decimal("99"), by=trade.payables)
    po.refresh_from_db()
    assert po.billed_at is not None and po.billed_by is None
    with pytest.raises(DomainError, match="billed by its bills, not by hand"):
        unmark_po_billed(po=po, by=trade.buyer)


def test_mark_billed_only_from_confirmation_until_closed(trade):
    """Before confirmation the order's own bill is still to come: marking it billed then would
    stop its matching before it began."""
    accepted = trade.sent()
    negotiation.accept_sales_order(so=accepted.sales_order, by=trade.sales)
    for po in (trade.sent(), accepted):
        with pytest.raises(DomainError, match="from its confirmation until it is closed"):
            mark_po_billed(po=po, by=trade.buyer)
        po.refresh_from_db()
        assert po.billed_at is None


def test_only_confirmed_open_orders_are_matched(trade):
    """Before confirmation the order's own bill is still to come: matching then would bill it twice."""
    for po in (trade.draft(), trade.sent()):
        with pytest.raises(DomainError, match="matched to confirmed, open orders"):
            match_bill(bill=_hand_bill(trade), po=po, amount=Decimal("1"), by=trade.payables)
    assert not BillMatch.objects.exists()


def test_an_order_paid_through_bills_by_hand_closes(trade):
    po = _sent(trade)
    bill = _hand_bill(trade)
    match_bill(bill=bill, po=po, amount=Decimal("100"), by=trade.payables)
    _receive(trade, po, "10")
    po.refresh_from_db()
    assert po.status == "received"
    payment = record_payment(bill=bill, by=trade.payables, amount=Decimal("100"), paid_on=TODAY(), method="cheque")
    verify_payment(payment=payment, by=trade.receivables, amount_received=Decimal("100"))
    po.refresh_from_db()
    assert po.status == "closed"
    assert po.events.filter(kind="bill_cancelled").exists()  # the supplier reads why in the thread…
    from accounts.models import OutboundEmail

    assert OutboundEmail.objects.filter(key__startswith="bill_cancelled:").count() == 1  # …and by e-mail


def test_a_bill_of_nothing_is_settled_as_it_is_made(trade):
    po = trade.confirmed(lines=[{"description": "Free sample", "quantity": "1", "unit": "ea", "unit_price": "0"}])
    invoice, bill = issue_documents(po=po)
    assert (invoice.status, bill.status) == ("paid", "verified")
    _receive(trade, po, "1")
    po.refresh_from_db()
    assert po.status == "closed"


def test_verifying_nothing_received_is_a_dispute(trade, order_bill):
    payment = record_payment(bill=order_bill, by=trade.payables, amount=Decimal("5"), paid_on=TODAY(), method="cheque")
    with pytest.raises(DomainError, match="Dispute the payment instead"):
        verify_payment(payment=payment, by=trade.receivables, amount_received=Decimal("0"))


def test_a_frozen_order_takes_no_payment(trade, order_bill):
    account_services.suspend_connection(by=trade.customer_admin, connection=trade.connection)
    with pytest.raises(DomainError, match="frozen"):
        record_payment(bill=order_bill, by=trade.payables, amount=Decimal("5"), paid_on=TODAY(), method="cheque")


def test_editing_a_bill_cannot_duplicate_a_suppliers_invoice_number(trade):
    _hand_bill(trade, supplier_reference="INV-1")
    other = _hand_bill(trade, supplier_reference="INV-2")
    with pytest.raises(DomainError, match="exists already"):
        update_bill(bill=other, by=trade.payables, supplier_reference="inv-1")


def test_allocations_stay_within_the_bill_and_the_order(trade):
    po, other = _sent(trade), _sent(trade)
    bill = _hand_bill(trade, "150.00")
    match_bill(bill=bill, po=po, amount=Decimal("90"), by=trade.payables)
    with pytest.raises(DomainError, match="Only 10.00 USD of") as exc:
        match_bill(bill=_hand_bill(trade, "20"), po=po, amount=Decimal("20"), by=trade.payables)
    assert exc.value.field == "amount"
    with pytest.raises(DomainError, match="Only 60.00 USD of this bill is left"):
        match_bill(bill=bill, po=other, amount=Decimal("61"), by=trade.payables)
    with pytest.raises(DomainError, match="matched to .* already"):
        match_bill(bill=bill, po=po, amount=Decimal("1"), by=trade.payables)
    match_bill(bill=bill, po=other, amount=Decimal("60"), by=trade.payables)
    assert list(selectors.matchable_orders(bill)) == []  # both matched
    result = selectors.three_way(bill)
    assert result.badge == "awaiting_receipt"  # billed, nothing received yet: not a mismatch
    assert f"{po.number}: 90.00 USD billed, goods received worth 0.00 USD so far: awaiting receipt" in result.reasons[0]
    PurchaseOrder.objects.filter(pk=po.pk).update(status=PurchaseOrder.Status.RECEIVED)  # as if the rest never came
    assert selectors.three_way(bill).badge == "mismatch"


def test_unmatching_is_recorded_and_lifts_the_billed_mark(trade):
    po = _sent(trade)
    bill = _hand_bill(trade)
    match = match_bill(bill=bill, po=po, amount=Decimal("100"), by=trade.payables)
    po.refresh_from_db()
    assert po.billed_at is not None
    unmatch_bill(match=match, by=trade.customer_admin)
    match.refresh_from_db()
    po.refresh_from_db()
    assert match.unmatched_by == trade.customer_admin.user and match.unmatched_at is not None
    assert po.billed_at is None  # its bills no longer cover it
    with pytest.raises(DomainError, match="undone already"):
        unmatch_bill(match=match, by=trade.payables)
    again = match_bill(bill=bill, po=po, amount=Decimal("100"), by=trade.payables)
    assert BillMatch.objects.count() == 2  # the record keeps both
    record_payment(bill=bill, by=trade.payables, amount=Decimal("1"), paid_on=TODAY(), method="cheque")
    with pytest.raises(DomainError, match="Payments are recorded"):
        unmatch_bill(match=again, by=trade.payables)


def test_unmatching_keeps_a_mark_made_by_hand(trade):
    po = _sent(trade)
    bill = _hand_bill(trade, "50")
    match = match_bill(bill=bill, po=po, amount=Decimal("50"), by=trade.payables)
    mark_po_billed(po=po, by=trade.customer_admin)
    unmatch_bill(match=match, by=trade.payables)
    po.refresh_from_db()
    assert po.billed_at is not None and po.billed_by == trade.customer_admin.user


def test_cancelling_a_bill_undoes_its_matches(trade):
    po = _sent(trade)
    bill = _hand_bill(trade)
    match_bill(bill=bill, po=po, amount=Decimal("100"), by=trade.payables)
    cancel_bill(bill=bill, by=trade.payables, reason="Wrong supplier")
    po.refresh_from_db()
    assert po.billed_at is None
    assert BillMatch.objects.get().unmatched_by == trade.payables.user


# --- 3-way match ------------------------------------------------------------------------------


def _receive(trade, po, quantity):
    fulfilment.record_receipt(
        po=po,
        by=member(trade.customer, Role.RECEIVER),
        lines={po.lines.get().pk: receipt_line(quantity=quantity)},
        received_on=TODAY(),
    )


def test_three_way_per_line(trade, order_bill):
    """Issue 18 #10: from the moment of confirmation, goods not received yet are awaited, not
    a mismatch; a mismatch is what truly disagrees."""
    po = order_bill.purchase_order
    result = selectors.three_way(order_bill)
    assert (result.badge, result.label) == ("awaiting_receipt", "Awaiting receipt")
    assert result.lines[0].reasons == ["Billed 10 ea, received 0 ea: awaiting receipt of 10 ea."]
    _receive(trade, po, "4")
    result = selectors.three_way(order_bill)
    assert result.badge == "awaiting_receipt"
    assert result.lines[0].reasons == ["Billed 10 ea, received 4 ea: awaiting receipt of 6 ea."]
    # An order that receives no more (received in full elsewhere, or closed): the rest is a mismatch.
    PurchaseOrder.objects.filter(pk=po.pk).update(status=PurchaseOrder.Status.RECEIVED)
    order_bill = Bill.objects.select_related("purchase_order").get(pk=order_bill.pk)
    result = selectors.three_way(order_bill)
    assert result.badge == "mismatch"
    assert result.lines[0].reasons == ["Billed 10 ea, received 4 ea: 6 ea billed and not received."]
    PurchaseOrder.objects.filter(pk=po.pk).update(status=PurchaseOrder.Status.PARTIALLY_RECEIVED)
    order_bill = Bill.objects.select_related("purchase_order").get(pk=order_bill.pk)
    _receive(trade, po, "6")
    result = selectors.three_way(order_bill)
    assert (result.badge, result.lines[0].badge) == ("matched", "matched")


def test_three_way_under_receipt_is_a_variance_within_the_tolerance(trade, order_bill):
    po = order_bill.purchase_order
    _receive(trade, po, "9")
    assert selectors.three_way(order_bill).badge == "awaiting_receipt"
    account_services.update_tolerance_policy(by=trade.customer_admin, under_receipt_percent=Decimal("10"))
    result = selectors.three_way(order_bill)
    assert result.badge == "variance"
    assert "within the under-receipt tolerance" in result.lines[0].reasons[0]


def test_three_way_price_variance_and_mismatch(trade, order_bill):
    line = order_bill.lines.get()
    _receive(trade, order_bill.purchase_order, "10")
    line.unit_price = Decimal("2.55")  # ordered at 2.50: +2 %
    line.save()
    result = selectors.three_way(order_bill)
    assert result.badge == "mismatch" and "Unit price 2.55 USD, ordered at 2.50 USD (+2.0 %)" in result.reasons[0]
    account_services.update_tolerance_policy(by=trade.customer_admin, price_variance_percent=Decimal("2"))
    result = selectors.three_way(order_bill)
    assert result.badge == "variance" and "within the price tolerance" in result.lines[0].reasons[0]
    line.quantity = Decimal("11")
    line.save()
    assert "Billed 11 ea, ordered 10 ea." in selectors.three_way(order_bill).lines[0].reasons
