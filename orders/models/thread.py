"""The shared thread of an order (its events) and each organization's internal notes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Organization

from .purchase import PurchaseOrder


class OrderEvent(models.Model):
    """The shared thread of an order pair: every event the system records, and the
    messages both sides write. Both organizations read all of it."""

    class Kind(models.TextChoices):
        MESSAGE = "message", "Message"
        CREATED = "created", "Created"
        SUBMITTED = "submitted", "Submitted"
        SENT = "sent", "Sent"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        REVISED = "revised", "Reopened as draft"
        PROPOSAL_STARTED = "proposal_started", "Review started"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        CONFIRMED = "confirmed", "Confirmed"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        SHIPPED = "shipped", "Shipped"
        RECEIVED = "received", "Received"
        CLOSED = "closed", "Completed"
        INVOICED = "invoiced", "Invoiced"
        PAYMENT = "payment", "Payment recorded"
        PAYMENT_VERIFIED = "payment_verified", "Payment verified"
        PAYMENT_DISPUTED = "payment_disputed", "Payment disputed"
        BILL_CANCELLED = "bill_cancelled", "Bill cancelled"
        MARKED_BILLED = "marked_billed", "Marked billed"
        BILLED_MARK_UNDONE = "billed_undone", "Billed mark undone"
        AMENDMENT = "amendment", "Amendment requested"
        AMENDMENT_ACCEPTED = "amendment_accepted", "Amendment accepted"
        AMENDMENT_DECLINED = "amendment_declined", "Amendment declined"
        AMENDMENT_WITHDRAWN = "amendment_withdrawn", "Amendment withdrawn"
        RETURN_REQUESTED = "return_requested", "Return requested"
        RETURN_ACCEPTED = "return_accepted", "Return authorized"
        RETURN_DECLINED = "return_declined", "Return declined"
        RETURN_WITHDRAWN = "return_withdrawn", "Return withdrawn"
        RETURN_SHIPPED = "return_shipped", "Return shipped back"
        RETURN_RECEIVED = "return_received", "Return received back"
        CREDITED = "credited", "Credit note issued"

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["purchase_order", "created_at"])]

    def __str__(self) -> str:
        return f"{self.purchase_order}: {self.get_kind_display()}"


class InternalNote(models.Model):
    """A note one side keeps on an order; the other side never sees it."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="internal_notes")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["purchase_order", "organization", "created_at"])]

    def __str__(self) -> str:
        return f"Note on {self.purchase_order} by {self.author}"
