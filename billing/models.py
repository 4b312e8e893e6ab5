"""Invoices (the supplier's side) and bills (the customer's side) of a confirmed order.

Money helpers that every app already needs live in ``procurement.money``.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from accounts.models import Location, Organization, User
from orders.models import PurchaseOrder, PurchaseOrderLine, Receipt, ReturnRequest, SalesOrder
from orders.models.fields import money_field, quantity_field
from orders.units import UNIT_CHOICES
from procurement.money import CURRENCY_CHOICES, RATE_DECIMAL_PLACES, RATE_MAX_DIGITS, format_money
from procurement.validators import format_date


class Document(models.Model):
    """What an invoice and a bill share: the amounts, in the order's currency, and dates."""

    number = models.CharField(max_length=30)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    revision = models.PositiveIntegerField(default=1, help_text="The order revision it was made from.")
    due_date = models.DateField()
    subtotal = money_field(default=Decimal("0"))
    discount = money_field(default=Decimal("0"))
    tax_total = money_field(default=Decimal("0"))
    total = money_field(default=Decimal("0"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.number


class Invoice(ConcurrentTransitionMixin, FSMModelMixin, Document):
    """The supplier's invoice of a confirmed order: one per order (a constraint says so)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"

    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="invoices")
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    purchase_order = models.OneToOneField(PurchaseOrder, on_delete=models.PROTECT, related_name="invoice")
    sales_order = models.OneToOneField(SalesOrder, on_delete=models.PROTECT, related_name="invoice")
    invoice_date = models.DateField()
    status = FSMField(max_length=20, choices=Status.choices, default=Status.OPEN, protected=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # What credit notes of returns took off it (kept by billing.services.credits, with the bill's).
    credited_total = money_field(default=Decimal("0"))

    class Meta(Document.Meta):
        constraints = [
            models.UniqueConstraint(fields=["supplier", "number"], name="unique_invoice_number"),
            models.CheckConstraint(
                condition=models.Q(credited_total__gte=0) & models.Q(credited_total__lte=models.F("total")),
                name="invoice_credited_within_total",
            ),
        ]
        indexes = [
            models.Index(fields=["supplier", "-created_at", "-id"], name="invoice_list_newest_first"),
            models.Index(fields=["supplier", "status", "due_date"], name="invoice_by_status_due"),
        ]

    @transition(field=status, source=Status.OPEN, target=Status.PAID)
    def mark_paid(self) -> None:
        self.paid_at = timezone.now()

    @transition(field=status, source=Status.PAID, target=Status.OPEN)
    def reopen(self) -> None:
        """An amendment raised the total over what verified payments cover."""
        self.paid_at = None

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.OPEN and self.due_date < timezone.localdate()

    @property
    def net_total(self) -> Decimal:
        """What the customer owes in all: the total less the credit notes."""
        return self.total - self.credited_total


class Bill(ConcurrentTransitionMixin, FSMModelMixin, Document):
    """The customer's bill: made with the invoice for an order (then linked to both and locked,
    SPEC §6), or entered by hand (no order)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PARTIALLY_PAID = "partially_paid", "Partially paid"
        PAID = "paid", "Paid"
        VERIFIED = "verified", "Verified"
        CANCELLED = "cancelled", "Cancelled"

    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="bills")
    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    purchase_order = models.OneToOneField(
        PurchaseOrder, on_delete=models.PROTECT, null=True, blank=True, related_name="bill"
    )
    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="bill")
    bill_date = models.DateField()
    supplier_reference = models.CharField("supplier's invoice number", max_length=60, blank=True)
    reference_number = models.CharField(max_length=60, blank=True)
    location = models.ForeignKey(Location, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    notes = models.TextField(blank=True)
    status = FSMField(max_length=20, choices=Status.choices, default=Status.OPEN, protected=True)
    # What payments count for: recorded and not disputed (at the amount the supplier received,
    # once verified), and verified only. Kept by the payment services under the bill's lock;
    # the check constraints below are the last line against an overpayment.
    paid_total = money_field(default=Decimal("0"))
    verified_total = money_field(default=Decimal("0"))
    # Returns: what debit notes (the supplier's credit notes) took off the bill. Read-only, part
    # of the PO lock; never more than the total.
    credited_total = money_field(verbose_name="returns", default=Decimal("0"))
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    cancel_reason = models.TextField(blank=True)

    OPEN_STATES = (Status.OPEN, Status.PARTIALLY_PAID)
    SETTLING = (Status.OPEN, Status.PARTIALLY_PAID, Status.PAID, Status.VERIFIED)

    class Meta(Document.Meta):
        permissions = [("match_bill", "Match bills to purchase orders"), ("cancel_bill", "Cancel bills")]
        constraints = [
            models.UniqueConstraint(fields=["customer", "number"], name="unique_bill_number"),
            models.CheckConstraint(
                condition=models.Q(purchase_order__isnull=True) | models.Q(invoice__isnull=False),
                name="order_bill_has_its_invoice",
            ),
            models.UniqueConstraint(
                Lower("supplier_reference"),
                "customer",
                "supplier",
                condition=~models.Q(supplier_reference="") & ~models.Q(status="cancelled"),
                name="one_live_bill_per_supplier_invoice",
            ),
            models.CheckConstraint(
                condition=models.Q(verified_total__gte=0)
                & models.Q(paid_total__gte=models.F("verified_total"))
                & models.Q(paid_total__lte=models.F("total")),
                name="bill_never_overpaid",
            ),
            models.CheckConstraint(
                condition=models.Q(credited_total__gte=0) & models.Q(credited_total__lte=models.F("total")),
                name="bill_credited_within_total",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at", "-id"], name="bill_list_newest_first"),
            models.Index(fields=["customer", "status", "due_date"], name="bill_by_status_due"),
        ]

    @property
    def net_total(self) -> Decimal:
        """What is owed in all: the total less the returns credited."""
        return self.total - self.credited_total

    @property
    def outstanding(self) -> Decimal:
        """What is left to pay, net of returns credited: nothing on a cancelled bill, nor when
        payments and credits together cover it (see ``balance_in_favour``)."""
        if self.status == self.Status.CANCELLED:
            return self.total * 0
        return max(self.total * 0, self.net_total - self.paid_total)

    @property
    def balance_in_favour(self) -> Decimal:
        """What the supplier owes back: payments beyond the total net of credits (a credit that
        came after the bill was paid)."""
        if self.status == self.Status.CANCELLED:
            return self.total * 0
        return max(self.total * 0, self.paid_total - self.net_total)

    @property
    def is_manual(self) -> bool:
        return self.purchase_order_id is None

    @transition(field=status, source=SETTLING, target=RETURN_VALUE(*SETTLING))
    def settle(self) -> str:
        """The status the payments say: verified when verified payments cover the bill, paid
        when recorded ones do, partly paid when some, else open."""
        if self.verified_total >= self.net_total:  # a bill of nothing is settled as it is made
            return self.Status.VERIFIED
        if self.paid_total >= self.net_total:
            return self.Status.PAID
        return self.Status.PARTIALLY_PAID if self.paid_total > 0 else self.Status.OPEN

    @transition(field=status, source=OPEN_STATES, target=Status.CANCELLED)
    def cancel(self, *, by: User, reason: str) -> None:
        self.cancelled_at = timezone.now()
        self.cancelled_by = by
        self.cancel_reason = reason

    @property
    def is_locked(self) -> bool:
        """A bill made from an order keeps the order's date, supplier, location and amounts."""
        return self.purchase_order_id is not None

    @property
    def is_overdue(self) -> bool:
        return self.status in self.OPEN_STATES and self.due_date < timezone.localdate()


class DocumentLine(models.Model):
    """A line of an invoice or a bill, copied from the order's confirmed revision."""

    position = models.PositiveIntegerField()
    po_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    sku = models.CharField("SKU", max_length=64, blank=True)
    description = models.CharField(max_length=500)
    quantity = quantity_field()
    unit = models.CharField(max_length=10, choices=UNIT_CHOICES)
    unit_price = money_field()
    tax_rate = models.DecimalField("tax rate (%)", max_digits=5, decimal_places=2, default=Decimal("0"))
    line_total = money_field()
    tax_amount = money_field()

    class Meta:
        abstract = True
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.position}. {self.sku or self.description}"


class InvoiceLine(DocumentLine):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")

    class Meta(DocumentLine.Meta):
        constraints = [models.UniqueConstraint(fields=["invoice", "position"], name="unique_invoice_line")]


class BillLine(DocumentLine):
    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="lines")

    class Meta(DocumentLine.Meta):
        constraints = [models.UniqueConstraint(fields=["bill", "position"], name="unique_bill_line")]


class NoteDocument(models.Model):
    """What a credit note and a debit note share: the return they settle and its amounts, at the
    order's prices with tax, rounded per the currency (``billing.services.credits``)."""

    number = models.CharField(max_length=30)
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="+")
    return_request = models.OneToOneField(ReturnRequest, on_delete=models.PROTECT, related_name="+")
    note_date = models.DateField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    subtotal = money_field(default=Decimal("0"))
    discount = money_field(default=Decimal("0"), help_text="The order discount's share.")
    tax_total = money_field(default=Decimal("0"))
    total = money_field(default=Decimal("0"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.number


class CreditNote(NoteDocument):
    """The supplier's credit note of a return for credit: it lowers what the invoice asks."""

    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="credit_notes")
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")

    class Meta(NoteDocument.Meta):
        constraints = [
            models.UniqueConstraint(fields=["supplier", "number"], name="unique_credit_note_number"),
            models.CheckConstraint(condition=models.Q(total__gte=0), name="credit_note_not_negative"),
        ]
        indexes = [models.Index(fields=["supplier", "-created_at", "-id"], name="credit_notes_newest_first")]


class DebitNote(NoteDocument):
    """The customer's debit note, made with the supplier's credit note: it lowers what the bill
    asks (the bill's *Returns*). Valued in the base currency like the bill it reduces."""

    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="debit_notes")
    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="debit_notes")
    credit_note = models.OneToOneField(CreditNote, on_delete=models.PROTECT, related_name="debit_note")
    supplier_reference = models.CharField("supplier's credit note number", max_length=60, blank=True)

    class Meta(NoteDocument.Meta):
        constraints = [
            models.UniqueConstraint(fields=["customer", "number"], name="unique_debit_note_number"),
            models.CheckConstraint(condition=models.Q(total__gte=0), name="debit_note_not_negative"),
        ]
        indexes = [models.Index(fields=["customer", "-created_at", "-id"], name="debit_notes_newest_first")]


class CreditNoteLine(DocumentLine):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")

    class Meta(DocumentLine.Meta):
        constraints = [models.UniqueConstraint(fields=["credit_note", "position"], name="unique_credit_note_line")]


class DebitNoteLine(DocumentLine):
    debit_note = models.ForeignKey(DebitNote, on_delete=models.CASCADE, related_name="lines")

    class Meta(DocumentLine.Meta):
        constraints = [models.UniqueConstraint(fields=["debit_note", "position"], name="unique_debit_note_line")]


class Payment(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """A payment payables recorded on a bill. It waits for the supplier's receivables, who
    verify it with the amount that actually arrived (which may be less) or dispute it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for verification"
        VERIFIED = "verified", "Verified"
        DISPUTED = "disputed", "Disputed"

    class Method(models.TextChoices):
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        CARD = "card", "Card"
        CHEQUE = "cheque", "Cheque"
        DIRECT_DEBIT = "direct_debit", "Direct debit"
        CASH = "cash", "Cash"
        OTHER = "other", "Other"

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="payments")
    customer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="payments_made")
    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="payments_received")
    amount = money_field()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    paid_on = models.DateField()
    method = models.CharField(max_length=20, choices=Method.choices)
    reference = models.CharField(max_length=100, blank=True)
    attachment = models.FileField(upload_to="payments/%Y/%m/", blank=True)
    attachment_name = models.CharField(max_length=200, blank=True)
    status = FSMField(max_length=20, choices=Status.choices, default=Status.PENDING, protected=True)
    recorded_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    amount_received = money_field(null=True, blank=True)
    dispute_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["paid_on", "recorded_at", "pk"]
        permissions = [("verify_payment", "Verify or dispute payments received")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_positive"),
            models.CheckConstraint(
                condition=~models.Q(status="verified")
                | models.Q(amount_received__gte=0, amount_received__lte=models.F("amount")),
                name="payment_received_within_amount",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="disputed") | ~models.Q(dispute_reason=""), name="dispute_has_a_reason"
            ),
        ]
        indexes = [models.Index(fields=["supplier", "status"]), models.Index(fields=["customer", "status"])]

    def __str__(self) -> str:
        return f"{format_money(self.amount, self.currency)} on {format_date(self.paid_on)}"

    @property
    def shortfall(self) -> Decimal:
        """What a verified payment lacked of the amount paid."""
        return self.amount - self.amount_received if self.status == self.Status.VERIFIED else Decimal("0")

    @transition(field=status, source=Status.PENDING, target=Status.VERIFIED)
    def verify(self, *, by: User, amount_received: Decimal) -> None:
        self.amount_received = amount_received
        self.decided_by = by
        self.decided_at = timezone.now()

    @transition(field=status, source=Status.PENDING, target=Status.DISPUTED)
    def dispute(self, *, by: User, reason: str) -> None:
        self.dispute_reason = reason
        self.decided_by = by
        self.decided_at = timezone.now()


class BillMatch(models.Model):
    """An allocation of a hand-entered bill to a purchase order: who matched how much, and,
    when it is undone, who unmatched it (the row stays as the record)."""

    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="matches")
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="bill_matches")
    amount = money_field()
    matched_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    matched_at = models.DateTimeField(default=timezone.now)
    unmatched_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    unmatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["matched_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="match_positive"),
            models.UniqueConstraint(
                fields=["bill", "purchase_order"],
                condition=models.Q(unmatched_at__isnull=True),
                name="one_live_match_per_bill_and_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bill} → {self.purchase_order}: {self.amount}"


HALF_LAST_PLACE = models.Value(Decimal("0.00005"))


class FxDifference(models.Model):
    """One FX gain or loss of a bill, in the customer's base currency, recorded once (SPEC §6):
    *receipt → invoice* (the goods of a receipt valued at the receipt date's rate and at the bill
    date's) or *invoice → payment* (a payment valued at the bill date's rate and at its own).
    The bill is a liability: a dearer base value later is a loss, so ``gain = from_base −
    to_base`` (positive a gain, negative a loss). Written only by ``billing.fx.record_fx``."""

    class Kind(models.TextChoices):
        RECEIPT_INVOICE = "receipt_invoice", "Receipt → invoice"
        INVOICE_PAYMENT = "invoice_payment", "Invoice → payment"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="fx_differences")
    supplier = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="fx_differences")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    receipt = models.ForeignKey(Receipt, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    day = models.DateField(help_text="The day the figure belongs to in the report.")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    amount = money_field(help_text="The amount valued, in the bill's currency.")
    base_currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    from_date = models.DateField(help_text="The receipt's date, or the bill's.")
    to_date = models.DateField(help_text="The bill's date, or the payment's.")
    from_rate = models.DecimalField(max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES)
    to_rate = models.DecimalField(max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES)
    # The days of the table's rows the rates come from: earlier than the dates measured when
    # those days' own rates were not in the table yet (they replace the figure when they come).
    from_rate_day = models.DateField(null=True, blank=True)
    to_rate_day = models.DateField(null=True, blank=True)
    from_base = money_field()
    to_base = money_field()
    gain = money_field(help_text="Positive: a gain; negative: a loss.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["day", "kind", "pk"]
        verbose_name = "FX difference"
        constraints = [
            models.UniqueConstraint(
                fields=["bill", "receipt"], condition=models.Q(receipt__isnull=False), name="one_fx_per_bill_receipt"
            ),
            models.UniqueConstraint(
                fields=["payment"], condition=models.Q(payment__isnull=False), name="one_fx_per_payment"
            ),
            models.CheckConstraint(
                condition=models.Q(kind="receipt_invoice", receipt__isnull=False, payment__isnull=True)
                | models.Q(kind="invoice_payment", payment__isnull=False, receipt__isnull=True),
                name="fx_kind_matches_its_source",
            ),
            # gain = from_base − to_base; written as a band of half the column's last place, since
            # SQLite compares decimals as floating point (on PostgreSQL it is equality).
            models.CheckConstraint(
                condition=models.Q(
                    gain__gte=models.F("from_base") - models.F("to_base") - HALF_LAST_PLACE,
                    gain__lte=models.F("from_base") - models.F("to_base") + HALF_LAST_PLACE,
                ),
                name="fx_gain_is_the_difference",
            ),
        ]
        indexes = [models.Index(fields=["organization", "day"], name="fx_by_organization_day")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.bill}: {self.gain} {self.base_currency}"
