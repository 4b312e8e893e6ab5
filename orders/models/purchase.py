"""The order pair: the customer's purchase order, the supplier's sales order, and the lines."""

from __future__ import annotations

import uuid
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from accounts.models import Connection, Location, Organization
from procurement.money import CURRENCY_CHOICES

from ..units import UNIT_CHOICES, quantity_decimals
from .accounting import CostCenter, GLAccount
from .fields import money_field, quantity_field
from .listings import Listing


class PurchaseOrder(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """The customer's side of the order pair. Transitions are pure; services save them."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING_APPROVAL = "pending_approval", "Pending approval"
        REJECTED = "rejected", "Rejected"
        SENT = "sent", "Sent to supplier"
        SUPPLIER_ACCEPTED = "supplier_accepted", "Accepted by supplier"
        CONFIRMED = "confirmed", "Confirmed"
        PARTIALLY_RECEIVED = "partially_received", "Partially received"
        RECEIVED = "received", "Received"
        CLOSED = "closed", "Closed"
        DECLINED = "declined", "Declined by supplier"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    class ReceiptStatus(models.TextChoices):
        """Goods-received status: what has arrived in good condition, over the open lines."""

        NOT_RECEIVED = "not_received", "Not received"
        PARTIALLY_RECEIVED = "partially_received", "Partially received"
        FULLY_RECEIVED = "fully_received", "Fully received"

    S = Status
    CANCELLABLE = [S.DRAFT, S.PENDING_APPROVAL, S.REJECTED, S.SENT, S.SUPPLIER_ACCEPTED]
    RECEIVABLE = [S.CONFIRMED, S.PARTIALLY_RECEIVED, S.RECEIVED]
    # Approved internally and sent on: an order in one of these is billed (bills are matched to it).
    APPROVED = [S.SENT, S.SUPPLIER_ACCEPTED, *RECEIVABLE, S.CLOSED]

    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="purchase_orders")
    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="purchase_orders")
    number = models.CharField(max_length=30)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = FSMField(max_length=20, choices=Status.choices, default=Status.DRAFT, protected=True)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    order_date = models.DateField(null=True, blank=True, help_text="Set when the order is submitted.")
    expected_delivery_date = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True, help_text="The supplier must accept by then.")
    ship_to = models.ForeignKey(Location, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    ship_to_address = models.TextField(blank=True)
    payment_terms_days = models.PositiveSmallIntegerField(default=30)
    note_to_supplier = models.TextField(blank=True)
    # Header fields the supplier may propose (published with a revision).
    accept_by = models.DateField(null=True, blank=True)
    confirm_ship_by = models.DateField(null=True, blank=True)
    invoice_due_date = models.DateField(null=True, blank=True)
    supplier_contact = models.CharField(max_length=200, blank=True)
    supplier_note = models.TextField(blank=True)
    # Totals of the current lines, kept by the services (lists read them, never sum lines).
    subtotal = money_field(default=Decimal("0"))
    discount = money_field(default=Decimal("0"))
    tax_total = money_field(default=Decimal("0"))
    total = money_field(default=Decimal("0"))
    revision_number = models.PositiveIntegerField(default=0)
    receipt_status = models.CharField(
        "goods received", max_length=20, choices=ReceiptStatus.choices, default=ReceiptStatus.NOT_RECEIVED
    )
    base_rate = models.DecimalField(
        max_digits=18,
        decimal_places=8,
        null=True,
        blank=True,
        help_text="Units of the customer's base currency per unit of the order's, recorded on submission.",
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    supplier_accepted_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    billed_at = models.DateTimeField(
        null=True, blank=True, help_text="When bills came to cover the order (or someone said so): no more matching."
    )
    billed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who marked it billed by hand; empty when its bills covered it.",
    )
    closing_reason = models.TextField(blank=True, help_text="Why it was cancelled, declined or rejected.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("submit_purchaseorder", "Submit purchase orders"),
            ("confirm_purchaseorder", "Confirm purchase orders"),
            ("request_changes_purchaseorder", "Request changes to purchase orders"),
            ("cancel_purchaseorder", "Cancel purchase orders"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["customer", "number"], name="unique_po_number"),
            models.CheckConstraint(condition=~models.Q(customer=models.F("supplier")), name="po_not_to_self"),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at", "-id"], name="po_list_newest_first"),
            models.Index(fields=["customer", "status", "-created_at"]),
            models.Index(fields=["customer", "supplier", "-created_at"]),
            models.Index(fields=["status", "valid_until"]),
            models.Index(fields=["customer", "receipt_status", "-created_at"], name="po_list_by_receipt"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @transition(field=status, source=S.DRAFT, target=S.PENDING_APPROVAL)
    def send_for_approval(self) -> None:
        self.submitted_at = timezone.now()

    @transition(field=status, source=[S.DRAFT, S.PENDING_APPROVAL], target=S.SENT)
    def release(self) -> None:
        now = timezone.now()
        self.submitted_at = self.submitted_at or now
        self.sent_at = now

    @transition(field=status, source=S.PENDING_APPROVAL, target=S.REJECTED)
    def reject(self, *, reason: str) -> None:
        self.closing_reason = reason

    @transition(field=status, source=S.REJECTED, target=S.DRAFT)
    def revise(self) -> None:
        self.closing_reason = ""

    @transition(field=status, source=S.SENT, target=S.SUPPLIER_ACCEPTED)
    def supplier_accept(self) -> None:
        self.supplier_accepted_at = timezone.now()

    @transition(field=status, source=S.SENT, target=S.DECLINED)
    def supplier_decline(self, *, reason: str) -> None:
        self.closing_reason = reason

    @transition(field=status, source=S.SUPPLIER_ACCEPTED, target=S.SENT)
    def request_changes(self) -> None:
        pass

    @transition(field=status, source=S.SUPPLIER_ACCEPTED, target=S.CONFIRMED)
    def confirm(self) -> None:
        self.confirmed_at = timezone.now()

    @transition(field=status, source=CANCELLABLE, target=S.CANCELLED)
    def cancel(self, *, reason: str) -> None:
        self.cancelled_at = timezone.now()
        self.closing_reason = reason

    @transition(field=status, source=S.SENT, target=S.EXPIRED)
    def expire(self) -> None:
        pass

    @transition(field=status, source=[S.CONFIRMED, S.PARTIALLY_RECEIVED], target=S.PARTIALLY_RECEIVED)
    def receive_part(self) -> None:
        self.receipt_status = self.ReceiptStatus.PARTIALLY_RECEIVED

    @transition(field=status, source=RECEIVABLE, target=S.RECEIVED)
    def receive_all(self) -> None:
        self.receipt_status = self.ReceiptStatus.FULLY_RECEIVED

    @transition(field=status, source=S.RECEIVED, target=S.PARTIALLY_RECEIVED)
    def reopen_receiving(self) -> None:
        """Goods came back for a replacement: the order waits for them again."""
        self.receipt_status = self.ReceiptStatus.PARTIALLY_RECEIVED

    @transition(field=status, source=[S.RECEIVED, S.PARTIALLY_RECEIVED], target=S.CLOSED)
    def close(self) -> None:
        self.closed_at = timezone.now()


class SalesOrder(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """The supplier's side of the pair, created when the PO is released to the supplier."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        IN_REVIEW = "in_review", "In review"
        ACCEPTED = "accepted", "Accepted"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        CONFIRMED = "confirmed", "Confirmed"
        PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
        SHIPPED = "shipped", "Shipped"
        COMPLETED = "completed", "Completed"
        DECLINED = "declined", "Declined"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    S = Status
    OPEN = [S.NEW, S.IN_REVIEW, S.CHANGES_REQUESTED]
    SHIPPABLE = [S.CONFIRMED, S.PARTIALLY_SHIPPED, S.SHIPPED]

    purchase_order = models.OneToOneField(PurchaseOrder, on_delete=models.PROTECT, related_name="sales_order")
    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="sales_orders")
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    number = models.CharField(max_length=30)
    status = FSMField(max_length=20, choices=Status.choices, default=Status.NEW, protected=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [
            ("accept_salesorder", "Accept sales orders"),
            ("decline_salesorder", "Decline sales orders"),
        ]
        constraints = [models.UniqueConstraint(fields=["supplier", "number"], name="unique_so_number")]
        indexes = [
            models.Index(fields=["supplier", "-created_at", "-id"], name="so_list_newest_first"),
            models.Index(fields=["supplier", "status", "-created_at"]),
            models.Index(fields=["supplier", "customer", "-created_at"]),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def has_acknowledgement(self) -> bool:
        """An order acknowledgement exists once the supplier accepted, unless the order ended."""
        ended = (self.Status.DECLINED, self.Status.CANCELLED, self.Status.EXPIRED)
        return self.purchase_order.supplier_accepted_at is not None and self.status not in ended

    @transition(field=status, source=[S.NEW, S.CHANGES_REQUESTED], target=S.IN_REVIEW)
    def start_review(self) -> None:
        pass

    @transition(field=status, source=OPEN, target=S.ACCEPTED)
    def accept(self) -> None:
        pass

    @transition(field=status, source=OPEN, target=S.DECLINED)
    def decline(self) -> None:
        pass

    @transition(field=status, source=S.ACCEPTED, target=S.CHANGES_REQUESTED)
    def changes_requested(self) -> None:
        pass

    @transition(field=status, source=S.ACCEPTED, target=S.CONFIRMED)
    def confirm(self) -> None:
        pass

    @transition(field=status, source=[*OPEN, S.ACCEPTED], target=S.CANCELLED)
    def cancel(self) -> None:
        pass

    @transition(field=status, source=OPEN, target=S.EXPIRED)
    def expire(self) -> None:
        pass

    @transition(field=status, source=SHIPPABLE, target=S.PARTIALLY_SHIPPED)
    def ship_part(self) -> None:  # from shipped too: an amendment may raise a quantity (SPEC §4)
        pass

    @transition(field=status, source=SHIPPABLE, target=S.SHIPPED)
    def ship_all(self) -> None:
        pass

    @transition(field=status, source=SHIPPABLE, target=S.COMPLETED)
    def complete(self) -> None:
        pass


VOID_LINE_STATUSES = ("rejected", "cancelled")


class LineValues(models.Model):
    """What a line says; shared by the live line and its copies in published revisions."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        REJECTED = "rejected", "Rejected by supplier"
        CANCELLED = "cancelled", "Cancelled by amendment"

    key = models.UUIDField(default=uuid.uuid4, editable=False, help_text="The line's identity across revisions.")
    position = models.PositiveIntegerField()
    sku = models.CharField("SKU", max_length=64, blank=True)
    description = models.CharField(max_length=500)
    quantity = quantity_field()
    unit = models.CharField(max_length=10, choices=UNIT_CHOICES)
    unit_price = money_field()
    tax_rate = models.DecimalField("tax rate (%)", max_digits=5, decimal_places=2, default=Decimal("0"))
    line_total = money_field(default=Decimal("0"))
    tax_amount = money_field(default=Decimal("0"))
    requested_date = models.DateField(null=True, blank=True)
    promised_date = models.DateField(null=True, blank=True)
    backorder_quantity = quantity_field(null=True, blank=True, help_text="Of the quantity, how much comes later.")
    backorder_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    reject_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        abstract = True
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.position}. {self.sku or self.description}"

    @property
    def is_rejected(self) -> bool:
        return self.status == self.Status.REJECTED

    @property
    def is_void(self) -> bool:
        """Rejected by the supplier or cancelled by an amendment: it counts for nothing."""
        return self.status in VOID_LINE_STATUSES


class PurchaseOrderLine(LineValues):
    """A line of the order as it stands now (the draft, then the latest published revision)."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    listing = models.ForeignKey(Listing, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    listing_price_at_add = money_field(null=True, blank=True)
    gl_account = models.ForeignKey(GLAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    cost_center = models.ForeignKey(CostCenter, on_delete=models.PROTECT, related_name="+")
    fund = models.CharField(max_length=60, blank=True)
    department = models.CharField(max_length=60, blank=True)
    program = models.CharField(max_length=60, blank=True)
    quantity_shipped = quantity_field(default=Decimal("0"))
    quantity_received = quantity_field(default=Decimal("0"))
    quantity_invoiced = quantity_field(default=Decimal("0"))
    # Noted on receipts, not counted as received: the supplier may ship these again.
    quantity_damaged = quantity_field(default=Decimal("0"))
    quantity_short = quantity_field(default=Decimal("0"))
    # Returns (``ReturnRequest``): asked of live returns (the customer's cap); arrived back at the
    # supplier; of those, credited (the credit note lowers what is owed) or to be shipped again.
    quantity_returned = quantity_field(default=Decimal("0"))
    quantity_received_back = quantity_field(default=Decimal("0"))
    quantity_credited = quantity_field(default=Decimal("0"))
    quantity_replaced = quantity_field(default=Decimal("0"))

    class Meta(LineValues.Meta):
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="po_line_quantity_positive"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="po_line_price_not_negative"),
            models.UniqueConstraint(fields=["purchase_order", "key"], name="unique_po_line_key"),
            models.CheckConstraint(
                condition=models.Q(
                    quantity_shipped__gte=0,
                    quantity_received__gte=0,
                    quantity_invoiced__gte=0,
                    quantity_damaged__gte=0,
                    quantity_short__gte=0,
                    quantity_returned__gte=0,
                    quantity_received_back__gte=0,
                    quantity_credited__gte=0,
                    quantity_replaced__gte=0,
                ),
                name="po_line_progress_not_negative",
            ),
        ]

    @property
    def price_changed(self) -> bool:
        """A listing line of a draft whose price moved since it was added."""
        return self.listing_price_at_add is not None and self.listing_price_at_add != self.unit_price

    @property
    def expected_quantity(self) -> Decimal:
        """What the customer still expects to keep: the ordered quantity less what was credited."""
        return self.quantity - self.quantity_credited

    @property
    def kept_quantity(self) -> Decimal:
        """Good units the customer keeps: received, less what went back beyond the units noted
        damaged at receipt (those go back first: they were never counted as received)."""
        return self.quantity_received - max(Decimal("0"), self.quantity_received_back - self.quantity_damaged)

    @property
    def returnable(self) -> Decimal:
        """What may still be asked back: everything that arrived (good or damaged), less what live
        returns ask already."""
        if self.is_void:
            return Decimal("0")
        return max(Decimal("0"), self.quantity_received + self.quantity_damaged - self.quantity_returned)

    def receivable(self, tolerance_percent: Decimal) -> Decimal:
        """The most that may be kept in all: the expected quantity plus the over-receipt
        tolerance, rounded down to what the unit allows (10 ea at 5 %: 10)."""
        places = Decimal(1).scaleb(-quantity_decimals(self.unit))
        return (self.expected_quantity * (1 + tolerance_percent / 100)).quantize(places, rounding=ROUND_DOWN)

    def left_to_receive(self, tolerance_percent: Decimal = Decimal("0")) -> Decimal:
        return max(Decimal("0"), self.receivable(tolerance_percent) - self.kept_quantity)

    @property
    def left_to_ship(self) -> Decimal:
        """What the supplier may still send: the rest of the ordered quantity, and again what
        arrived damaged or went missing or came back for a replacement, never more than the
        order still waits for. (The over-receipt tolerance is the customer's leeway when
        receiving, not a licence to ship more.)"""
        replaceable = (
            self.quantity - self.quantity_shipped + self.quantity_damaged + self.quantity_short + self.quantity_replaced
        )
        return max(Decimal("0"), min(replaceable, self.expected_quantity - self.kept_quantity))

    @property
    def to_send_again(self) -> Decimal:
        """Of what is left to ship, the units that were shipped once already: noted damaged or
        short at receipt, or sent back for a replacement (none once they were credited)."""
        return max(Decimal("0"), self.left_to_ship - max(Decimal("0"), self.quantity - self.quantity_shipped))

    @property
    def backorder_open(self) -> bool:
        """A backorder the supplier still owes: not all shipped, and not all received."""
        return bool(self.backorder_quantity) and self.quantity_shipped < self.quantity and not self.is_fully_received

    @property
    def is_fully_received(self) -> bool:
        return self.is_void or self.kept_quantity >= self.expected_quantity

    def is_received_within(self, under_percent: Decimal) -> bool:
        """Received as ordered, or short by no more than the under-receipt tolerance."""
        return self.is_void or self.kept_quantity >= self.expected_quantity * (1 - under_percent / 100)
