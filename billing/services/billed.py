"""What bills cover of an order: bills entered by hand matched to orders, and the *billed*
mark (automatic when the bills cover the order, or by hand). Lock order: see ``common``.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Membership
from accounts.permissions import require
from accounts.selectors import tolerances_for
from orders import rules
from orders.events import record_event
from orders.models import OrderEvent, PurchaseOrder
from procurement.errors import DomainError
from procurement.money import format_money
from procurement.transactions import require_atomic

from ..models import Bill, BillMatch
from .common import _amount, _lock_bill, _lock_po_of_customer


def billed_amount(po: PurchaseOrder) -> Decimal:
    """What bills cover of an order: its own bill (unless cancelled) and the live matches of
    bills entered by hand."""
    own = Bill.objects.filter(purchase_order=po).exclude(status=Bill.Status.CANCELLED).aggregate(s=Sum("total"))["s"]
    matched = BillMatch.objects.filter(
        purchase_order=po, unmatched_at__isnull=True, bill__status__in=Bill.SETTLING
    ).aggregate(s=Sum("amount"))["s"]
    return (own or Decimal("0")) + (matched or Decimal("0"))


def _refresh_billed(po: PurchaseOrder) -> None:
    """Auto-billed (SPEC §6): the order is *billed* when its bills cover its total within the
    tolerance policy's rounding band (0.10 by default), and no longer when they stop covering
    it — unless someone marked it billed by hand, which stays. The caller holds the order's lock."""
    require_atomic()
    band = tolerances_for(customer_id=po.customer_id, supplier_id=po.supplier_id).billed_band
    covered = billed_amount(po) >= po.total - band
    if covered and po.billed_at is None:
        po.billed_at = timezone.now()
        po.save(update_fields=["billed_at", "updated_at"])
    elif not covered and po.billed_at is not None and po.billed_by_id is None:
        po.billed_at = None
        po.save(update_fields=["billed_at", "updated_at"])


# Bills are matched to confirmed orders: before confirmation the order's own bill is still to
# come (and would bill it twice). A confirmed order's own bill covers it — it is *billed* — so a
# bill by hand is matched to one only after its own bill was cancelled (the supplier sent
# another invoice, say).
MATCHABLE = rules.BILLABLE


@transaction.atomic
def mark_po_billed(*, po: PurchaseOrder, by: Membership) -> PurchaseOrder:
    """Admins and the order's requester say an order is billed: nothing more can be matched."""
    require(by, "orders.view_purchaseorder")
    po = _lock_po_of_customer(po, by)
    rules.require("mark_billed", po=po, membership=by)
    po.billed_at = timezone.now()
    po.billed_by = by.user
    po.save(update_fields=["billed_at", "billed_by", "updated_at"])
    record_event(
        po,
        OrderEvent.Kind.MARKED_BILLED,
        by=by,
        body=f"{po.number} marked billed by hand: no more bills are matched to it.",
    )
    return po


@transaction.atomic
def unmark_po_billed(*, po: PurchaseOrder, by: Membership) -> PurchaseOrder:
    """Undo a *billed* mark made by hand (the same people may): bills can be matched again, and
    the order is billed again at once if its bills cover it. Recorded in the order's thread."""
    require(by, "orders.view_purchaseorder")
    po = _lock_po_of_customer(po, by)
    rules.require("unmark_billed", po=po, membership=by)
    po.billed_at = None
    po.billed_by = None
    po.save(update_fields=["billed_at", "billed_by", "updated_at"])
    _refresh_billed(po)
    record_event(
        po,
        OrderEvent.Kind.BILLED_MARK_UNDONE,
        by=by,
        body=f"The billed mark of {po.number} was undone: "
        + ("its bills cover it." if po.billed_at else "bills can be matched to it again."),
    )
    return po


@transaction.atomic
def match_bill(*, bill: Bill, po: PurchaseOrder, amount: Decimal | None, by: Membership) -> BillMatch:
    """Allocate part of a bill entered by hand to an approved order of the same supplier and
    currency that is not marked billed; the order becomes billed when its bills cover it
    within the rounding band."""
    require(by, "billing.match_bill")
    po = _lock_po_of_customer(po, by)
    bill = _lock_bill(bill, by)
    if bill.is_locked:
        raise DomainError(f"This bill belongs to {bill.purchase_order.number} already.")
    if bill.status not in Bill.SETTLING:
        raise DomainError("This bill is cancelled.")
    if po.supplier_id != bill.supplier_id:
        raise DomainError(f"{po.number} is an order to {po.supplier.name}, not {bill.supplier.name}.", field="po")
    if po.currency != bill.currency:
        raise DomainError(f"{po.number} is in {po.currency}; this bill is in {bill.currency}.", field="po")
    if po.status not in MATCHABLE:
        raise DomainError(
            f"{po.number} is {po.get_status_display().lower()}: bills are matched to confirmed, open orders "
            "(a confirmed order's own bill comes with it).",
            field="po",
        )
    rules.require_active(po)
    if po.billed_at is not None:
        raise DomainError(f"{po.number} is marked billed: nothing more can be matched to it.", field="po")
    if bill.matches.filter(purchase_order=po, unmatched_at__isnull=True).exists():
        raise DomainError(f"This bill is matched to {po.number} already: unmatch it to change the amount.", field="po")
    amount = _amount(amount, bill.currency, "amount")
    allocated = bill.matches.filter(unmatched_at__isnull=True).aggregate(s=Sum("amount"))["s"] or Decimal("0")
    if amount > bill.total - allocated:
        raise DomainError(
            f"Only {format_money(bill.total - allocated, bill.currency)} of this bill is left to match.",
            field="amount",
        )
    left = po.total - billed_amount(po)
    if amount > left:
        raise DomainError(
            f"Only {format_money(max(left, Decimal(0)), po.currency)} of {po.number} is left to bill.", field="amount"
        )
    match = BillMatch.objects.create(bill=bill, purchase_order=po, amount=amount, matched_by=by.user)
    _refresh_billed(po)
    return match


@transaction.atomic
def unmatch_bill(*, match: BillMatch, by: Membership) -> BillMatch:
    """Undo a match while nothing is paid on the bill and the order is open. The match stays on
    record (who unmatched it, when); an order billed by its bills is billed no longer."""
    require(by, "billing.match_bill")
    match = BillMatch.objects.select_related("bill", "purchase_order").get(pk=match.pk)
    po = _lock_po_of_customer(match.purchase_order, by)
    bill = _lock_bill(match.bill, by)
    match = BillMatch.objects.select_for_update().get(pk=match.pk)
    if match.unmatched_at is not None:
        raise DomainError("This match was undone already.")
    if bill.paid_total or bill.status not in Bill.OPEN_STATES:
        raise DomainError("Payments are recorded on this bill: its matches stay as they are.")
    if po.status == PurchaseOrder.Status.CLOSED:
        raise DomainError(f"{po.number} is closed: its matches stay as they are.")
    match.unmatched_at = timezone.now()
    match.unmatched_by = by.user
    match.save(update_fields=["unmatched_at", "unmatched_by"])
    _refresh_billed(po)
    return match
