"""Sharing one purchase order with a colleague whose roles do not show purchase orders."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from guardian.shortcuts import assign_perm, remove_perm

from accounts.mail import absolute_url, queue_email
from accounts.models import Membership
from accounts.permissions import require
from procurement.errors import DomainError

from ..models import InternalNote, PurchaseOrder
from .common import _lock_po


@transaction.atomic
def share_purchase_order(*, po: PurchaseOrder, by: Membership, member: Membership) -> None:
    """An admin lets one colleague whose roles do not show purchase orders see this one
    (a django-guardian object permission)."""
    require(by, "accounts.manage_members")
    po = _lock_po(po, by)
    if member.organization_id != po.customer_id:
        raise DomainError(f"Choose a member of {po.customer.name}.", field="member")
    if member.has_perm("orders.view_purchaseorder"):
        raise DomainError(f"{member.user} sees every purchase order already.", field="member")
    assign_perm("orders.view_purchaseorder", member.user, po)
    note = InternalNote.objects.create(
        purchase_order=po, organization=po.customer, author=by.user, body=f"Shared with {member.user}."
    )
    url = reverse("orders:po-detail", kwargs={"org_slug": po.customer.slug, "number": po.number})
    queue_email(
        key=f"po_shared:{po.pk}:{note.pk}",
        to=[member.user.email],
        template="po_shared",
        organization=po.customer,
        context={"po": po, "by": by.user, "url": absolute_url(url)},
    )


@transaction.atomic
def unshare_purchase_order(*, po: PurchaseOrder, by: Membership, member: Membership) -> None:
    require(by, "accounts.manage_members")
    po = _lock_po(po, by)
    if member.organization_id != po.customer_id:
        raise DomainError(f"Choose a member of {po.customer.name}.", field="member")
    remove_perm("orders.view_purchaseorder", member.user, po)
    InternalNote.objects.create(
        purchase_order=po, organization=po.customer, author=by.user, body=f"No longer shared with {member.user}."
    )
