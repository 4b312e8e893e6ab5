"""Returns of received goods (SPEC §6): the customer asks (per line, a reason, credit or
replacement), the supplier authorizes it with an RMA number or declines it, the customer ships the
goods back, the supplier records what arrived. For a credit, billing then makes the credit note and
the debit note (``interfaces.billing().credit_return_after_commit``); for a replacement, the units
go back to *to ship* on the sales order. Lock order: the purchase order, the sales order, the return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from accounts.models import Membership
from accounts.permissions import require
from accounts.services import next_document_number
from procurement import uploads
from procurement.errors import DomainError
from procurement.transactions import require_atomic
from procurement.transitions import transition
from procurement.validators import clean_text, format_date

from .. import interfaces, rules
from ..events import notify, record_event
from ..models import (
    OrderEvent,
    PurchaseOrder,
    PurchaseOrderLine,
    ReturnAttachment,
    ReturnLine,
    ReturnRequest,
    SalesOrder,
)
from .common import _line_quantity, _lock_po, _next_number, _units
from .fulfilment import _fulfilment_date, close_if_complete

MAX_ATTACHMENTS = 5


@dataclass(frozen=True)
class ArrivalInput:
    """What arrived back of one line of a return (parsed by the arrival form)."""

    quantity: Decimal | None = None
    condition: str = ""


def _name(line: PurchaseOrderLine) -> str:
    return line.sku or line.description[:40]


def _lines_words(rows) -> str:
    return "; ".join(f"{_units(q, line.unit)} {_name(line)}" for line, q in rows)


def _lock_return_for_customer(return_request: ReturnRequest, by: Membership) -> tuple[PurchaseOrder, ReturnRequest]:
    require_atomic()
    po = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("connection", "customer", "supplier", "requester")
        .get(returns__pk=return_request.pk, customer=by.organization)
    )
    return po, ReturnRequest.objects.select_for_update().get(pk=return_request.pk, purchase_order=po)


def _lock_return_for_supplier(
    return_request: ReturnRequest, by: Membership
) -> tuple[PurchaseOrder, SalesOrder, ReturnRequest]:
    require_atomic()
    po = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("connection", "customer", "supplier", "requester")
        .get(returns__pk=return_request.pk, supplier=by.organization)
    )
    so = SalesOrder.objects.select_for_update().get(purchase_order=po)
    return po, so, ReturnRequest.objects.select_for_update().get(pk=return_request.pk, purchase_order=po)


def _tell(
    po: PurchaseOrder, template: str, return_request: ReturnRequest, *, to_customer=False, to_supplier=False, **context
):
    require_atomic()
    notify(
        po,
        template,
        to_customer=to_customer,
        to_supplier=to_supplier,
        customer_roles=("receiver",),
        customer_also=(return_request.requested_by.email,),
        supplier_roles=("sales", "fulfilment"),
        tab="returns",
        return_request=return_request,
        return_lines=list(return_request.lines.select_related("po_line")),
        **context,
    )


@transaction.atomic
def request_return(
    *,
    po: PurchaseOrder,
    by: Membership,
    lines: dict[int, Decimal | None],
    reason: str,
    resolution: str,
    reason_text: str = "",
    attachments: list[UploadedFile] | tuple[UploadedFile, ...] = (),
) -> ReturnRequest:
    """The customer asks to send received goods back: a quantity per line id (None or zero: none
    of it), never more than arrived and is not yet asked back; a reason (with words for *other*);
    and what it asks for, a credit or a replacement (a closed order gets credits only). A refusal
    of a line names it (``DomainError.line``); all of it or nothing is written."""
    require(by, "orders.add_returnrequest")
    po = _lock_po(po, by)
    rules.require("request_return", po=po, membership=by)
    if reason not in ReturnRequest.Reason.values:
        raise DomainError("Choose why the goods go back.", field="reason")
    reason_text = clean_text(reason_text, "reason_text", limit=2000)
    if reason == ReturnRequest.Reason.OTHER and not reason_text:
        raise DomainError("Say why the goods go back.", field="reason_text")
    if resolution not in ReturnRequest.Resolution.values:
        raise DomainError("Choose a credit or a replacement.", field="resolution")
    if resolution == ReturnRequest.Resolution.REPLACEMENT and po.status == PurchaseOrder.Status.CLOSED:
        raise DomainError(
            f"{po.number} is closed: ask for a credit, or raise a new order for the replacement.", field="resolution"
        )
    po_lines = {line.pk: line for line in po.lines.all()}
    if set(lines) - set(po_lines):
        raise DomainError("A line of another order was sent.")
    problems = return_line_problems(list(po_lines.values()), lines)
    if problems:
        raise next(iter(problems.values()))
    rows = [(line, lines[pk]) for pk, line in po_lines.items() if lines.get(pk)]
    files = list(attachments)
    if len(files) > MAX_ATTACHMENTS:
        raise DomainError(f"Attach at most {MAX_ATTACHMENTS} files.", field="attachments")
    names = [uploads.attachment_name(f, field="attachments", fallback="return-photo") for f in files]
    return_request = ReturnRequest.objects.create(
        purchase_order=po,
        customer=po.customer,
        supplier=po.supplier,
        number=_next_number(po.returns),
        reason=reason,
        reason_text=reason_text,
        resolution=resolution,
        requested_by=by.user,
    )
    ReturnLine.objects.bulk_create(
        ReturnLine(return_request=return_request, po_line=line, quantity=q) for line, q in rows
    )
    for upload, name in zip(files, names, strict=True):
        attachment = ReturnAttachment(return_request=return_request, name=name[-200:], uploaded_by=by.user)
        attachment.file.save(name, upload, save=False)
        attachment.save()
    for line, quantity in rows:
        line.quantity_returned += quantity
    PurchaseOrderLine.objects.bulk_update([line for line, _ in rows], ["quantity_returned"])
    why = return_request.get_reason_display().lower() + (f": {reason_text}" if reason_text else "")
    record_event(
        po,
        OrderEvent.Kind.RETURN_REQUESTED,
        by=by,
        body=f"{return_request.label} requested for {return_request.get_resolution_display().lower()} "
        f"({why}): {_lines_words(rows)}.",
        data={"return": return_request.pk},
    )
    _tell(po, "return_requested", return_request, to_supplier=True)
    return return_request


def return_line_problems(po_lines: list[PurchaseOrderLine], lines: dict[int, Decimal | None]) -> dict[int, DomainError]:
    """Every line's refusal at once, by line id (empty when the quantities may be asked back): a
    quantity that is negative or not in the line's unit, or more than arrived and is not yet asked
    back; with nothing asked on any line, a refusal on the first. The request's rule, which its
    form also shows beside each input before asking."""
    problems: dict[int, DomainError] = {}
    asked_any = False
    for line in po_lines:
        try:
            quantity = _line_quantity(lines.get(line.pk), line, "The quantity to return")
        except DomainError as exc:
            problems[line.pk] = exc
            asked_any = True
            continue
        if not quantity:
            continue
        asked_any = True
        left = line.returnable
        if quantity > left:
            asked = line.quantity_returned
            problems[line.pk] = DomainError(
                f"Line {line.position}: {_units(quantity, line.unit)} is more than the {_units(left, line.unit)} "
                f"that can still go back ({_units(line.quantity_received + line.quantity_damaged, line.unit)} arrived"
                + (f", {_units(asked, line.unit)} asked back already" if asked else "")
                + ").",
                field="quantity",
                line=line.pk,
            )
    if not asked_any and po_lines:
        first = po_lines[0].pk
        problems[first] = DomainError(
            "Enter the quantity to return on at least one line.", field="quantity", line=first
        )
    return problems


def _release(return_request: ReturnRequest) -> None:
    """A return that will not happen gives its quantities back to what may be returned."""
    require_atomic()
    rows = list(return_request.lines.select_related("po_line"))
    lines = []
    for row in rows:
        row.po_line.quantity_returned -= row.quantity
        lines.append(row.po_line)
    PurchaseOrderLine.objects.bulk_update(lines, ["quantity_returned"])


@transaction.atomic
def withdraw_return(*, return_request: ReturnRequest, by: Membership) -> ReturnRequest:
    """The customer takes back a return the supplier has not answered yet."""
    require(by, "orders.add_returnrequest")
    po, return_request = _lock_return_for_customer(return_request, by)
    rules.require_return("withdraw_return", return_request=return_request, po=po, membership=by)
    transition(return_request, "withdraw", "withdrawn", noun=return_request.label)
    return_request.save()
    _release(return_request)
    record_event(
        po,
        OrderEvent.Kind.RETURN_WITHDRAWN,
        by=by,
        body=f"{return_request.label} withdrawn by {by.user.full_name}.",
        data={"return": return_request.pk},
    )
    _tell(po, "return_withdrawn", return_request, to_supplier=True)
    close_if_complete(po=po)  # it may have been all that kept a paid order open
    return return_request


@transaction.atomic
def accept_return(*, return_request: ReturnRequest, by: Membership, instructions: str = "") -> ReturnRequest:
    """The supplier authorizes the return: an RMA number from its own sequence, and how to send
    the goods back."""
    require(by, "orders.answer_returnrequest")
    po, _, return_request = _lock_return_for_supplier(return_request, by)
    rules.require_return("accept_return", return_request=return_request, po=po, membership=by)
    instructions = clean_text(instructions, "instructions", limit=4000)
    rma = next_document_number(organization=po.supplier, kind="rma")
    transition(
        return_request,
        "accept",
        "authorized",
        noun=return_request.label,
        by=by.user,
        rma_number=rma,
        instructions=instructions,
    )
    return_request.save()
    record_event(
        po,
        OrderEvent.Kind.RETURN_ACCEPTED,
        by=by,
        body=f"{return_request.label} authorized by {po.supplier.name}"
        + (f": {instructions}" if instructions else "; ship the goods back quoting the RMA number."),
        data={"return": return_request.pk},
    )
    _tell(po, "return_accepted", return_request, to_customer=True)
    return return_request


@transaction.atomic
def decline_return(*, return_request: ReturnRequest, by: Membership, reason: str) -> ReturnRequest:
    """The supplier declines the return, saying why: the goods stay with the customer."""
    require(by, "orders.answer_returnrequest")
    po, _, return_request = _lock_return_for_supplier(return_request, by)
    rules.require_return("decline_return", return_request=return_request, po=po, membership=by)
    reason = clean_text(reason, "reason", required=True, limit=2000)
    transition(return_request, "decline", "declined", noun=return_request.label, by=by.user, reason=reason)
    return_request.save()
    _release(return_request)
    record_event(
        po,
        OrderEvent.Kind.RETURN_DECLINED,
        by=by,
        body=f"{return_request.label} declined by {po.supplier.name}: {reason}",
        data={"return": return_request.pk},
    )
    _tell(po, "return_declined", return_request, to_customer=True, reason=reason)
    close_if_complete(po=po)
    return return_request


@transaction.atomic
def ship_return(
    *,
    return_request: ReturnRequest,
    by: Membership,
    shipped_on: date | None,
    carrier: str = "",
    tracking_number: str = "",
) -> ReturnRequest:
    """The customer sends the authorized goods back (date, carrier, tracking)."""
    require(by, "orders.add_returnrequest")
    po, return_request = _lock_return_for_customer(return_request, by)
    rules.require_return("ship_return", return_request=return_request, po=po, membership=by)
    shipped_on = _fulfilment_date(shipped_on, "shipped_on", "did it leave")
    if return_request.decided_at and shipped_on < return_request.decided_at.date():
        raise DomainError(
            f"{return_request.label} was authorized on {format_date(return_request.decided_at.date())}: "
            "it cannot have left before.",
            field="shipped_on",
        )
    carrier = clean_text(carrier, "carrier", limit=100)
    tracking_number = clean_text(tracking_number, "tracking_number", limit=100)
    transition(
        return_request,
        "ship_back",
        "shipped back",
        noun=return_request.label,
        by=by.user,
        shipped_on=shipped_on,
        carrier=carrier,
        tracking_number=tracking_number,
    )
    return_request.save()
    how = ", ".join(filter(None, [carrier and f"by {carrier}", tracking_number and f"tracking {tracking_number}"]))
    record_event(
        po,
        OrderEvent.Kind.RETURN_SHIPPED,
        by=by,
        body=f"{return_request.label} shipped back {format_date(shipped_on)}{f' ({how})' if how else ''}.",
        data={"return": return_request.pk},
    )
    _tell(po, "return_shipped", return_request, to_supplier=True)
    return return_request


@dataclass(frozen=True)
class Arrived:
    """What recording a return's arrival did: the return, and whether a credit note follows."""

    return_request: ReturnRequest
    credited: bool


@transaction.atomic
def receive_return(
    *,
    return_request: ReturnRequest,
    by: Membership,
    lines: dict[int, ArrivalInput],
    received_on: date | None,
    note: str = "",
) -> Arrived:
    """The supplier records what arrived back (per return line's order line id: the quantity, at
    most what the return asked, and its condition). Arriving settles the return: for a credit,
    the units arrived (beyond any surplus the customer kept over the order) are credited at the
    order's prices — billing makes the credit note and the debit note after commit; for a
    replacement, they go back to *to ship* and the order waits for them again."""
    require(by, "orders.receive_returnrequest")
    po, so, return_request = _lock_return_for_supplier(return_request, by)
    rules.require_return("receive_return", return_request=return_request, po=po, membership=by)
    received_on = _fulfilment_date(received_on, "received_on", "did it arrive")
    if return_request.shipped_on and received_on < return_request.shipped_on:
        raise DomainError(
            f"{return_request.label} left {po.customer.name} on {format_date(return_request.shipped_on)}: "
            "it cannot have arrived before.",
            field="received_on",
        )
    note = clean_text(note, "note", limit=2000)
    rows = list(return_request.lines.all())
    po_lines = {line.pk: line for line in po.lines.all()}
    if set(lines) - {row.po_line_id for row in rows}:
        raise DomainError("A line that is not in this return was sent.")
    arrived: list[tuple[ReturnLine, PurchaseOrderLine, Decimal, str]] = []
    for row in rows:
        line = po_lines[row.po_line_id]
        values = lines.get(line.pk, ArrivalInput())
        quantity = _line_quantity(values.quantity, line, "The quantity arrived")
        if quantity > row.quantity:
            raise DomainError(
                f"Line {line.position}: {_units(quantity, line.unit)} is more than the "
                f"{_units(row.quantity, line.unit)} this return sends back.",
                field="quantity",
                line=line.pk,
            )
        condition = values.condition
        if quantity and condition not in ReturnLine.Condition.values:
            raise DomainError(
                f"Line {line.position}: in what condition did it arrive?", field="condition", line=line.pk
            )
        arrived.append((row, line, quantity, condition if quantity else ""))
    if not any(q for _, _, q, _ in arrived):
        raise DomainError("Enter what arrived on at least one line.")
    credit = return_request.for_credit
    for row, line, quantity, condition in arrived:
        # What counts is what the order still expects beyond what the customer keeps once these
        # units are gone (damaged units go back first: they were never counted as kept). Units
        # beyond that — a surplus over the order, or damaged units already sent again — go back
        # with no credit and no replacement.
        kept_after = line.quantity_received - max(
            Decimal("0"), line.quantity_received_back + quantity - line.quantity_damaged
        )
        counted = min(quantity, max(Decimal("0"), line.expected_quantity - kept_after))
        row.quantity_received_back = quantity
        row.condition = condition
        if credit:
            row.quantity_credited = min(counted, line.quantity - line.quantity_credited)
            line.quantity_credited += row.quantity_credited
        else:
            row.quantity_to_replace = counted
            line.quantity_replaced += counted
        line.quantity_received_back += quantity
        # What did not arrive back stays with the customer: it may be asked back again.
        line.quantity_returned -= row.quantity - quantity
    ReturnLine.objects.bulk_update(
        [row for row, *_ in arrived],
        ["quantity_received_back", "condition", "quantity_credited", "quantity_to_replace"],
    )
    PurchaseOrderLine.objects.bulk_update(
        [line for _, line, _, _ in arrived],
        ["quantity_returned", "quantity_received_back", "quantity_credited", "quantity_replaced"],
    )
    transition(
        return_request,
        "receive_back",
        "received back",
        noun=return_request.label,
        by=by.user,
        received_on=received_on,
        note=note,
    )
    return_request.save()
    _follow_goods(po, so, list(po_lines.values()))
    credited = credit and any(row.quantity_credited for row, *_ in arrived)
    words = "; ".join(
        f"{_units(q, line.unit)} {_name(line)}" + (f" ({ReturnLine.Condition(c).label.lower()})" if c else "")
        for _, line, q, c in arrived
        if q
    )
    if credit:
        then = "a credit note follows." if credited else "nothing is left to credit (the units were surplus)."
    else:
        then = "the replacement is to ship."
    record_event(
        po,
        OrderEvent.Kind.RETURN_RECEIVED,
        by=by,
        body=f"{return_request.label} received back by {po.supplier.name} on {format_date(received_on)}: {words}"
        + (f" (“{note}”)" if note else "")
        + f"; {then}",
        data={"return": return_request.pk},
    )
    _tell(po, "return_received", return_request, to_customer=True, credited=credited)
    if credited:
        interfaces.billing().credit_return_after_commit(po=po, return_request=return_request)
    close_if_complete(po=po)
    return Arrived(return_request=return_request, credited=credited)


def _follow_goods(po: PurchaseOrder, so: SalesOrder, lines: list[PurchaseOrderLine]) -> None:
    """After goods came back, the order's goods-received status and the sales order's shipping
    status say what is now expected: a replacement reopens receiving (and shipping); a credit
    may leave everything expected received."""
    require_atomic()
    fully = all(line.is_fully_received for line in lines)
    if po.status == PurchaseOrder.Status.RECEIVED and not fully:
        transition(po, "reopen_receiving", "reopened for receiving")
    elif po.status in (PurchaseOrder.Status.CONFIRMED, PurchaseOrder.Status.PARTIALLY_RECEIVED) and fully:
        transition(po, "receive_all", "received")  # a credit took off what was still awaited
    po.save()
    if so.status == SalesOrder.Status.SHIPPED and any(line.left_to_ship > 0 for line in lines if not line.is_void):
        transition(so, "ship_part", "shipped")
        so.save()
