"""The shared thread's messages and each organization's internal notes."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Membership
from accounts.permissions import require
from procurement.errors import DomainError, NotAllowed
from procurement.validators import clean_text

from ..events import record_event
from ..models import InternalNote, OrderEvent, PurchaseOrder


def _side(by: Membership, po: PurchaseOrder) -> str:
    if by.organization_id == po.customer_id:
        require(by, "orders.view_purchaseorder")
        return "customer"
    if by.organization_id == po.supplier_id and hasattr(po, "sales_order"):
        require(by, "orders.view_salesorder")
        return "supplier"
    raise NotAllowed("This order is not yours.")


@transaction.atomic
def post_message(*, po: PurchaseOrder, by: Membership, body: str) -> OrderEvent:
    """A message in the shared thread, which both organizations read."""
    _side(by, po)
    if po.is_draft:
        raise DomainError("The supplier sees the thread once the order is sent; use an internal note for now.")
    return record_event(po, OrderEvent.Kind.MESSAGE, by=by, body=clean_text(body, "body", required=True))


@transaction.atomic
def add_internal_note(*, po: PurchaseOrder, by: Membership, body: str) -> InternalNote:
    """A note only the author's organization sees."""
    _side(by, po)
    return InternalNote.objects.create(
        purchase_order=po,
        organization=by.organization,
        author=by.user,
        body=clean_text(body, "body", required=True),
    )
