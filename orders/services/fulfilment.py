"""Shipments and receipts, and the order's closing once everything is received and paid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from accounts.permissions import require
from accounts.selectors import tolerances_for
from procurement.errors import DomainError
from procurement.transactions import require_atomic
from procurement.transitions import transition
from procurement.validators import clean_text, format_date

from .. import interfaces, rules
from ..events import notify, record_event
from ..models import (
    Amendment,
    OrderEvent,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    ReturnRequest,
    SalesOrder,
    Shipment,
    ShipmentLine,
)
from .common import (
    _line_quantity,
    _lock_pair_for_supplier,
    _lock_po,
    _lock_so_of,
    _next_number,
    _units,
    clean_date,
)


@dataclass(frozen=True)
class ReceiptLineInput:
    """What arrived of one line (parsed by ``ReceiptLinesForm``): in good condition, damaged,
    and why (for what is damaged or short). None is none."""

    quantity: Decimal | None = None
    damaged: Decimal | None = None
    reason: str = ""


def _fulfilment_date(value, field: str, what: str) -> date:
    value = clean_date(value, field)
    if value is None:
        raise DomainError(f"When {what}?", field=field)
    if value > timezone.localdate():
        raise DomainError("This date is in the future.", field=field)
    return value


def _tolerance_words(tolerance: Decimal) -> str:
    if not tolerance:
        return "nothing may be received beyond the ordered quantity"
    return f"the over-receipt tolerance is {tolerance.normalize():f} %"


@transaction.atomic
def record_shipment(
    *,
    so: SalesOrder,
    by: Membership,
    lines: dict[int, Decimal | None],
    shipped_on: date | None = None,
    carrier: str = "",
    tracking_number: str = "",
    note: str = "",
) -> Shipment:
    """Transition 11: the supplier sends some or all of the order (quantity per line id; None
    or zero ships none of it). A refusal of a line names it (``DomainError.line``).

    A line may be shipped up to what is left of its ordered quantity, and again what the
    customer noted damaged or short; the SO becomes partially shipped or shipped. All of it or
    nothing is written."""
    require(by, "orders.add_shipment")
    po, so = _lock_pair_for_supplier(so, by)  # every shipment and receipt of the order waits here
    rules.require("ship", po=po, so=so, membership=by)
    shipped_on = _fulfilment_date(shipped_on, "shipped_on", "did it ship")
    carrier = clean_text(carrier, "carrier", limit=100)
    tracking_number = clean_text(tracking_number, "tracking_number", limit=100)
    note = clean_text(note, "note")
    po_lines = {line.pk: line for line in po.lines.all()}
    if set(lines) - set(po_lines):
        raise DomainError("A line of another order was sent.")
    shipped: list[tuple[PurchaseOrderLine, Decimal]] = []
    for pk, value in lines.items():
        line = po_lines[pk]
        quantity = _line_quantity(value, line, "The quantity shipped")
        if not quantity:
            continue
        if line.is_void:
            raise DomainError(
                f"Line {line.position} was {line.get_status_display().split()[0].lower()}: it is not shipped.",
                field="quantity",
                line=pk,
            )
        left = line.left_to_ship
        if quantity > left:
            replaced = line.to_send_again
            raise DomainError(
                f"Line {line.position}: {_units(quantity, line.unit)} is more than the "
                f"{_units(left, line.unit)} left to ship ({_units(line.quantity, line.unit)} ordered, "
                f"{_units(line.quantity_shipped, line.unit)} shipped"
                + (f", {_units(replaced, line.unit)} to send again" if replaced else "")
                + ").",
                field="quantity",
                line=pk,
            )
        shipped.append((line, quantity))
    if not shipped:
        raise DomainError("Enter the quantity shipped on at least one line.")
    number = _next_number(po.shipments)
    shipment = Shipment.objects.create(
        purchase_order=po,
        sales_order=so,
        supplier=po.supplier,
        customer=po.customer,
        number=number,
        shipped_on=shipped_on,
        carrier=carrier,
        tracking_number=tracking_number,
        note=note,
        created_by=by.user,
    )
    ShipmentLine.objects.bulk_create(ShipmentLine(shipment=shipment, po_line=line, quantity=q) for line, q in shipped)
    for line, quantity in shipped:
        line.quantity_shipped += quantity
    PurchaseOrderLine.objects.bulk_update([line for line, _ in shipped], ["quantity_shipped"])
    open_lines = [line for line in po_lines.values() if not line.is_void]
    # Shipped in full once the ordered quantity left, and the replacements of returned units too.
    if all(line.quantity_shipped >= line.quantity + line.quantity_replaced for line in open_lines):
        transition(so, "ship_all", "shipped")
    else:
        transition(so, "ship_part", "shipped")
    so.save()
    how = ", ".join(filter(None, [carrier and f"by {carrier}", tracking_number and f"tracking {tracking_number}"]))
    record_event(
        po,
        OrderEvent.Kind.SHIPPED,
        by=by,
        body=f"Shipment {number} sent {format_date(shipped_on)}{f' ({how})' if how else ''}: "
        + "; ".join(f"{_units(q, line.unit)} {line.sku or line.description[:40]}" for line, q in shipped)
        + ".",
        data={"shipment": shipment.pk, "lines": {str(line.pk): str(q) for line, q in shipped}},
    )
    notify(
        po,
        "order_shipped",
        to_customer=True,
        customer_roles=("receiver",),
        shipment=shipment,
        shipped=[{"line": line, "quantity": q} for line, q in shipped],
    )
    return shipment


@dataclass(frozen=True)
class Received:
    """What recording a receipt did: the receipt, and the order's status after it (``closed``
    when it completed the order — received and paid)."""

    receipt: Receipt
    status: str


@transaction.atomic
def record_receipt(
    *,
    po: PurchaseOrder,
    by: Membership,
    lines: dict[int, ReceiptLineInput],
    received_on: date | None = None,
    shipment: Shipment | None = None,
    note: str = "",
) -> Received:
    """Transition 12: the customer records what arrived (per line id, a ``ReceiptLineInput``:
    ``quantity`` in good condition, ``damaged``, and a ``reason`` for damaged or short units;
    a refusal of a line names it with ``DomainError.line``).

    Against a shipment, every line of the shipment is accounted for: what is neither received
    nor damaged is noted short. Received and damaged units together never exceed what is left
    of the line (the ordered quantity plus the organization's over-receipt tolerance). The PO
    becomes partially received or received, and closes when it is complete."""
    po = _lock_po(po, by)  # every shipment and receipt of the order waits here
    rules.require("receive", po=po, membership=by)
    received_on = _fulfilment_date(received_on, "received_on", "did it arrive")
    note = clean_text(note, "note")
    po_lines = {line.pk: line for line in po.lines.all()}
    if set(lines) - set(po_lines):
        raise DomainError("A line of another order was sent.")
    in_shipment: dict[int, Decimal] = {}
    if shipment is not None:
        shipment = Shipment.objects.filter(pk=shipment.pk, purchase_order=po).first()
        if shipment is None:
            raise DomainError("Choose a shipment of this order.", field="shipment")
        if Receipt.objects.filter(shipment=shipment).exists():
            raise DomainError(f"Shipment {shipment.number} is received already.", field="shipment")
        if received_on < shipment.shipped_on:
            raise DomainError(
                f"Shipment {shipment.number} left {po.supplier.name} on {format_date(shipment.shipped_on)}: "
                "it cannot have arrived before.",
                field="received_on",
            )
        in_shipment = dict(shipment.lines.values_list("po_line_id", "quantity"))
    tolerance = tolerances_for(customer_id=po.customer_id, supplier_id=po.supplier_id).over_receipt_percent
    rows: list[tuple[PurchaseOrderLine, Decimal, Decimal, Decimal, str]] = []
    for pk, line in po_lines.items():
        values = lines.get(pk, ReceiptLineInput())
        quantity = _line_quantity(values.quantity, line, "The quantity received")
        damaged = _line_quantity(values.damaged, line, "The quantity damaged", "damaged")
        short = Decimal("0")
        if shipment is not None:
            if (quantity or damaged) and pk not in in_shipment:
                raise DomainError(
                    f"Line {line.position} was not in shipment {shipment.number}: record it in a receipt of its own.",
                    field="quantity",
                    line=pk,
                )
            expected = in_shipment.get(pk, Decimal("0"))
            if quantity + damaged > expected:
                raise DomainError(
                    f"Line {line.position}: shipment {shipment.number} held {_units(expected, line.unit)}; record "
                    "what came beyond it in a receipt of its own (without a shipment).",
                    field="quantity",
                    line=pk,
                )
            short = expected - quantity - damaged
        if not (quantity or damaged or short):
            continue
        if line.is_void:
            raise DomainError(
                f"Line {line.position} was {line.get_status_display().split()[0].lower()}: it is not received.",
                field="quantity",
                line=pk,
            )
        left = line.left_to_receive(tolerance)
        if quantity + damaged > left:
            raise DomainError(
                f"Line {line.position}: {_units(quantity + damaged, line.unit)} is more than the "
                f"{_units(left, line.unit)} still to receive ({_units(line.quantity, line.unit)} ordered, "
                f"{_units(line.quantity_received, line.unit)} received; {_tolerance_words(tolerance)}).",
                field="quantity",
                line=pk,
            )
        try:
            reason = clean_text(values.reason, "reason", limit=500)
        except DomainError as exc:
            raise DomainError(exc.message, field="reason", line=pk) from None
        if (damaged or short) and not reason:
            what = " and ".join(
                filter(
                    None,
                    [
                        damaged and f"{_units(damaged, line.unit)} damaged",
                        short and f"{_units(short, line.unit)} short",
                    ],
                )
            )
            raise DomainError(f"Line {line.position}: say why ({what}).", field="reason", line=pk)
        rows.append((line, quantity, damaged, short, reason if damaged or short else ""))
    if not rows:
        raise DomainError("Enter what arrived on at least one line.")
    number = _next_number(po.receipts)
    receipt = Receipt.objects.create(
        purchase_order=po,
        customer=po.customer,
        supplier=po.supplier,
        number=number,
        shipment=shipment,
        received_on=received_on,
        note=note,
        created_by=by.user,
    )
    ReceiptLine.objects.bulk_create(
        ReceiptLine(receipt=receipt, po_line=line, quantity=q, quantity_damaged=d, quantity_short=sh, reason=r)
        for line, q, d, sh, r in rows
    )
    for line, quantity, damaged, short, _ in rows:
        line.quantity_received += quantity
        line.quantity_damaged += damaged
        line.quantity_short += short
    PurchaseOrderLine.objects.bulk_update(
        [row[0] for row in rows], ["quantity_received", "quantity_damaged", "quantity_short"]
    )
    if all(line.is_fully_received for line in po_lines.values()):
        transition(po, "receive_all", "received")
    elif any(line.quantity_received for line in po_lines.values()):
        transition(po, "receive_part", "received")
    po.save()
    record_event(
        po,
        OrderEvent.Kind.RECEIVED,
        by=by,
        body=f"Receipt {number} of {format_date(received_on)}"
        + (f" (shipment {shipment.number})" if shipment else "")
        + ": "
        + "; ".join(_receipt_words(line, q, d, sh, r) for line, q, d, sh, r in rows)
        + ".",
        data={"receipt": receipt.pk, "shipment": shipment.pk if shipment else None},
    )
    problems = [
        {"line": line, "quantity": q, "damaged": d, "short": sh, "reason": r} for line, q, d, sh, r in rows if d or sh
    ]
    if problems:
        notify(
            po,
            "receipt_discrepancy",
            to_supplier=True,
            supplier_roles=("sales", "fulfilment"),
            receipt=receipt,
            problems=problems,
        )
    _lapse_open_amendment(po, received={row[0].pk for row in rows})
    closed = close_if_complete(po=po)
    interfaces.billing().record_receipt_fx(po=po)  # the goods against the order's bill, if it exists yet
    return Received(receipt=receipt, status=PurchaseOrder.Status.CLOSED if closed else po.status)


def _receipt_words(line: PurchaseOrderLine, quantity, damaged, short, reason) -> str:
    name = line.sku or line.description[:40]
    parts = [f"{_units(quantity, line.unit)} {name} received"]
    if damaged:
        parts.append(f"{_units(damaged, line.unit)} damaged")
    if short:
        parts.append(f"{_units(short, line.unit)} short")
    return ", ".join(parts) + (f" ({reason})" if reason else "")


@transaction.atomic
def close_if_complete(*, po: PurchaseOrder) -> bool:
    """Transition 15, by the system: the order closes (its SO completes) once its goods are
    received (within the under-receipt tolerance), its invoice is paid — verified payments
    cover it — and no return of its goods is still open. Any service that may finish an order
    (a receipt, a verified payment, a return settled) calls this again; it does nothing until
    every condition holds, and nothing twice."""
    po = PurchaseOrder.objects.select_for_update(of=("self",)).get(pk=po.pk)
    if po.status not in (PurchaseOrder.Status.RECEIVED, PurchaseOrder.Status.PARTIALLY_RECEIVED):
        return False
    if po.status == PurchaseOrder.Status.PARTIALLY_RECEIVED:
        under = tolerances_for(customer_id=po.customer_id, supplier_id=po.supplier_id).under_receipt_percent
        lines = list(po.lines.all())
        if not under or not all(line.is_received_within(under) for line in lines):
            return False
        if any(line.quantity_replaced and not line.is_fully_received for line in lines):
            return False  # a replacement is owed: the under-receipt tolerance does not waive it
    if po.returns.filter(status__in=ReturnRequest.OPEN).exists():
        return False  # a return still open settles first (it may bring a credit or a replacement)
    if not interfaces.billing().is_paid(po=po):
        return False
    so = _lock_so_of(po)
    transition(po, "close", "closed")
    transition(so, "complete", "completed")
    po.save()
    so.save()
    _lapse_open_amendment(po)
    record_event(po, OrderEvent.Kind.CLOSED, body="Everything is received and paid: the order is complete.")
    return True


def _lapse_open_amendment(po: PurchaseOrder, *, received: set[int] | None = None) -> None:
    """The order moved on under its open amendment (inside the order's lock): a line it changes
    was received (``received``: the line pks of a receipt), or the order is complete (None).
    The amendment lapses — its approval ends, and the supplier hears of it if it was asked."""
    require_atomic()
    amendment = Amendment.objects.select_for_update().filter(purchase_order=po, status__in=Amendment.OPEN).first()
    if amendment is None:
        return
    if received is not None:
        hit = sorted(a.position for a in amendment.lines.all() if a.po_line_id in received)
        if not hit:
            return
        why = f"Line {', '.join(map(str, hit))} was received since: ask again for what is still open."
    else:
        why = "The order is complete."
    was_proposed = amendment.status == Amendment.Status.PROPOSED
    transition(amendment, "lapse", "lapsed", noun=f"Amendment {amendment.number}", reason=why)
    amendment.save()
    interfaces.approvals().withdraw_open_requests(po=po)
    if was_proposed:
        record_event(
            po,
            OrderEvent.Kind.AMENDMENT_WITHDRAWN,
            body=f"Amendment {amendment.number} lapsed: {why}",
            data={"amendment": amendment.pk},
        )
        notify(po, "amendment_withdrawn", to_supplier=True, amendment=amendment, lapsed=why)
