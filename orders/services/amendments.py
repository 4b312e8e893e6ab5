"""Amendments of a confirmed order: requested by the customer, accepted or declined by the supplier."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from accounts.permissions import require
from procurement.errors import DomainError
from procurement.money import format_money
from procurement.transactions import require_atomic
from procurement.transitions import transition
from procurement.validators import clean_text

from .. import interfaces, rules
from ..events import notify, record_event
from ..models import (
    Amendment,
    AmendmentLine,
    LineValues,
    OrderEvent,
    PurchaseOrder,
    PurchaseOrderLine,
    Revision,
    SalesOrder,
)
from ..revisions import snapshot
from ..totals import line_amounts, order_totals
from .common import _line_fits, _line_quantity, _lock_po, _next_number, _units
from .fulfilment import close_if_complete


def _amendable_line(line: PurchaseOrderLine, field: str) -> None:
    if line.is_void:
        raise DomainError(
            f"Line {line.position} is {line.get_status_display().lower()}: it cannot be amended.",
            field=field,
            line=line.pk,
        )
    if rules.has_receipts(line):
        raise DomainError(f"Line {line.position} has receipts: it cannot be amended.", field=field, line=line.pk)


def _amended_lines(
    po: PurchaseOrder, lines: list[PurchaseOrderLine], quantities: dict[int, Decimal | None], cancel: set[int]
) -> list[tuple[PurchaseOrderLine, Decimal | None]]:
    """[(line, new quantity or None to cancel)] of the lines the amendment changes, checked. A
    refusal of a line names it (``DomainError.line``) and ``quantity`` or ``cancel``."""
    by_pk = {line.pk: line for line in lines}
    unknown = (set(quantities) | set(cancel)) - set(by_pk)
    if unknown:
        raise DomainError("A line of another order was sent.")
    changes = []
    for line in lines:
        field = "quantity"
        value = quantities.get(line.pk)
        typed = None if value is None else _line_quantity(value, line, "The new quantity")
        if line.pk in cancel:
            if typed is not None and typed != line.quantity:
                raise DomainError(
                    f"Line {line.position}: cancel the line or raise its quantity, not both.", field=field, line=line.pk
                )
            _amendable_line(line, "cancel")
            if line.quantity_shipped:
                raise DomainError(
                    f"Line {line.position} has been shipped: it cannot be cancelled (receive it when it arrives).",
                    field="cancel",
                    line=line.pk,
                )
            changes.append((line, None))
        elif typed is not None and typed != line.quantity:
            _amendable_line(line, field)
            if typed < line.quantity:
                raise DomainError(
                    f"Line {line.position}: quantities can only be raised (it is "
                    f"{_units(line.quantity, line.unit)}); to order less, cancel the line.",
                    field=field,
                    line=line.pk,
                )
            try:
                _line_fits(typed, line.unit_price, line.tax_rate, po.currency, field, f"Line {line.position}: ")
            except DomainError as exc:
                raise DomainError(exc.message, field=field, line=line.pk) from None
            changes.append((line, typed))
    if not changes:
        raise DomainError("Raise a quantity or cancel a line: this amendment changes nothing.")
    cancelled = {line.pk for line, new in changes if new is None}
    if all(line.is_void or line.pk in cancelled for line in lines):
        raise DomainError("An amendment cannot cancel every line of the order.")
    return changes


def _apply_changes(po: PurchaseOrder, changes, note: str) -> list[PurchaseOrderLine]:
    """The lines (in memory) as the amendment makes them: raised, or cancelled with ``note``."""
    changed = []
    for line, new in changes:
        if new is None:
            line.status = LineValues.Status.CANCELLED
            line.reject_reason = note[:500]
        else:
            line.quantity = new
            line.line_total, line.tax_amount = line_amounts(new, line.unit_price, line.tax_rate, po.currency)
        changed.append(line)
    return changed


def _amendment_words(amendment: Amendment, lines: list[AmendmentLine]) -> str:
    parts = []
    for a in lines:
        name = a.sku or a.description[:40]
        if a.cancels:
            parts.append(f"{name} cancelled")
        else:
            parts.append(f"{name} {_units(a.old_quantity, a.unit)} → {_units(a.new_quantity, a.unit)}")
    cur = amendment.currency
    return (
        "; ".join(parts)
        + f". Total {format_money(amendment.old_total, cur)} → {format_money(amendment.new_total, cur)}."
    )


def _amended_totals(po: PurchaseOrder, lines: list[PurchaseOrderLine]) -> dict[str, Decimal]:
    """The order's totals with its lines as amended; a discount is never more than what is left."""
    totals = order_totals(lines, po.discount, po.currency)
    if totals["subtotal"] < totals["discount"]:
        raise DomainError(
            f"What would be left ({format_money(totals['subtotal'], po.currency)}) is less than the order's "
            f"discount of {format_money(totals['discount'], po.currency)}: cancel fewer lines."
        )
    return totals


@transaction.atomic
def request_amendment(
    *,
    po: PurchaseOrder,
    by: Membership,
    reason: str,
    quantities: dict[int, Decimal | None] | None = None,
    cancel: Iterable[int] = (),
) -> Amendment:
    """Ask the supplier to change a confirmed order (SPEC §4): ``quantities`` {line pk: the new,
    higher quantity (None: unchanged)}, ``cancel`` the pks of lines to cancel. Lines with receipts, or already
    rejected or cancelled, are refused; so is lowering a quantity. When the new total crosses
    an approval threshold the old did not, it is approved internally first; then the supplier
    accepts or declines it. Nothing changes on the order until the supplier accepts."""
    require(by, "orders.add_amendment")
    po = _lock_po(po, by)
    lines = list(po.lines.select_related("cost_center").order_by("position", "pk"))
    rules.require("amend", po=po, membership=by, lines=lines)
    reason = clean_text(reason, "reason", required=True, limit=1000)
    old = {line.pk: (line.quantity, line.line_total) for line in lines}
    changes = _amended_lines(po, lines, dict(quantities or {}), set(cancel))
    changed = _apply_changes(po, changes, reason)  # in memory only, until the supplier accepts
    totals = _amended_totals(po, lines)
    interfaces.billing().check_total(po=po, total=totals["total"])
    amended = copy.copy(po)  # the order as amended, for the approval (never saved)
    for name, value in totals.items():
        setattr(amended, name, value)
    plan = interfaces.approvals().plan_amendment(po=amended, old_total=po.total, lines=lines, by=by)
    now = timezone.now()
    amendment = Amendment.objects.create(
        purchase_order=po,
        customer=po.customer,
        supplier=po.supplier,
        number=_next_number(po.amendments),
        status=Amendment.Status.PENDING_APPROVAL if plan else Amendment.Status.PROPOSED,
        reason=reason,
        currency=po.currency,
        old_total=po.total,
        new_total=totals["total"],
        reapproval_reason=plan.summary[:300] if plan else "",
        requested_by=by.user,
        created_at=now,
        proposed_at=None if plan else now,
    )
    amendment_lines = AmendmentLine.objects.bulk_create(
        AmendmentLine(
            amendment=amendment,
            po_line=line,
            position=line.position,
            sku=line.sku,
            description=line.description,
            unit=line.unit,
            unit_price=line.unit_price,
            old_quantity=old[line.pk][0],
            new_quantity=None if line.is_void else line.quantity,
            old_line_total=old[line.pk][1],
            new_line_total=Decimal("0") if line.is_void else line.line_total,
        )
        for line in changed
    )
    if plan:  # the supplier hears of it once it is approved (the approval panel tells the customer)
        interfaces.approvals().start_amendment(po=amended, amendment=amendment, plan=plan, by=by)
    else:
        _ask_supplier(po, amendment, amendment_lines, by=by)
    return amendment


def _ask_supplier(po: PurchaseOrder, amendment: Amendment, lines, *, by: Membership | None) -> None:
    """The amendment goes to the supplier: written into the shared thread and e-mailed."""
    require_atomic()
    record_event(
        po,
        OrderEvent.Kind.AMENDMENT,
        by=by,
        body=f"Amendment {amendment.number} requested by {amendment.requested_by.full_name}: "
        f"{_amendment_words(amendment, lines)} Reason: {amendment.reason}",
        data={"amendment": amendment.pk},
    )
    notify(
        po,
        "amendment_requested",
        to_supplier=True,
        amendment=amendment,
        amendment_lines=lines,
    )


@transaction.atomic
def propose_amendment(*, amendment: Amendment, po: PurchaseOrder) -> Amendment:
    """The amendment was approved internally: the supplier is asked now (under the order's
    lock; a caller that holds it already loses nothing)."""
    po = PurchaseOrder.objects.select_for_update(of=("self",)).select_related("customer", "supplier").get(pk=po.pk)
    amendment = Amendment.objects.select_for_update().get(pk=amendment.pk, purchase_order=po)
    transition(amendment, "propose", "proposed", noun=f"Amendment {amendment.number}")
    amendment.save()
    _ask_supplier(po, amendment, list(amendment.lines.all()), by=None)
    return amendment


@transaction.atomic
def reject_after_approval(*, amendment: Amendment, po: PurchaseOrder) -> Amendment:
    """Internal approval rejected the amendment (the supplier never heard of it)."""
    amendment = Amendment.objects.select_for_update().get(pk=amendment.pk, purchase_order=po)
    transition(amendment, "reject", "rejected", noun=f"Amendment {amendment.number}")
    amendment.save()
    return amendment


def _lock_amendment_for_supplier(amendment: Amendment, by: Membership) -> tuple[PurchaseOrder, SalesOrder, Amendment]:
    require_atomic()
    po = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("connection", "customer", "supplier", "requester")
        .get(amendments__pk=amendment.pk, supplier=by.organization)
    )
    so = SalesOrder.objects.select_for_update().get(purchase_order=po)
    return po, so, Amendment.objects.select_for_update().get(pk=amendment.pk, purchase_order=po)


@transaction.atomic
def accept_amendment(*, amendment: Amendment, by: Membership) -> Amendment:
    """The supplier accepts: the order publishes the amendment as its next revision, the sales
    order follows (more to ship, or everything shipped), and so do the invoice and the bill."""
    require(by, "orders.accept_amendment")
    po, so, amendment = _lock_amendment_for_supplier(amendment, by)
    rules.require_amendment("accept_amendment", amendment=amendment, po=po, membership=by)
    transition(
        amendment,
        "accept",
        "accepted",
        noun=f"Amendment {amendment.number}",
        by=by.user,
        revision_number=po.revision_number + 1,
    )
    rules.require_amendable(po)
    lines = list(po.lines.order_by("position", "pk"))
    by_pk = {line.pk: line for line in lines}
    asked = list(amendment.lines.all())
    for a in asked:  # the order may have moved since it was asked: check again, under the lock
        line = by_pk[a.po_line_id]
        _amendable_line(line, "amendment")
        if line.quantity != a.old_quantity:
            raise DomainError(f"Line {line.position} changed since the amendment was asked: it must be asked again.")
        if a.cancels and line.quantity_shipped:
            raise DomainError(f"Line {line.position} has been shipped since: it can no longer be cancelled.")
    changes = [(by_pk[a.po_line_id], a.new_quantity) for a in asked]
    changed = _apply_changes(po, changes, f"amendment {amendment.number} — {amendment.reason}")
    PurchaseOrderLine.objects.bulk_update(changed, ["quantity", "line_total", "tax_amount", "status", "reject_reason"])
    for name, value in _amended_totals(po, lines).items():
        setattr(po, name, value)
    interfaces.billing().check_total(po=po, total=po.total)
    revision = snapshot(po, lines, Revision.Kind.AMENDED, by)
    open_lines = [line for line in lines if not line.is_void]
    if all(line.is_fully_received for line in lines):  # what is left was cancelled
        transition(po, "receive_all", "received")
    if any(line.quantity_shipped for line in open_lines):
        if all(line.quantity_shipped >= line.quantity for line in open_lines):
            if so.status != SalesOrder.Status.SHIPPED:
                transition(so, "ship_all", "shipped")
        elif so.status == SalesOrder.Status.SHIPPED:
            transition(so, "ship_part", "shipped")  # more to ship now
    po.save()
    so.save()
    amendment.save()
    record_event(
        po,
        OrderEvent.Kind.AMENDMENT_ACCEPTED,
        by=by,
        body=f"Amendment {amendment.number} accepted by {po.supplier.name} as revision {revision.number}: "
        + _amendment_words(amendment, asked),
        data={"amendment": amendment.pk, "revision": revision.number},
    )
    interfaces.billing().revise_documents(po=po, lines=lines)
    notify(
        po,
        "amendment_accepted",
        to_customer=True,
        customer_also=(amendment.requested_by.email,),
        amendment=amendment,
        amendment_lines=asked,
    )
    close_if_complete(po=po)
    return amendment


@transaction.atomic
def decline_amendment(*, amendment: Amendment, by: Membership, reason: str) -> Amendment:
    """The supplier declines (with a reason): the order stays as it was."""
    require(by, "orders.accept_amendment")
    po, _, amendment = _lock_amendment_for_supplier(amendment, by)
    rules.require_amendment("decline_amendment", amendment=amendment, po=po, membership=by)
    reason = clean_text(reason, "reason", required=True, limit=1000)
    transition(amendment, "decline", "declined", noun=f"Amendment {amendment.number}", by=by.user, reason=reason)
    amendment.save()
    record_event(
        po,
        OrderEvent.Kind.AMENDMENT_DECLINED,
        by=by,
        body=f"Amendment {amendment.number} declined by {po.supplier.name}: {reason}",
        data={"amendment": amendment.pk},
    )
    notify(
        po,
        "amendment_declined",
        to_customer=True,
        customer_also=(amendment.requested_by.email,),
        amendment=amendment,
        reason=reason,
    )
    return amendment


@transaction.atomic
def withdraw_amendment(*, amendment: Amendment, by: Membership) -> Amendment:
    """The customer takes back an open amendment (and ends its approval, if one runs)."""
    require(by, "orders.add_amendment")
    po = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("connection", "customer", "supplier")
        .get(amendments__pk=amendment.pk, customer=by.organization)
    )
    amendment = Amendment.objects.select_for_update().get(pk=amendment.pk, purchase_order=po)
    rules.require_amendment("withdraw_amendment", amendment=amendment, po=po, membership=by)
    was_proposed = amendment.status == Amendment.Status.PROPOSED
    transition(amendment, "withdraw", "withdrawn", noun=f"Amendment {amendment.number}", by=by.user)
    amendment.save()
    interfaces.approvals().withdraw_open_requests(po=po)
    if was_proposed:  # before, only the customer knew of it (its approval panel says it ended)
        record_event(
            po,
            OrderEvent.Kind.AMENDMENT_WITHDRAWN,
            by=by,
            body=f"Amendment {amendment.number} withdrawn by {by.user.full_name}.",
            data={"amendment": amendment.pk},
        )
        notify(po, "amendment_withdrawn", to_supplier=True, amendment=amendment)
    return amendment
