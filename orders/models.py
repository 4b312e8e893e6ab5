"""Listings, and the order pair: the customer's purchase order and the supplier's sales order,
their lines, published revisions, the supplier's unpublished proposal and the shared thread."""

from __future__ import annotations

import uuid
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from accounts.models import Connection, Location, Organization
from procurement.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS, CURRENCY_CHOICES

from .units import QUANTITY_DECIMAL_PLACES, UNIT_CHOICES, quantity_decimals


def money_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, **kwargs)


def quantity_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=QUANTITY_DECIMAL_PLACES, **kwargs)


class Listing(models.Model):
    """Something a supplier sells: its price, unit, minimum order and price breaks."""

    supplier = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="listings")
    sku = models.CharField("SKU", max_length=64)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    unit = models.CharField(max_length=10, choices=UNIT_CHOICES, default="ea")
    unit_price = money_field()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    min_order_qty = quantity_field(default=Decimal("1"), verbose_name="minimum order quantity")
    is_active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    price_updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.UniqueConstraint(Lower("sku"), "supplier", name="unique_sku_per_supplier"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="listing_price_not_negative"),
            models.CheckConstraint(condition=models.Q(min_order_qty__gt=0), name="listing_moq_positive"),
        ]
        indexes = [
            models.Index(fields=["supplier", "is_active", "sku"]),
            models.Index(fields=["supplier", "name"]),
        ]

    def __str__(self) -> str:
        return f"{self.sku} — {self.name}"

    def price_for(self, *, quantity: Decimal, customer_price: Decimal | None = None) -> Decimal:
        """The unit price for a quantity: the lowest of the list price, the customer's own
        price (if any) and the price breaks the quantity reaches. Uses prefetched breaks."""
        candidates = [self.unit_price]
        if customer_price is not None:
            candidates.append(customer_price)
        candidates += [b.unit_price for b in self.price_breaks.all() if quantity >= b.min_quantity]
        return min(candidates)


class PriceBreak(models.Model):
    """From ``min_quantity`` on, the unit price is ``unit_price``."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="price_breaks")
    min_quantity = quantity_field()
    unit_price = money_field()

    class Meta:
        ordering = ["min_quantity"]
        constraints = [
            models.UniqueConstraint(fields=["listing", "min_quantity"], name="one_break_per_quantity"),
            models.CheckConstraint(condition=models.Q(min_quantity__gt=0), name="break_quantity_positive"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="break_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.min_quantity}+ at {self.unit_price}"


class CustomerPrice(models.Model):
    """A listing's price for one connected customer."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="customer_prices")
    customer = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    unit_price = money_field()

    class Meta:
        ordering = ["customer__name"]
        constraints = [
            models.UniqueConstraint(fields=["listing", "customer"], name="one_price_per_customer"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="customer_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.customer}: {self.unit_price}"


class ListingImport(models.Model):
    """A CSV file of listings a supplier uploaded, imported by a Celery task
    (``orders.tasks.import_listings``): *queued* → *running* → *done* (every row written) or
    *failed* (every problem listed, nothing written). Only ``orders.listing_csv`` changes it."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Not imported"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="listing_imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    file_name = models.CharField(max_length=255)
    data = models.BinaryField(help_text="The file as uploaded; emptied once the import has finished.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0, help_text="Rows checked so far.")
    listings_created = models.PositiveIntegerField(default=0)
    listings_updated = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{row, column, message}, …]")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        return self.rows_done * 100 // self.rows_total if self.rows_total else 0


# ------------------------------------------------------------------------ accounting lists


class AccountingCode(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=30)
    name = models.CharField(max_length=120)
    is_active = models.BooleanField("active", default=True)

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class GLAccount(AccountingCode):
    """A general-ledger account of the customer's chart of accounts (admin-editable)."""

    class Meta(AccountingCode.Meta):
        verbose_name = "GL account"
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="unique_gl_code")]


class CostCenter(AccountingCode):
    """A cost center of the customer (admin-editable); every order line names one."""

    class Meta(AccountingCode.Meta):
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="unique_cost_center_code")]


# ------------------------------------------------------------------------------ the pair


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
                ),
                name="po_line_progress_not_negative",
            ),
        ]

    @property
    def price_changed(self) -> bool:
        """A listing line of a draft whose price moved since it was added."""
        return self.listing_price_at_add is not None and self.listing_price_at_add != self.unit_price

    def receivable(self, tolerance_percent: Decimal) -> Decimal:
        """The most that may be received in all: the ordered quantity plus the over-receipt
        tolerance, rounded down to what the unit allows (10 ea at 5 %: 10)."""
        places = Decimal(1).scaleb(-quantity_decimals(self.unit))
        return (self.quantity * (1 + tolerance_percent / 100)).quantize(places, rounding=ROUND_DOWN)

    def left_to_receive(self, tolerance_percent: Decimal = Decimal("0")) -> Decimal:
        return max(Decimal("0"), self.receivable(tolerance_percent) - self.quantity_received)

    @property
    def left_to_ship(self) -> Decimal:
        """What the supplier may still send: the rest of the ordered quantity, and again what
        arrived damaged or went missing, never more than the order still waits for. (The
        over-receipt tolerance is the customer's leeway when receiving, not a licence to ship more.)"""
        replaceable = self.quantity - self.quantity_shipped + self.quantity_damaged + self.quantity_short
        return max(Decimal("0"), min(replaceable, self.quantity - self.quantity_received))

    @property
    def is_fully_received(self) -> bool:
        return self.is_void or self.quantity_received >= self.quantity

    def is_received_within(self, under_percent: Decimal) -> bool:
        """Received as ordered, or short by no more than the under-receipt tolerance."""
        return self.is_void or self.quantity_received >= self.quantity * (1 - under_percent / 100)


class Revision(models.Model):
    """A published version of the order, immutable: 1 at release, then one per acceptance."""

    class Kind(models.TextChoices):
        SUBMITTED = "submitted", "Sent by the customer"
        ACCEPTED = "accepted", "Accepted by the supplier"
        AMENDED = "amended", "Amendment accepted"

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    header = models.JSONField(default=dict)
    subtotal = money_field()
    discount = money_field()
    tax_total = money_field()
    total = money_field()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["purchase_order", "number"], name="unique_revision_number")]

    def __str__(self) -> str:
        return f"{self.purchase_order} rev. {self.number}"


class RevisionLine(LineValues):
    revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="lines")


class Proposal(models.Model):
    """The supplier's edits, invisible to the customer until the supplier accepts the order."""

    sales_order = models.OneToOneField(SalesOrder, on_delete=models.CASCADE, related_name="proposal")
    accept_by = models.DateField(null=True, blank=True)
    confirm_ship_by = models.DateField(null=True, blank=True)
    invoice_due_date = models.DateField(null=True, blank=True)
    tax_rate = models.DecimalField("tax rate for every line (%)", max_digits=5, decimal_places=2, null=True, blank=True)
    discount = money_field(null=True, blank=True)
    supplier_contact = models.CharField(max_length=200, blank=True)
    ship_to_address = models.TextField(blank=True)
    payment_terms_days = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Proposal for {self.sales_order}"


class ProposalLine(models.Model):
    class Action(models.TextChoices):
        ACCEPT = "accept", "Accept"
        CHANGE = "change", "Change"
        BACKORDER = "backorder", "Backorder"
        REJECT = "reject", "Reject"
        ADD = "add", "Add a line"

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="lines")
    po_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices, default=Action.ACCEPT)
    quantity = quantity_field(null=True, blank=True)
    unit_price = money_field(null=True, blank=True)
    promised_date = models.DateField(null=True, blank=True)
    backorder_quantity = quantity_field(null=True, blank=True)
    backorder_date = models.DateField(null=True, blank=True)
    reject_reason = models.CharField(max_length=500, blank=True)
    # An added line's own values.
    listing = models.ForeignKey(Listing, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    sku = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=500, blank=True)
    unit = models.CharField(max_length=10, choices=UNIT_CHOICES, blank=True)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "po_line"], name="one_proposal_line_per_line"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.po_line or self.description}"


# ---------------------------------------------------------------------------- fulfilment


class Shipment(models.Model):
    """Goods the supplier sent: one or more per order, each with its lines (SPEC §4, 11)."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="shipments")
    sales_order = models.ForeignKey(SalesOrder, on_delete=models.CASCADE, related_name="shipments")
    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField(help_text="1, 2, … within the order.")
    shipped_on = models.DateField()
    carrier = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["purchase_order", "number"], name="unique_shipment_number")]

    def __str__(self) -> str:
        return f"Shipment {self.number}"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    po_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="shipment_lines")
    quantity = quantity_field()

    class Meta:
        ordering = ["po_line__position", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="shipment_line_quantity_positive"),
            models.UniqueConstraint(fields=["shipment", "po_line"], name="one_shipment_line_per_line"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity.normalize():f} of line {self.po_line_id}"


class Receipt(models.Model):
    """Goods the customer received: one or more per order, each against a shipment or none
    (SPEC §4, 12). A shipment is received once: what did not arrive in it is noted short."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="receipts")
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField(help_text="1, 2, … within the order.")
    shipment = models.OneToOneField(Shipment, on_delete=models.PROTECT, null=True, blank=True, related_name="receipt")
    received_on = models.DateField()
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["purchase_order", "number"], name="unique_receipt_number")]

    def __str__(self) -> str:
        return f"Receipt {self.number}"


class ReceiptLine(models.Model):
    """What arrived of one line: ``quantity`` in good condition (counted as received), and the
    units damaged or short (noted with a reason, not counted)."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines")
    po_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipt_lines")
    quantity = quantity_field(default=Decimal("0"))
    quantity_damaged = quantity_field(default=Decimal("0"))
    quantity_short = quantity_field(default=Decimal("0"))
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["po_line__position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=0, quantity_damaged__gte=0, quantity_short__gte=0),
                name="receipt_line_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0) | models.Q(quantity_damaged__gt=0) | models.Q(quantity_short__gt=0),
                name="receipt_line_not_empty",
            ),
            models.CheckConstraint(
                condition=models.Q(quantity_damaged=0, quantity_short=0) | ~models.Q(reason=""),
                name="receipt_line_discrepancy_has_reason",
            ),
            models.UniqueConstraint(fields=["receipt", "po_line"], name="one_receipt_line_per_line"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity.normalize():f} of line {self.po_line_id}"

    @property
    def has_discrepancy(self) -> bool:
        return bool(self.quantity_damaged or self.quantity_short)


class Amendment(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """A change the customer asks of a confirmed order (SPEC §4): quantities up, or lines
    cancelled; never a line that has receipts. Re-approved first when the new total crosses a
    threshold the old did not; the supplier accepts or declines it; on acceptance the order
    publishes it as its next revision and the invoice and the bill follow."""

    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval", "Waiting for internal approval"
        PROPOSED = "proposed", "Waiting for the supplier"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined by the supplier"
        REJECTED = "rejected", "Rejected in approval"
        WITHDRAWN = "withdrawn", "Withdrawn"
        LAPSED = "lapsed", "Lapsed"

    S = Status
    OPEN = (S.PENDING_APPROVAL, S.PROPOSED)

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="amendments")
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField(help_text="1, 2, … within the order.")
    status = FSMField(max_length=20, choices=Status.choices, default=Status.PROPOSED, protected=True)
    reason = models.TextField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    old_total = money_field()
    new_total = money_field()
    reapproval_reason = models.CharField(max_length=300, blank=True, help_text="Why it needed approval again.")
    revision_number = models.PositiveIntegerField(null=True, blank=True, help_text="The revision it became.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    proposed_at = models.DateTimeField(null=True, blank=True, help_text="When the supplier was asked.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(blank=True, help_text="Why the supplier declined it, or why it lapsed.")

    class Meta:
        ordering = ["-number"]
        permissions = [("accept_amendment", "Accept or decline amendments")]
        constraints = [
            models.UniqueConstraint(fields=["purchase_order", "number"], name="unique_amendment_number"),
            # One open amendment per order: two buyers racing cannot both start one.
            models.UniqueConstraint(
                fields=["purchase_order"],
                condition=models.Q(status__in=["pending_approval", "proposed"]),
                name="one_open_amendment_per_order",
            ),
            models.CheckConstraint(condition=~models.Q(reason=""), name="amendment_has_a_reason"),
            models.CheckConstraint(
                condition=~models.Q(status="declined") | ~models.Q(decline_reason=""),
                name="amendment_decline_has_a_reason",
            ),
        ]
        indexes = [models.Index(fields=["purchase_order", "status"])]

    def __str__(self) -> str:
        return f"Amendment {self.number} of {self.purchase_order}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @transition(field=status, source=S.PENDING_APPROVAL, target=S.PROPOSED)
    def propose(self) -> None:
        self.proposed_at = timezone.now()

    @transition(field=status, source=S.PENDING_APPROVAL, target=S.REJECTED)
    def reject(self) -> None:
        self.decided_at = timezone.now()

    @transition(field=status, source=S.PROPOSED, target=S.ACCEPTED)
    def accept(self, *, by, revision_number: int) -> None:
        self.decided_by = by
        self.decided_at = timezone.now()
        self.revision_number = revision_number

    @transition(field=status, source=S.PROPOSED, target=S.DECLINED)
    def decline(self, *, by, reason: str) -> None:
        self.decided_by = by
        self.decided_at = timezone.now()
        self.decline_reason = reason

    @transition(field=status, source=OPEN, target=S.WITHDRAWN)
    def withdraw(self, *, by) -> None:
        self.decided_by = by
        self.decided_at = timezone.now()

    @transition(field=status, source=OPEN, target=S.LAPSED)
    def lapse(self, *, reason: str) -> None:
        """The order moved on under it (a line was received, the order closed)."""
        self.decided_at = timezone.now()
        self.decline_reason = reason


class AmendmentLine(models.Model):
    """One line of an amendment: its quantity raised, or the line cancelled (new quantity empty)."""

    amendment = models.ForeignKey(Amendment, on_delete=models.CASCADE, related_name="lines")
    po_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField()
    sku = models.CharField("SKU", max_length=64, blank=True)
    description = models.CharField(max_length=500)
    unit = models.CharField(max_length=10, choices=UNIT_CHOICES)
    unit_price = money_field()
    old_quantity = quantity_field()
    new_quantity = quantity_field(null=True, blank=True, help_text="Empty: the line is cancelled.")
    old_line_total = money_field()
    new_line_total = money_field()

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["amendment", "po_line"], name="one_amendment_line_per_line"),
            models.CheckConstraint(
                condition=models.Q(new_quantity__isnull=True) | models.Q(new_quantity__gt=models.F("old_quantity")),
                name="amendment_only_increases",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.sku or self.description}"

    @property
    def cancels(self) -> bool:
        return self.new_quantity is None


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
        AMENDMENT = "amendment", "Amendment requested"
        AMENDMENT_ACCEPTED = "amendment_accepted", "Amendment accepted"
        AMENDMENT_DECLINED = "amendment_declined", "Amendment declined"
        AMENDMENT_WITHDRAWN = "amendment_withdrawn", "Amendment withdrawn"

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
