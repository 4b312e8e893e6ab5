"""Tenancy and people: organizations, users, memberships, locations, connections, the outbox."""

from __future__ import annotations

import hashlib
import secrets
from decimal import Decimal

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from procurement.money import CURRENCIES, CURRENCY_CHOICES, RATE_DECIMAL_PLACES, RATE_MAX_DIGITS

from .roles import CAPABILITY, PERMISSIONS, Role, grants


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("A user needs an e-mail address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str) -> User:
        # Log-in is by e-mail, whatever its case.
        return self.get(email__iexact=username)


class User(AbstractUser):
    """A person. Logs in with their e-mail address; belongs to organizations via Membership."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField("e-mail address", unique=True)
    full_name = models.CharField(max_length=150)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    objects = UserManager()

    class Meta:
        ordering = ["full_name", "email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def save(self, *args, **kwargs) -> None:
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


slug_validator = RegexValidator(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", "Use lower-case letters, digits and single hyphens.")
prefix_validator = RegexValidator(r"^[A-Z0-9]{1,8}$", "Use 1 to 8 capital letters or digits.")


class AddressLinesMixin:
    """The postal address of a model with the usual address fields, line by line."""

    @property
    def address_lines(self) -> list[str]:
        city_line = " ".join(p for p in (self.postal_code, self.city) if p)
        parts = (self.address_line1, self.address_line2, city_line, self.region, self.country)
        return [p for p in parts if p]


class Organization(AddressLinesMixin, models.Model):
    """The tenant. It buys, sells, or both."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True, validators=[slug_validator])
    base_currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="USD")
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    region = models.CharField("state / region", max_length=100, blank=True)
    country = models.CharField(max_length=100, blank=True)
    notification_email = models.EmailField(
        blank=True, help_text="Where order notifications for the organization go, besides the people."
    )
    buys = models.BooleanField(default=True, help_text="Raises purchase orders to suppliers.")
    sells = models.BooleanField(default=False, help_text="Publishes listings and receives orders.")
    po_prefix = models.CharField("PO prefix", max_length=8, default="PO", validators=[prefix_validator])
    so_prefix = models.CharField("SO prefix", max_length=8, default="SO", validators=[prefix_validator])
    invoice_prefix = models.CharField(max_length=8, default="INV", validators=[prefix_validator])
    bill_prefix = models.CharField(max_length=8, default="BILL", validators=[prefix_validator])
    rma_prefix = models.CharField("RMA prefix", max_length=8, default="RMA", validators=[prefix_validator])
    credit_note_prefix = models.CharField(max_length=8, default="CN", validators=[prefix_validator])
    debit_note_prefix = models.CharField(max_length=8, default="DN", validators=[prefix_validator])
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        permissions = [("manage_members", "Manage members"), ("manage_connections", "Manage connections")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(buys=True) | models.Q(sells=True), name="organization_buys_or_sells"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("home:org-home", kwargs={"org_slug": self.slug})


def percent_field(verbose_name: str, help_text: str):
    return models.DecimalField(
        verbose_name,
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text=help_text,
    )


TOLERANCES_IN_RANGE = models.Q(
    over_receipt_percent__gte=0,
    over_receipt_percent__lte=100,
    under_receipt_percent__gte=0,
    under_receipt_percent__lte=100,
    price_variance_percent__gte=0,
    price_variance_percent__lte=100,
    price_variance_amount__gte=0,
    billed_band__gte=0,
)


class Tolerances(models.Model):
    """The figures of a tolerance policy (SPEC §6), read by receiving, matching, auto-billed
    and auto-close."""

    over_receipt_percent = percent_field(
        "over-receipt (%)", "How much more than ordered may be received on a line (0: never more)."
    )
    under_receipt_percent = percent_field(
        "under-receipt (%)",
        "How much less than ordered still counts as fully received, for the 3-way match and closing.",
    )
    price_variance_percent = percent_field(
        "price variance (%)", "A billed unit price within this share of the ordered one is a variance, not a mismatch."
    )
    price_variance_amount = models.DecimalField(
        "price variance (amount)",
        max_digits=12,
        decimal_places=3,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="…or within this amount per unit, in the order's currency.",
    )
    billed_band = models.DecimalField(
        "rounding band for billed",
        max_digits=12,
        decimal_places=3,
        default=Decimal("0.10"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Bills matched to an order that fall short of its total by at most this much mark it billed.",
    )

    FIELDS = (
        "over_receipt_percent",
        "under_receipt_percent",
        "price_variance_percent",
        "price_variance_amount",
        "billed_band",
    )

    class Meta:
        abstract = True

    def values(self) -> dict[str, Decimal]:
        return {field: getattr(self, field) for field in self.FIELDS}


class TolerancePolicy(Tolerances):
    """One per organization; without one, every tolerance is the default (0 %, 0.10 band)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="tolerance_policy")
    updated_by = models.ForeignKey("User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "tolerance policies"
        constraints = [
            models.CheckConstraint(
                condition=TOLERANCES_IN_RANGE,
                name="tolerance_policy_in_range",
            )
        ]

    def __str__(self) -> str:
        return f"Tolerances of {self.organization}"


class SupplierTolerance(Tolerances):
    """An organization's tolerances for one supplier, replacing its policy's. Overrides are never
    edited in place: a change ends the current one and starts another, so the record keeps who
    set which figures, when and why."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="supplier_tolerances")
    supplier = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    reason = models.TextField()
    set_by = models.ForeignKey("User", on_delete=models.SET_NULL, null=True, related_name="+")
    set_at = models.DateTimeField(default=timezone.now)
    ended_by = models.ForeignKey("User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["supplier__name", "-set_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "supplier"],
                condition=models.Q(ended_at__isnull=True),
                name="one_current_override_per_supplier",
            ),
            models.CheckConstraint(condition=~models.Q(reason=""), name="override_has_a_reason"),
            models.CheckConstraint(
                condition=TOLERANCES_IN_RANGE,
                name="supplier_tolerance_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Tolerances of {self.organization} for {self.supplier}"


class DocumentSequence(models.Model):
    """The last number given per organization and kind of document (``PO-000042``)."""

    class Kind(models.TextChoices):
        PURCHASE_ORDER = "po", "Purchase order"
        SALES_ORDER = "so", "Sales order"
        INVOICE = "invoice", "Invoice"
        BILL = "bill", "Bill"
        RMA = "rma", "Return authorization"
        CREDIT_NOTE = "credit", "Credit note"
        DEBIT_NOTE = "debit", "Debit note"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sequences")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    last_value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "kind"], name="one_sequence_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.organization} {self.kind} #{self.last_value}"


class Membership(models.Model):
    """A user in an organization, with roles. Every request acts for exactly one membership."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    roles = models.JSONField(default=list, help_text="Role values from accounts.roles.Role.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["organization__name", "user__full_name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_org"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization}"

    @property
    def role_labels(self) -> list[str]:
        return [Role(r).label for r in Role.values if r in self.roles]

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    def has_perm(self, permission: str) -> bool:
        return grants(frozenset(self.roles), permission)

    def capability_refusal(self, permission: str) -> str | None:
        """Why the organization cannot do ``permission`` at all (it does not buy, or does not sell)."""
        org = self.organization
        capability = CAPABILITY[permission]
        if capability == "buys" and not org.buys:
            return f"{org.name} does not buy: turn on buying in the organization settings first."
        if capability == "sells" and not org.sells:
            return f"{org.name} does not sell: turn on selling in the organization settings first."
        return None

    def may(self, permission: str) -> bool:
        """True when the member's roles grant ``permission`` in their organization, and the
        organization has the capability (buying or selling) the permission is about. The base
        page view (``procurement.views.OrgView``) asks this; ``accounts.permissions.can`` too."""
        if permission not in PERMISSIONS:
            raise LookupError(f"unknown permission {permission!r}: add it to accounts.roles")
        return self.capability_refusal(permission) is None and self.has_perm(permission)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles


class Location(AddressLinesMixin, models.Model):
    """A place of an organization: ship-to addresses for orders."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(max_length=100)
    address_line1 = models.CharField("address", max_length=200)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100)
    postal_code = models.CharField(max_length=20, blank=True)
    region = models.CharField("state / region", max_length=100, blank=True)
    country = models.CharField(max_length=100)
    is_default = models.BooleanField("default ship-to", default=False)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="unique_location_name"),
            models.UniqueConstraint(
                fields=["organization"], condition=models.Q(is_default=True), name="one_default_location"
            ),
        ]

    def __str__(self) -> str:
        return self.name


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Invitation tokens are stored hashed: a database reader cannot accept an invitation."""
    return hashlib.sha256(token.encode()).hexdigest()


class MemberInvitation(models.Model):
    """An invitation, by e-mail, to join an organization with some roles."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    roles = models.JSONField(default=list)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                "organization",
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="one_open_invitation_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.organization}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"

    @property
    def role_labels(self) -> list[str]:
        return [Role(r).label for r in Role.values if r in self.roles]


class Connection(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """A customer's link to an integrated supplier, with the customer's terms for it.

    Invited by e-mail (``supplier`` is unknown until someone accepts for an organization),
    then active; either side may suspend, and the side that suspended reactivates.
    """

    class Status(models.TextChoices):
        INVITED = "invited", "Invited"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        DECLINED = "declined", "Declined"
        REVOKED = "revoked", "Withdrawn"

    customer = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="supplier_connections")
    supplier = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="customer_connections"
    )
    status = FSMField(max_length=12, choices=Status.choices, default=Status.INVITED, protected=True)
    invite_email = models.EmailField()
    invite_message = models.TextField(blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    invited_at = models.DateTimeField(default=timezone.now, editable=False)
    accepted_at = models.DateTimeField(null=True, blank=True)
    suspended_by = models.ForeignKey(Organization, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The customer's terms for this supplier.
    currency = models.CharField(
        max_length=3, choices=CURRENCY_CHOICES, blank=True, help_text="Blank: the supplier's currency."
    )
    payment_terms_days = models.PositiveSmallIntegerField("payment terms (net days)", default=30)
    ship_to = models.ForeignKey(Location, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-invited_at"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "supplier"], name="one_connection_per_pair"),
            models.CheckConstraint(condition=~models.Q(customer=models.F("supplier")), name="not_self_connected"),
        ]
        indexes = [models.Index(fields=["supplier", "status"]), models.Index(fields=["customer", "status"])]

    def __str__(self) -> str:
        return f"{self.customer} → {self.supplier or self.invite_email}"

    def counterparty(self, organization: Organization) -> Organization | None:
        return self.supplier if organization.pk == self.customer_id else self.customer

    def side(self, organization: Organization) -> str:
        return "customer" if organization.pk == self.customer_id else "supplier"

    @property
    def currency_display(self) -> str:
        """The currency of the terms, in words while it is still the unknown supplier's."""
        return self.currency or (self.supplier.base_currency if self.supplier else "the supplier's currency")

    # Transitions: pure; the services save, record the event and send the e-mails.
    @transition(field=status, source=Status.INVITED, target=Status.ACTIVE)
    def accept(self, *, supplier: Organization) -> None:
        self.supplier = supplier
        self.accepted_at = timezone.now()
        if not self.currency:
            self.currency = supplier.base_currency

    @transition(field=status, source=Status.INVITED, target=Status.DECLINED)
    def decline(self) -> None:
        pass

    @transition(field=status, source=Status.INVITED, target=Status.REVOKED)
    def revoke(self) -> None:
        pass

    @transition(field=status, source=Status.ACTIVE, target=Status.SUSPENDED)
    def suspend(self, *, by_organization: Organization) -> None:
        self.suspended_by = by_organization

    @transition(field=status, source=Status.SUSPENDED, target=Status.ACTIVE)
    def reactivate(self) -> None:
        self.suspended_by = None


class ConnectionEvent(models.Model):
    """Who changed what on a connection, and when."""

    class Kind(models.TextChoices):
        INVITED = "invited", "Invited"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        REVOKED = "revoked", "Invitation withdrawn"
        SUSPENDED = "suspended", "Suspended"
        REACTIVATED = "reactivated", "Reactivated"
        TERMS_CHANGED = "terms_changed", "Terms changed"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.SET_NULL, null=True, related_name="+")
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.actor} at {self.created_at:%Y-%m-%d %H:%M}"


class OutboundEmail(models.Model):
    """The outbox: every e-mail is rendered here in the sender's transaction, then delivered
    by a Celery task that marks it sent, so a retried task never sends twice."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Not sent: every recipient bounced or complained"

    key = models.CharField(max_length=200, unique=True, help_text="Idempotency key of the message.")
    organization = models.ForeignKey(Organization, on_delete=models.SET_NULL, null=True, blank=True)
    to = models.JSONField(default=list)
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    attachments = models.JSONField(
        default=list, blank=True, help_text="Documents rendered when the message is sent (see accounts.mail)."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    suppressed = models.JSONField(
        default=list, blank=True, help_text="Recipients left out: their address bounced or complained."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.subject} → {', '.join(self.to)} ({self.status})"


class EmailSuppression(models.Model):
    """An address the ESP reported as bounced, complained about (spam) or rejected, through
    anymail's tracking webhook. The outbox sends it nothing more; the organization's admins see
    it next to the member or the notification address. One row per address, whatever the
    number of events; a platform admin lifts it (``accounts.services.lift_email_suppression``)."""

    class Reason(models.TextChoices):
        BOUNCED = "bounced", "bounced"
        COMPLAINED = "complained", "marked as spam"
        REJECTED = "rejected", "rejected by the provider"

    address = models.EmailField(unique=True)
    reason = models.CharField(max_length=12, choices=Reason.choices)
    description = models.CharField(max_length=500, blank=True, help_text="The provider's words for the last event.")
    provider = models.CharField(max_length=50, blank=True)
    provider_event_id = models.CharField(max_length=200, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(address=Lower("address")), name="suppression_address_lowercase")
        ]

    def __str__(self) -> str:
        return f"{self.address} {self.get_reason_display()} ({self.last_seen_at:%Y-%m-%d})"


class ExchangeRate(models.Model):
    """One unit of ``from_currency`` is worth ``rate`` units of ``to_currency`` on ``day``, as
    the organization's treasury keeps it (each customer keeps its own table). The lookup rule
    — the latest on or before a day, direct or inverse — is ``accounts.selectors.exchange_rate``. The rate table sits
    here, below the apps, because approvals (limits in the base currency) and billing (FX) both read it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="exchange_rates")
    day = models.DateField()
    from_currency = models.CharField("from", max_length=3, choices=CURRENCY_CHOICES)
    to_currency = models.CharField("to", max_length=3, choices=CURRENCY_CHOICES)
    rate = models.DecimalField(
        max_digits=RATE_MAX_DIGITS,
        decimal_places=RATE_DECIMAL_PLACES,
        help_text="Units of the “to” currency for one unit of the “from” currency.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        db_table = "billing_exchangerate"  # made by billing's migrations; moved here in issue 17
        ordering = ["-day", "from_currency", "to_currency"]
        constraints = [
            # Its index (organization, pair, day) is the one the lookup reads.
            models.UniqueConstraint(
                fields=["organization", "from_currency", "to_currency", "day"],
                name="one_rate_per_pair_and_day",
                violation_error_message="This organization has a rate for this pair on this day already.",
            ),
            models.CheckConstraint(
                condition=models.Q(rate__gt=0),
                name="rate_positive",
                violation_error_message="A rate must be greater than zero.",
            ),
            models.CheckConstraint(
                condition=~models.Q(from_currency=models.F("to_currency")),
                name="rate_between_two_currencies",
                violation_error_message="A rate is between two different currencies.",
            ),
            models.CheckConstraint(
                condition=models.Q(from_currency__in=list(CURRENCIES)) & models.Q(to_currency__in=list(CURRENCIES)),
                name="rate_currencies_known",
                violation_error_message="Choose currencies Tandem knows.",
            ),
        ]

    def __str__(self) -> str:
        return f"1 {self.from_currency} = {self.rate} {self.to_currency} on {self.day}"
