"""A draft becomes an order: submission (approval or straight to the supplier), revising a
rejected order, cancellation and expiry."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from accounts.services import next_document_number
from procurement.errors import DomainError
from procurement.transactions import require_atomic
from procurement.transitions import refusal, transition
from procurement.validators import clean_text, format_date

from .. import interfaces, rules
from ..events import notify, record_event
from ..models import OrderEvent, Proposal, PurchaseOrder, PurchaseOrderLine, Revision, SalesOrder
from ..pricing import customer_prices, unit_price
from ..revisions import snapshot
from ..totals import line_amounts
from .common import _lock_po, _lock_so_of, _money
from .drafts import _save_totals


@dataclass(frozen=True)
class Sent:
    """The order went to the supplier (no approval was needed, or the last one was given)."""

    po: PurchaseOrder
    sales_order: SalesOrder


@dataclass(frozen=True)
class PendingApproval:
    """The order waits for internal approval: ``step`` is the step that decides first."""

    po: PurchaseOrder
    step: str
    approvers: tuple[str, ...]  # their full names


@transaction.atomic
def submit_purchase_order(*, po: PurchaseOrder, by: Membership) -> Sent | PendingApproval:
    """Freeze the prices and either start approval or send the order to the supplier; says which."""
    po = _lock_po(po, by)
    rules.require("submit", po=po, membership=by)
    lines = list(po.lines.select_related("listing").prefetch_related("listing__price_breaks"))
    if not lines:
        raise DomainError("Add at least one line before submitting.")
    prices = customer_prices({line.listing_id for line in lines if line.listing_id}, po.customer_id)
    if po.valid_until and po.valid_until < timezone.localdate():
        raise DomainError(
            "The date the supplier must accept by is past: change it before submitting.", field="valid_until"
        )
    for line in lines:  # listing lines take the latest price, which is frozen from now on
        if line.listing_id is None:
            continue
        if line.listing is None or not line.listing.is_active:
            raise DomainError(f"Line {line.position} ({line.sku}) is no longer sold: remove it first.")
        line.unit_price = unit_price(line.listing, quantity=line.quantity, customer_id=po.customer_id, prices=prices)
        line.listing_price_at_add = line.unit_price
        line.line_total, line.tax_amount = line_amounts(line.quantity, line.unit_price, line.tax_rate, po.currency)
    PurchaseOrderLine.objects.bulk_update(lines, ["unit_price", "listing_price_at_add", "line_total", "tax_amount"])
    _save_totals(po, lines)
    po.order_date = timezone.localdate()
    approvals = interfaces.approvals()
    plan = approvals.plan_submission(po=po, lines=lines, by=by)  # refuses (writing nothing) when nobody could
    po.base_rate = plan.rate
    if plan.steps:
        transition(po, "send_for_approval", "submitted")
        po.save()
        record_event(po, OrderEvent.Kind.SUBMITTED, by=by, body=f"Submitted for approval ({_money(po)}).")
        step = approvals.start_submission(po=po, plan=plan, by=by)
        return PendingApproval(po=po, step=step.name, approvers=step.approvers)
    transition(po, "release", "sent")
    po.save()
    approvals.start_submission(po=po, plan=plan, by=by)  # recorded as approved at once
    return Sent(po=po, sales_order=_release_to_supplier(po=po, lines=lines, by=by))


@transaction.atomic
def release_after_approval(*, po: PurchaseOrder, by: Membership) -> SalesOrder:
    """Internal approval is complete (approvals decided, as ``by``): the order goes to the supplier."""
    po = _relock(po)
    if po.status != PurchaseOrder.Status.PENDING_APPROVAL:  # ``release`` alone would send a draft too
        raise DomainError(refusal(po, "released after approval"))
    record_event(po, OrderEvent.Kind.APPROVED, by=by, body="Approved internally.")
    transition(po, "release", "sent")
    po.save()
    return _release_to_supplier(po=po, lines=list(po.lines.all()), by=by)


@transaction.atomic
def reject_after_approval(*, po: PurchaseOrder, reason: str) -> PurchaseOrder:
    """Internal approval rejected the submitted order: it goes back to its requester."""
    po = _relock(po)
    transition(po, "reject", "rejected", reason=reason)
    po.save()
    return po


def _relock(po: PurchaseOrder) -> PurchaseOrder:
    """The order under its row lock (a caller that holds it already loses nothing)."""
    require_atomic()
    return PurchaseOrder.objects.select_for_update(of=("self",)).select_related("customer", "supplier").get(pk=po.pk)


def _release_to_supplier(*, po: PurchaseOrder, lines: list[PurchaseOrderLine], by: Membership) -> SalesOrder:
    """Create the supplier's sales order and publish revision 1 (inside the caller's lock)."""
    require_atomic()
    so = SalesOrder.objects.create(
        purchase_order=po,
        supplier=po.supplier,
        customer=po.customer,
        number=next_document_number(organization=po.supplier, kind="so"),
    )
    snapshot(po, lines, Revision.Kind.SUBMITTED, by)
    po.save(update_fields=["revision_number", "updated_at"])
    record_event(po, OrderEvent.Kind.SENT, by=by, body=f"Sent to {po.supplier.name} as {so.number} ({_money(po)}).")
    notify(po, "order_sent", to_supplier=True, attach_pdf=True, line_count=len(lines))
    return so


@transaction.atomic
def revise_purchase_order(*, po: PurchaseOrder, by: Membership) -> PurchaseOrder:
    """A rejected order goes back to draft for its requester to change and submit again."""
    po = _lock_po(po, by)
    rules.require("revise", po=po, membership=by)
    transition(po, "revise", "reopened")
    po.save()
    record_event(po, OrderEvent.Kind.REVISED, by=by)
    return po


@transaction.atomic
def cancel_purchase_order(*, po: PurchaseOrder, by: Membership, reason: str) -> PurchaseOrder:
    """Cancel before confirmation (also while the connection is suspended)."""
    po = _lock_po(po, by)
    rules.require("cancel", po=po, membership=by)
    reason = clean_text(reason, "reason", required=True, limit=1000)
    so = _lock_so_of(po)
    transition(po, "cancel", "cancelled", reason=reason)
    po.save()
    interfaces.approvals().withdraw_open_requests(po=po)
    if so is not None:
        transition(so, "cancel", "cancelled")
        so.save()
        Proposal.objects.filter(sales_order=so).delete()
    record_event(po, OrderEvent.Kind.CANCELLED, by=by, body=reason)
    if so is not None:
        notify(po, "order_cancelled", to_supplier=True, reason=reason)
    return po


@transaction.atomic
def expire_purchase_order(*, po: PurchaseOrder) -> PurchaseOrder | None:
    """The system expires a sent order past its *valid until* date (Celery beat)."""
    po = PurchaseOrder.objects.select_for_update(of=("self",)).select_related("customer", "supplier").get(pk=po.pk)
    if po.status != PurchaseOrder.Status.SENT or not po.valid_until or po.valid_until >= timezone.localdate():
        return None  # accepted or changed meanwhile: nothing to do
    so = _lock_so_of(po)
    transition(po, "expire", "expired")
    transition(so, "expire", "expired")
    po.save()
    so.save()
    Proposal.objects.filter(sales_order=so).delete()
    record_event(po, OrderEvent.Kind.EXPIRED, body=f"Not accepted by {format_date(po.valid_until)}.")
    notify(po, "order_expired", to_customer=True, to_supplier=True)
    return po
