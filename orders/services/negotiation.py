"""The supplier's proposal, accepting or declining the sales order, the customer's request for
changes, and the confirmation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction

from accounts.models import Membership
from accounts.permissions import require
from procurement.errors import DomainError
from procurement.money import MoneyError, parse_price
from procurement.transactions import require_atomic
from procurement.transitions import transition
from procurement.validators import clean_text

from .. import interfaces, rules
from ..events import notify, record_event
from ..models import (
    LineValues,
    Listing,
    OrderEvent,
    Proposal,
    ProposalLine,
    PurchaseOrder,
    PurchaseOrderLine,
    Revision,
    SalesOrder,
)
from ..revisions import _jsonable, same_value, snapshot, summarize_changes
from ..totals import HUNDRED, line_amounts, order_totals, require_tax_rate
from ..units import UNITS, quantity_error
from .common import _line_fits, _lock_pair_for_supplier, _lock_po, _lock_so_of, _money, clean_date

PROPOSAL_HEADER_FIELDS = (
    "accept_by",
    "confirm_ship_by",
    "invoice_due_date",
    "tax_rate",
    "discount",
    "supplier_contact",
    "ship_to_address",
    "payment_terms_days",
    "note",
)


@dataclass(frozen=True)
class ProposalLineInput:
    """What the supplier does with one line of the order (parsed by ``ProposalLineForm``)."""

    action: str = ProposalLine.Action.ACCEPT
    quantity: Decimal | None = None  # None: the line's own (for a change)
    unit_price: Decimal | None = None
    promised_date: date | None = None
    backorder_quantity: Decimal | None = None
    backorder_date: date | None = None
    reject_reason: str = ""


@dataclass(frozen=True)
class AddedLineInput:
    """A line the supplier adds to the order (parsed by ``AddedLineForm``)."""

    description: str
    quantity: Decimal | None
    unit: str
    unit_price: Decimal | None
    sku: str = ""
    promised_date: date | None = None
    tax_rate: Decimal = Decimal(0)
    listing: Listing | None = None


@dataclass(frozen=True)
class ProposalHeader:
    """The proposal's header (parsed by ``ProposalHeaderForm``); None and "" change nothing."""

    accept_by: date | None = None
    confirm_ship_by: date | None = None
    invoice_due_date: date | None = None
    tax_rate: Decimal | None = None
    discount: Decimal | None = None
    payment_terms_days: int | None = None
    supplier_contact: str = ""
    ship_to_address: str = ""
    note: str = ""


def _check_quantity(value: Decimal | None, unit: str, what: str, field: str) -> Decimal:
    if value is None:
        raise DomainError(f"{what} is required.", field=field)
    problem = quantity_error(value, unit, what=what)
    if problem:
        raise DomainError(problem, field=field)
    return value


def _check_price(value: Decimal | None, currency: str, field: str = "unit_price") -> Decimal:
    if value is None:
        raise DomainError("The unit price is required.", field=field)
    try:
        return parse_price(value, currency)
    except MoneyError as exc:
        raise DomainError(str(exc), field=field) from None


def _check_proposal_line(
    po: PurchaseOrder, line: PurchaseOrderLine | None, values: ProposalLineInput | AddedLineInput
) -> dict:
    """One line of the supplier's proposal: accept, change, backorder or reject (or an added line)."""
    action = ProposalLine.Action.ADD if line is None else (values.action or ProposalLine.Action.ACCEPT)
    if action not in ProposalLine.Action.values or (line is not None and action == ProposalLine.Action.ADD):
        raise DomainError("Choose what to do with the line.", field="action")
    if action == ProposalLine.Action.ACCEPT and _edited(line, values):
        action = ProposalLine.Action.CHANGE  # a new quantity or price typed on an accepted line changes it
    clean: dict = {"action": action}
    unit = line.unit if line else values.unit
    if line is None:
        if unit not in UNITS:
            raise DomainError("Choose a unit of measure.", field="unit")
        clean.update(
            sku=clean_text(values.sku, "sku", limit=64),
            description=clean_text(values.description, "description", required=True, limit=500),
            unit=unit,
            listing=values.listing,
        )
    if action in (ProposalLine.Action.CHANGE, ProposalLine.Action.ADD):
        quantity = values.quantity if values.quantity is not None else (line.quantity if line else None)
        price = values.unit_price if values.unit_price is not None else (line.unit_price if line else None)
        clean["quantity"] = _check_quantity(quantity, unit, "The quantity", "quantity")
        clean["unit_price"] = _check_price(price, po.currency)
        tax_rate = line.tax_rate if line else HUNDRED  # an added line's rate is read below: the most it can be
        _line_fits(clean["quantity"], clean["unit_price"], tax_rate, po.currency, "quantity")
        clean["promised_date"] = clean_date(values.promised_date, "promised_date")
    elif action == ProposalLine.Action.BACKORDER:
        quantity = line.quantity
        if _edited(line, values):  # a quantity or price typed beside the backorder is kept, not dropped
            quantity = _check_quantity(
                line.quantity if values.quantity is None else values.quantity, unit, "The quantity", "quantity"
            )
            clean["quantity"] = quantity
            clean["unit_price"] = _check_price(
                line.unit_price if values.unit_price is None else values.unit_price, po.currency
            )
            _line_fits(quantity, clean["unit_price"], line.tax_rate, po.currency, "quantity")
        later = _check_quantity(values.backorder_quantity, unit, "The backordered quantity", "backorder_quantity")
        if later >= quantity:
            raise DomainError(
                "Backorder part of the quantity; to ship it all later, change the promised date.",
                field="backorder_quantity",
            )
        clean["backorder_quantity"] = later
        clean["backorder_date"] = clean_date(values.backorder_date, "backorder_date")
        if clean["backorder_date"] is None:
            raise DomainError("When will the rest come?", field="backorder_date")
        clean["promised_date"] = clean_date(values.promised_date, "promised_date")
    elif action == ProposalLine.Action.REJECT:
        clean["reject_reason"] = clean_text(values.reject_reason, "reject_reason", limit=500)
        if not clean["reject_reason"]:
            raise DomainError("Say why you reject the line: the customer reads the reason.", field="reject_reason")
    else:
        clean["promised_date"] = clean_date(values.promised_date, "promised_date")
    if line is None:
        if values.listing is not None and (
            values.listing.supplier_id != po.supplier_id or not values.listing.is_active
        ):
            raise DomainError("Choose one of your active listings.", field="listing")
        require_tax_rate(values.tax_rate)
        clean["tax_rate"] = values.tax_rate
    return clean


def _edited(line: PurchaseOrderLine, values: ProposalLineInput) -> bool:
    """A quantity or a price typed on the line that differs from the line's own."""
    return any(
        getattr(values, name) is not None and getattr(values, name) != getattr(line, name)
        for name in ("quantity", "unit_price")
    )


def _check_proposal_header(po: PurchaseOrder, header: ProposalHeader) -> dict:
    clean: dict = {}
    for name in ("accept_by", "confirm_ship_by", "invoice_due_date"):
        clean[name] = clean_date(getattr(header, name), name)
    clean["tax_rate"] = header.tax_rate
    require_tax_rate(header.tax_rate)
    clean["discount"] = None if header.discount is None else _check_price(header.discount, po.currency, "discount")
    terms = header.payment_terms_days
    if terms is not None and not 0 <= terms <= 365:
        raise DomainError("Payment terms are a number of days from 0 to 365.", field="payment_terms_days")
    clean["payment_terms_days"] = terms
    clean["supplier_contact"] = clean_text(header.supplier_contact, "supplier_contact", limit=200)
    clean["ship_to_address"] = clean_text(header.ship_to_address, "ship_to_address", limit=1000)
    clean["note"] = clean_text(header.note, "note")
    return clean


@transaction.atomic
def save_proposal(
    *,
    so: SalesOrder,
    by: Membership,
    header: ProposalHeader | None = None,
    lines: dict[int, ProposalLineInput],
    added: list[AddedLineInput] | None = None,
) -> Proposal:
    """The supplier's adjustments, kept apart until *Accept order* publishes them.

    ``lines`` maps each PO line's id to its action and values; lines left out are accepted.
    A refusal of a line names it (``DomainError.line``: the line's id, or ``("added", i)`` for
    the i-th of ``added``) and the field of its input.
    """
    require(by, "orders.change_salesorder")
    po, so = _lock_pair_for_supplier(so, by)
    rules.require("adjust", po=po, so=so, membership=by)
    po_lines = {line.pk: line for line in po.lines.all()}
    unknown = set(lines) - set(po_lines)
    if unknown:
        raise DomainError("A line of another order was sent.")
    clean_header = _check_proposal_header(po, header or ProposalHeader())
    clean_lines, clean_added = [], []
    for pk, values in lines.items():
        line = po_lines[pk]
        try:
            clean_lines.append((line, _check_proposal_line(po, line, values)))
        except DomainError as exc:  # name the line, and the field the message belongs to
            raise DomainError(f"Line {line.position}: {exc.message}", field=exc.field, line=pk) from None
    for i, values in enumerate(added or []):
        try:
            clean_added.append((None, _check_proposal_line(po, None, values)))
        except DomainError as exc:
            raise DomainError(f"Added line {i + 1}: {exc.message}", field=exc.field, line=("added", i)) from None
    if so.status != SalesOrder.Status.IN_REVIEW:
        transition(so, "start_review", "reviewed")
        so.save()
    proposal, _ = Proposal.objects.update_or_create(sales_order=so, defaults={**clean_header, "updated_by": by.user})
    proposal.lines.all().delete()
    ProposalLine.objects.bulk_create(
        ProposalLine(proposal=proposal, po_line=line, **values) for line, values in clean_lines + clean_added
    )
    return proposal


def _apply_proposal(po: PurchaseOrder, proposal: Proposal | None) -> tuple[list[PurchaseOrderLine], dict]:
    """Write the proposal into the order's lines and header; return the lines and header changes."""
    require_atomic()
    lines = list(po.lines.all())
    if proposal is None:
        return lines, {}
    by_line = {p.po_line_id: p for p in proposal.lines.all() if p.po_line_id}
    header_changes = {}
    for name in (
        "accept_by",
        "confirm_ship_by",
        "invoice_due_date",
        "supplier_contact",
        "ship_to_address",
        "payment_terms_days",
        "discount",
    ):
        value = getattr(proposal, name)
        if value not in (None, "") and not same_value(value, getattr(po, name)):
            header_changes[name] = (_jsonable(getattr(po, name)), _jsonable(value))
            setattr(po, name, value)
    if proposal.note:
        po.supplier_note = proposal.note
    for line in lines:
        if proposal.tax_rate is not None:
            line.tax_rate = proposal.tax_rate
        change = by_line.get(line.pk)
        if change is None:
            pass  # left as it stands (the form defaults each line to its current state)
        elif change.action == ProposalLine.Action.REJECT:
            line.status, line.reject_reason = LineValues.Status.REJECTED, change.reject_reason
        else:  # accept, change or backorder: the line is supplied (again, if it was rejected)
            line.status, line.reject_reason = LineValues.Status.OPEN, ""
            line.promised_date = change.promised_date or line.promised_date
            if change.action == ProposalLine.Action.CHANGE or change.quantity is not None:  # a backorder's too
                line.quantity, line.unit_price = change.quantity, change.unit_price
            if change.action == ProposalLine.Action.BACKORDER:
                line.backorder_quantity, line.backorder_date = change.backorder_quantity, change.backorder_date
            else:
                line.backorder_quantity = line.backorder_date = None
        line.line_total, line.tax_amount = line_amounts(line.quantity, line.unit_price, line.tax_rate, po.currency)
    PurchaseOrderLine.objects.bulk_update(
        lines,
        [
            "quantity",
            "unit_price",
            "tax_rate",
            "line_total",
            "tax_amount",
            "promised_date",
            "backorder_quantity",
            "backorder_date",
            "status",
            "reject_reason",
        ],
    )
    position = max((line.position for line in lines), default=0)
    template = lines[0] if lines else None
    for added in (p for p in proposal.lines.all() if p.action == ProposalLine.Action.ADD):
        position += 1
        tax_rate = proposal.tax_rate if proposal.tax_rate is not None else added.tax_rate or Decimal(0)
        line_total, tax_amount = line_amounts(added.quantity, added.unit_price, tax_rate, po.currency)
        lines.append(
            PurchaseOrderLine.objects.create(
                purchase_order=po,
                position=position,
                listing=added.listing,
                sku=added.sku,
                description=added.description,
                quantity=added.quantity,
                unit=added.unit,
                unit_price=added.unit_price,
                tax_rate=tax_rate,
                line_total=line_total,
                tax_amount=tax_amount,
                promised_date=added.promised_date,
                cost_center=template.cost_center,
                gl_account=template.gl_account,  # the customer's coding of line 1
            )
        )
    proposal.delete()
    return lines, header_changes


@transaction.atomic
def accept_sales_order(*, so: SalesOrder, by: Membership) -> SalesOrder:
    """*Accept order*: publish the proposal (if any) as the next revision for the customer."""
    require(by, "orders.accept_salesorder")
    po, so = _lock_pair_for_supplier(so, by)
    rules.require("accept", po=po, so=so, membership=by)
    proposal = Proposal.objects.filter(sales_order=so).prefetch_related("lines").first()
    lines, header_changes = _apply_proposal(po, proposal)
    if not any(line.status != LineValues.Status.REJECTED for line in lines):
        raise DomainError("Every line is rejected: decline the order instead.")
    transition(so, "accept", "accepted")
    transition(po, "supplier_accept", "accepted")
    for name, value in order_totals(lines, po.discount, po.currency).items():
        setattr(po, name, value)
    previous = po.revisions.order_by("-number").first()
    revision = snapshot(po, lines, Revision.Kind.ACCEPTED, by)
    po.save()
    so.save()
    changes = summarize_changes(previous, revision)
    record_event(
        po,
        OrderEvent.Kind.ACCEPTED,
        by=by,
        body=f"Accepted as revision {revision.number} ({_money(po)}): "
        + ("; ".join(changes) or "no changes").rstrip(".")
        + ".",
        data={"revision": revision.number, "changes": changes, "header": header_changes},
    )
    notify(po, "order_accepted", to_customer=True, changes=changes)
    return so


@transaction.atomic
def accept_with_proposal(
    *,
    so: SalesOrder,
    by: Membership,
    header: ProposalHeader | None = None,
    lines: dict[int, ProposalLineInput],
    added: list[AddedLineInput] | None = None,
) -> SalesOrder:
    """*Save and accept*: the supplier's adjustments (as ``save_proposal`` takes them) published
    at once as the next revision — in one transaction, so a refused acceptance (every line
    rejected, say) leaves the proposal saved before as it was."""
    save_proposal(so=so, by=by, header=header, lines=lines, added=added)
    return accept_sales_order(so=so, by=by)


@transaction.atomic
def decline_sales_order(*, so: SalesOrder, by: Membership, reason: str) -> SalesOrder:
    require(by, "orders.decline_salesorder")
    po, so = _lock_pair_for_supplier(so, by)
    rules.require("decline", po=po, so=so, membership=by)
    reason = clean_text(reason, "reason", required=True, limit=1000)
    transition(so, "decline", "declined")
    transition(po, "supplier_decline", "declined", reason=reason)
    Proposal.objects.filter(sales_order=so).delete()
    po.save()
    so.save()
    record_event(po, OrderEvent.Kind.DECLINED, by=by, body=reason)
    notify(po, "order_declined", to_customer=True, reason=reason)
    return so


@transaction.atomic
def request_changes(*, po: PurchaseOrder, by: Membership, note: str) -> PurchaseOrder:
    """The customer sends the accepted revision back with a note; the negotiation goes on."""
    po = _lock_po(po, by)
    rules.require("request_changes", po=po, membership=by)
    note = clean_text(note, "note", required=True)
    so = _lock_so_of(po)
    transition(po, "request_changes", "sent back")
    transition(so, "changes_requested", "sent back")
    interfaces.approvals().withdraw_open_requests(po=po)  # a re-approval of the revision sent back is moot
    po.save()
    so.save()
    record_event(po, OrderEvent.Kind.CHANGES_REQUESTED, by=by, body=note)
    notify(po, "changes_requested", to_supplier=True, note=note)
    return po


@dataclass(frozen=True)
class Confirmed:
    po: PurchaseOrder


@dataclass(frozen=True)
class SentForReapproval:
    """The supplier's revision needs approval again first: the order is confirmed once it is
    approved. ``step`` decides first."""

    po: PurchaseOrder
    step: str
    approvers: tuple[str, ...]  # their full names


@transaction.atomic
def confirm_purchase_order(*, po: PurchaseOrder, by: Membership) -> Confirmed | SentForReapproval:
    """*Confirm order*: the customer takes the supplier-accepted revision as the order — or,
    when the revision needs approval again, starts the re-approval; says which."""
    po = _lock_po(po, by)  # state is checked after taking the lock
    rules.require("confirm", po=po, membership=by)
    if po.status == PurchaseOrder.Status.SUPPLIER_ACCEPTED:
        lines = list(po.lines.all())
        step = interfaces.approvals().start_reapproval(po=po, lines=lines, by=by)
        if step is not None:
            return SentForReapproval(po=po, step=step.name, approvers=step.approvers)
    so = _lock_so_of(po)
    transition(po, "confirm", "confirmed")
    transition(so, "confirm", "confirmed")
    po.save()
    so.save()
    record_event(
        po,
        OrderEvent.Kind.CONFIRMED,
        by=by,
        body=f"Confirmed at {_money(po)} (revision {po.revision_number}).",
    )
    notify(po, "order_confirmed", to_customer=True, to_supplier=True)
    # The invoice and the bill, by a Celery task after commit: a broker that is down never fails
    # the confirmation (the beat sweep queues it again; the task is idempotent).
    interfaces.billing().issue_documents_after_commit(po=po)
    return Confirmed(po=po)
