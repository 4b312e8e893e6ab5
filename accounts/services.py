"""Every write of the accounts app: sign-up, organizations, members, invitations,
connections and document numbers. Views, admin, commands and tests all come through here."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from procurement.errors import DomainError
from procurement.money import CURRENCIES, decimal_places
from procurement.transactions import require_atomic
from procurement.transitions import transition
from procurement.validators import clean_text

from .mail import absolute_url, queue_email
from .models import (
    Connection,
    ConnectionEvent,
    DocumentSequence,
    Location,
    MemberInvitation,
    Membership,
    Organization,
    SupplierTolerance,
    TolerancePolicy,
    Tolerances,
    User,
    hash_token,
    new_token,
)
from .permissions import require
from .roles import BUYING_ROLES, SELLING_ROLES, Role

INVITATION_LIFETIME = timedelta(days=14)


# ---------------------------------------------------------------------------- organizations


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50].strip("-") or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _check_capabilities(*, buys: bool, sells: bool) -> None:
    if not (buys or sells):
        raise DomainError("An organization buys, sells, or both: tick at least one.", field="buys")


def _check_currency(currency: str, field: str = "base_currency") -> None:
    if currency not in CURRENCIES:
        raise DomainError(f"{currency!r} is not a currency Tandem knows.", field=field)


@transaction.atomic
def create_organization(*, user: User, name: str, base_currency: str, buys: bool, sells: bool) -> Membership:
    """A new organization with ``user`` as its admin, and its document sequences."""
    name = name.strip()
    if not name:
        raise DomainError("Give the organization a name.", field="organization_name")
    _check_capabilities(buys=buys, sells=sells)
    _check_currency(base_currency)
    org = Organization.objects.create(
        name=name,
        slug=_unique_slug(name),
        base_currency=base_currency,
        buys=buys,
        sells=sells,
        notification_email=user.email,
    )
    DocumentSequence.objects.bulk_create(
        DocumentSequence(organization=org, kind=kind) for kind in DocumentSequence.Kind.values
    )
    return Membership.objects.create(user=user, organization=org, roles=[Role.ADMIN])


def new_user_problems(*, email: str, password: str, full_name: str) -> dict[str, str]:
    """Everything wrong with a new account's details, by field (empty when all is well)."""
    problems = {}
    email = email.strip().lower()
    if email and User.objects.filter(email__iexact=email).exists():
        problems["email"] = "An account with this e-mail address exists already: log in instead."
    if not full_name.strip():
        problems["full_name"] = "Tell us your name."
    if not password:
        problems["password1"] = "Choose a password."
    else:
        try:
            validate_password(password, User(email=email, full_name=full_name))
        except ValidationError as exc:
            problems["password1"] = " ".join(exc.messages)
    return problems


def _check_new_user(*, email: str, password: str, full_name: str) -> str:
    problems = new_user_problems(email=email, password=password, full_name=full_name)
    if problems:
        field, message = next(iter(problems.items()))
        raise DomainError(message, field=field)
    return email.strip().lower()


@transaction.atomic
def sign_up(
    *,
    email: str,
    password: str,
    full_name: str,
    organization_name: str,
    base_currency: str,
    buys: bool,
    sells: bool,
) -> Membership:
    """A new person with a new organization of which they are the admin."""
    email = _check_new_user(email=email, password=password, full_name=full_name)
    user = User.objects.create_user(email=email, password=password, full_name=full_name.strip())
    return create_organization(user=user, name=organization_name, base_currency=base_currency, buys=buys, sells=sells)


@transaction.atomic
def sign_up_user(*, email: str, password: str, full_name: str) -> User:
    """A new person without an organization (they are joining one through an invitation)."""
    email = _check_new_user(email=email, password=password, full_name=full_name)
    return User.objects.create_user(email=email, password=password, full_name=full_name.strip())


ORGANIZATION_FIELDS = (
    "name",
    "base_currency",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "region",
    "country",
    "notification_email",
    "buys",
    "sells",
)


@transaction.atomic
def update_organization(*, by: Membership, **changes) -> Organization:
    require(by, "accounts.change_organization")
    org = Organization.objects.select_for_update().get(pk=by.organization_id)
    unknown = set(changes) - set(ORGANIZATION_FIELDS)
    if unknown:
        raise DomainError(f"These cannot be changed here: {', '.join(sorted(unknown))}.")
    for field, value in changes.items():
        setattr(org, field, value)
    if not org.name.strip():
        raise DomainError("Give the organization a name.", field="name")
    _check_capabilities(buys=org.buys, sells=org.sells)
    _check_currency(org.base_currency)
    if not org.buys and Connection.objects.filter(customer=org, status=Connection.Status.ACTIVE).exists():
        raise DomainError(
            "You buy from connected suppliers: suspend those connections before you stop buying.",
            field="buys",
        )
    if not org.sells and Connection.objects.filter(supplier=org, status=Connection.Status.ACTIVE).exists():
        raise DomainError(
            "Customers are connected to you as a supplier: suspend those connections before you stop selling.",
            field="sells",
        )
    org.save()
    by.organization = org
    return org


# ------------------------------------------------------------------------------- tolerances


def _clean_tolerances(values: dict) -> dict[str, Decimal]:
    """The five figures of a tolerance policy, each checked; DomainError names the field."""
    unknown = set(values) - set(Tolerances.FIELDS)
    if unknown:
        raise DomainError(f"Unknown tolerances: {', '.join(sorted(unknown))}.")
    cleaned = {}
    for field in Tolerances.FIELDS:
        value = values.get(field, Decimal("0.10") if field == "billed_band" else Decimal("0"))
        percent = field.endswith("_percent")
        if (
            not isinstance(value, Decimal)
            or not value.is_finite()
            or value < 0
            or (percent and value > 100)
            or decimal_places(value) > (2 if percent else 3)
        ):
            message = (
                "A percentage from 0 to 100, with at most 2 decimals."
                if percent
                else "An amount of 0 or more, with at most 3 decimals."
            )
            raise DomainError(message, field=field)
        if not percent and value >= Decimal("1000000"):
            raise DomainError("Less than 1,000,000, please.", field=field)
        cleaned[field] = value
    return cleaned


@transaction.atomic
def update_tolerance_policy(*, by: Membership, **values) -> TolerancePolicy:
    """The organization's tolerances (SPEC §6), one policy each; admins only."""
    require(by, "accounts.change_organization")
    cleaned = _clean_tolerances(values)
    policy, _ = TolerancePolicy.objects.select_for_update().get_or_create(organization_id=by.organization_id)
    for field, value in cleaned.items():
        setattr(policy, field, value)
    policy.updated_by = by.user
    policy.save()
    return policy


@transaction.atomic
def set_supplier_tolerance(*, by: Membership, supplier: Organization, reason: str, **values) -> SupplierTolerance:
    """Override the policy for one connected supplier. A reason is required; the override that
    was in force (if any) is ended, not changed, so the record of every override remains."""
    require(by, "accounts.change_organization")
    cleaned = _clean_tolerances(values)
    if not (reason or "").strip():
        raise DomainError("Say why this supplier gets other tolerances.", field="reason")
    reason = clean_text(reason, "reason", limit=1000)  # plain text, like every text typed by a person
    if not Connection.objects.filter(customer_id=by.organization_id, supplier=supplier).exists():
        raise DomainError("Choose one of your suppliers.", field="supplier")
    Organization.objects.select_for_update().get(pk=by.organization_id)  # one change at a time
    now = timezone.now()
    SupplierTolerance.objects.filter(
        organization_id=by.organization_id, supplier=supplier, ended_at__isnull=True
    ).update(ended_at=now, ended_by=by.user)
    return SupplierTolerance.objects.create(
        organization_id=by.organization_id, supplier=supplier, reason=reason, set_by=by.user, set_at=now, **cleaned
    )


@transaction.atomic
def end_supplier_tolerance(*, by: Membership, override: SupplierTolerance) -> SupplierTolerance:
    """The supplier goes back to the organization's policy; the override stays on record."""
    require(by, "accounts.change_organization")
    override = SupplierTolerance.objects.select_for_update().get(pk=override.pk, organization_id=by.organization_id)
    if override.ended_at is not None:
        raise DomainError("This override has ended already.")
    override.ended_at = timezone.now()
    override.ended_by = by.user
    override.save(update_fields=["ended_at", "ended_by"])
    return override


def next_document_number(*, organization: Organization, kind: str) -> str:
    """The next number of a kind of document, e.g. ``PO-000042``.

    Unique per organization under concurrency: the UPDATE takes the row lock until the
    caller's transaction ends, so two transactions can never read the same value. Numbers
    are never reused; a rolled-back transaction may leave a gap.
    """
    prefix = {
        DocumentSequence.Kind.PURCHASE_ORDER: organization.po_prefix,
        DocumentSequence.Kind.SALES_ORDER: organization.so_prefix,
        DocumentSequence.Kind.INVOICE: organization.invoice_prefix,
        DocumentSequence.Kind.BILL: organization.bill_prefix,
        DocumentSequence.Kind.RMA: organization.rma_prefix,
        DocumentSequence.Kind.CREDIT_NOTE: organization.credit_note_prefix,
        DocumentSequence.Kind.DEBIT_NOTE: organization.debit_note_prefix,
    }[DocumentSequence.Kind(kind)]
    with transaction.atomic():
        updated = DocumentSequence.objects.filter(organization=organization, kind=kind).update(
            last_value=F("last_value") + 1
        )
        if not updated:  # an organization created before its sequences existed
            try:
                with transaction.atomic():
                    DocumentSequence.objects.create(organization=organization, kind=kind, last_value=1)
            except IntegrityError:
                DocumentSequence.objects.filter(organization=organization, kind=kind).update(
                    last_value=F("last_value") + 1
                )
        value = DocumentSequence.objects.get(organization=organization, kind=kind).last_value
    return f"{prefix}-{value:06d}"


# ---------------------------------------------------------------------------------- members


def clean_roles(organization: Organization, roles: list[str]) -> list[str]:
    """Known roles only, in table order, and none the organization has no use for."""
    chosen = [r for r in Role.values if r in set(roles)]
    unknown = set(roles) - set(Role.values)
    if unknown:
        raise DomainError(f"Unknown role: {', '.join(sorted(unknown))}.", field="roles")
    if not chosen:
        raise DomainError("Choose at least one role.", field="roles")
    if not organization.buys and BUYING_ROLES & set(chosen):
        raise DomainError(f"{organization.name} does not buy: buying roles do not apply.", field="roles")
    if not organization.sells and SELLING_ROLES & set(chosen):
        raise DomainError(f"{organization.name} does not sell: selling roles do not apply.", field="roles")
    return chosen


@transaction.atomic
def invite_member(*, by: Membership, email: str, roles: list[str]) -> MemberInvitation:
    require(by, "accounts.manage_members")
    org = by.organization
    email = email.strip().lower()
    roles = clean_roles(org, roles)
    if Membership.objects.filter(organization=org, user__email__iexact=email).exists():
        raise DomainError(f"{email} is a member of {org.name} already.", field="email")
    if MemberInvitation.objects.filter(
        organization=org, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).exists():
        raise DomainError(f"{email} has an open invitation already: withdraw it to send a new one.", field="email")
    token = new_token()
    invitation = MemberInvitation.objects.create(
        organization=org,
        email=email,
        roles=roles,
        token_hash=hash_token(token),
        invited_by=by.user,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    queue_email(
        key=f"member-invitation:{invitation.pk}",
        to=[email],
        template="member_invitation",
        organization=org,
        context={
            "invitation": invitation,
            "organization": org,
            "inviter": by.user,
            "url": absolute_url(reverse("accounts:member-invitation", kwargs={"token": token})),
        },
    )
    return invitation


@transaction.atomic
def revoke_member_invitation(*, by: Membership, invitation: MemberInvitation) -> MemberInvitation:
    require(by, "accounts.manage_members")
    invitation = MemberInvitation.objects.select_for_update().get(pk=invitation.pk, organization=by.organization)
    if invitation.status != "open":
        raise DomainError(f"This invitation is {invitation.status}; only an open one can be withdrawn.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    return invitation


def _entitled(obj: MemberInvitation | Connection, email: str, user: User, token: str) -> bool:
    """Whoever holds the link (it went to the invited address), or that address's owner."""
    return (bool(token) and hash_token(token) == obj.token_hash) or user.email.lower() == email.lower()


@transaction.atomic
def accept_member_invitation(*, invitation: MemberInvitation, user: User) -> Membership:
    invitation = MemberInvitation.objects.select_for_update().select_related("organization").get(pk=invitation.pk)
    if invitation.status != "open":
        raise DomainError(f"This invitation is {invitation.status}. Ask {invitation.organization.name} for a new one.")
    if invitation.email.lower() != user.email.lower():
        raise DomainError(
            f"This invitation is for {invitation.email}; you are logged in as {user.email}. "
            "Log in with the invited address to accept it."
        )
    membership, created = Membership.objects.get_or_create(
        user=user, organization=invitation.organization, defaults={"roles": invitation.roles}
    )
    if not created:
        membership.roles = [r for r in Role.values if r in set(membership.roles) | set(invitation.roles)]
        membership.save(update_fields=["roles"])
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


def _other_admins_exist(membership: Membership) -> bool:
    others = Membership.objects.filter(organization_id=membership.organization_id).exclude(pk=membership.pk)
    return any(Role.ADMIN in m.roles for m in others)


@transaction.atomic
def change_member_roles(*, by: Membership, member: Membership, roles: list[str]) -> Membership:
    require(by, "accounts.manage_members")
    # Lock every membership of the organization: two admins demoting each other at once
    # must not leave the organization without an admin.
    list(Membership.objects.select_for_update().filter(organization=by.organization))
    member = Membership.objects.get(pk=member.pk, organization=by.organization)
    roles = clean_roles(by.organization, roles)
    if Role.ADMIN in member.roles and Role.ADMIN not in roles and not _other_admins_exist(member):
        raise DomainError(
            f"{member.user} is the only admin of {by.organization.name}: make someone else admin first.",
            field="roles",
        )
    member.roles = roles
    member.save(update_fields=["roles"])
    return member


@transaction.atomic
def remove_member(*, by: Membership, member: Membership) -> None:
    require(by, "accounts.manage_members")
    list(Membership.objects.select_for_update().filter(organization=by.organization))
    member = Membership.objects.get(pk=member.pk, organization=by.organization)
    if Role.ADMIN in member.roles and not _other_admins_exist(member):
        raise DomainError(f"{member.user} is the only admin of {by.organization.name}: make someone else admin first.")
    member.delete()


# -------------------------------------------------------------------------------- locations

LOCATION_FIELDS = (
    "name",
    "address_line1",
    "address_line2",
    "city",
    "postal_code",
    "region",
    "country",
    "is_default",
)


@transaction.atomic
def save_location(*, by: Membership, location: Location | None = None, **fields) -> Location:
    require(by, "accounts.change_organization")
    org = by.organization
    if location is None:
        location = Location(organization=org)
    else:
        location = Location.objects.select_for_update().get(pk=location.pk, organization=org)
    for field in LOCATION_FIELDS:
        if field in fields:
            setattr(location, field, fields[field])
    for field in ("name", "address_line1", "city", "country"):
        if not str(getattr(location, field)).strip():
            raise DomainError("This field is required.", field=field)
    if Location.objects.filter(organization=org, name__iexact=location.name).exclude(pk=location.pk).exists():
        raise DomainError("Another location has this name.", field="name")
    if not Location.objects.filter(organization=org).exclude(pk=location.pk).exists():
        location.is_default = True  # the first location is the default one
    if location.is_default:
        Location.objects.filter(organization=org, is_default=True).exclude(pk=location.pk).update(is_default=False)
    location.save()
    return location


# ------------------------------------------------------------------------------ connections


def _record(connection: Connection, kind: str, by: Membership | None, detail: str = "", user: User | None = None):
    require_atomic()
    ConnectionEvent.objects.create(
        connection=connection,
        kind=kind,
        actor=by.user if by else user,
        organization=by.organization if by else None,
        detail=detail,
    )


def _check_terms(customer: Organization, currency: str, payment_terms_days: int | None, ship_to: Location | None):
    if currency:
        _check_currency(currency, field="currency")
    if payment_terms_days is None or not 0 <= payment_terms_days <= 365:
        raise DomainError("Payment terms are a number of days from 0 to 365.", field="payment_terms_days")
    if ship_to is not None and ship_to.organization_id != customer.pk:
        raise DomainError("Choose one of your own locations.", field="ship_to")


@transaction.atomic
def invite_supplier(
    *,
    by: Membership,
    email: str,
    currency: str = "",
    payment_terms_days: int = 30,
    ship_to: Location | None = None,
    message: str = "",
) -> Connection:
    """A customer invites a supplier by e-mail; the supplier accepts for an organization
    it administers, or signs up through the link."""
    require(by, "accounts.manage_connections")
    customer = by.organization
    if not customer.buys:
        raise DomainError(f"{customer.name} does not buy: turn on buying to connect to suppliers.")
    email = email.strip().lower()
    if not email:
        raise DomainError("Enter the supplier's e-mail address.", field="email")
    _check_terms(customer, currency, payment_terms_days, ship_to)
    if ship_to is None:
        ship_to = Location.objects.filter(organization=customer, is_default=True).first()
    if Connection.objects.filter(
        customer=customer, invite_email__iexact=email, status=Connection.Status.INVITED
    ).exists():
        raise DomainError(f"{email} has an open invitation from you already.", field="email")
    theirs = Membership.objects.filter(user__email__iexact=email).select_related("organization")
    if any(m.organization_id == customer.pk for m in theirs):
        raise DomainError(f"{email} is one of your members: invite someone at the supplier.", field="email")
    connected = {c.supplier_id for c in Connection.objects.filter(customer=customer, supplier__isnull=False)}
    selling = [m.organization for m in theirs if m.organization.sells]
    if selling and all(org.pk in connected for org in selling):
        names = ", ".join(org.name for org in selling)
        raise DomainError(f"{email} works at {names}, connected to you already.", field="email")
    token = new_token()
    connection = Connection.objects.create(
        customer=customer,
        invite_email=email,
        invite_message=message.strip(),
        token_hash=hash_token(token),
        invited_by=by.user,
        currency=currency,
        payment_terms_days=payment_terms_days,
        ship_to=ship_to,
    )
    _record(connection, ConnectionEvent.Kind.INVITED, by, f"Invitation sent to {email}.")
    queue_email(
        key=f"connection-invitation:{connection.pk}",
        to=[email],
        template="connection_invitation",
        organization=customer,
        context={
            "connection": connection,
            "customer": customer,
            "inviter": by.user,
            "url": absolute_url(reverse("accounts:connection-invitation", kwargs={"token": token})),
        },
    )
    return connection


@transaction.atomic
def accept_connection(*, connection: Connection, by: Membership, token: str = "") -> Connection:
    """The supplier's admin accepts the invitation for the organization ``by`` acts for."""
    require(by, "accounts.manage_connections")
    connection = Connection.objects.select_for_update().select_related("customer").get(pk=connection.pk)
    if not _entitled(connection, connection.invite_email, by.user, token):
        raise DomainError("This invitation was sent to another address: open the link in that e-mail.")
    supplier = by.organization
    if connection.status != Connection.Status.INVITED:
        raise DomainError(f"This invitation is {connection.get_status_display().lower()} already.")
    if connection.customer_id == supplier.pk:
        raise DomainError("An organization cannot be its own supplier: choose another organization.")
    if not supplier.sells:
        raise DomainError(
            f"{supplier.name} does not sell. Turn on selling in its settings, then accept.",
            field="organization",
        )
    if Connection.objects.filter(customer_id=connection.customer_id, supplier=supplier).exists():
        raise DomainError(f"{supplier.name} is connected to {connection.customer.name} already.")
    transition(connection, "accept", "accepted", noun="This connection", supplier=supplier)
    connection.save()
    _record(connection, ConnectionEvent.Kind.ACCEPTED, by, f"Accepted for {supplier.name}.")
    _notify_customer(connection, "connection_accepted", by)
    return connection


@transaction.atomic
def decline_connection(*, connection: Connection, user: User, token: str = "", reason: str = "") -> Connection:
    connection = Connection.objects.select_for_update().select_related("customer").get(pk=connection.pk)
    if not _entitled(connection, connection.invite_email, user, token):
        raise DomainError("This invitation was sent to another address: open the link in that e-mail.")
    transition(connection, "decline", "declined", noun="This connection")
    connection.save()
    detail = f"Declined by {user.email}." + (f" {reason.strip()}" if reason.strip() else "")
    _record(connection, ConnectionEvent.Kind.DECLINED, None, detail, user=user)
    _notify_customer(connection, "connection_declined", None, user=user, reason=reason.strip())
    return connection


def _lock(connection: Connection, organization: Organization) -> Connection:
    """Re-read a connection under the lock, only if ``organization`` is a party to it."""
    require_atomic()
    from .selectors import connections_for

    return connections_for(organization).select_for_update(of=("self",)).get(pk=connection.pk)


@transaction.atomic
def revoke_connection_invitation(*, by: Membership, connection: Connection) -> Connection:
    require(by, "accounts.manage_connections")
    connection = _lock(connection, by.organization)
    if connection.customer_id != by.organization_id:
        raise DomainError("Only the customer who sent the invitation can withdraw it.")
    transition(connection, "revoke", "revoked", noun="This connection")
    connection.save()
    _record(connection, ConnectionEvent.Kind.REVOKED, by)
    return connection


@transaction.atomic
def suspend_connection(*, by: Membership, connection: Connection, reason: str = "") -> Connection:
    require(by, "accounts.manage_connections")
    connection = _lock(connection, by.organization)
    transition(connection, "suspend", "suspended", noun="This connection", by_organization=by.organization)
    connection.save()
    _record(connection, ConnectionEvent.Kind.SUSPENDED, by, reason.strip())
    _notify_counterparty(connection, by, "connection_suspended", reason=reason.strip())
    return connection


@transaction.atomic
def reactivate_connection(*, by: Membership, connection: Connection) -> Connection:
    require(by, "accounts.manage_connections")
    connection = _lock(connection, by.organization)
    if connection.status == Connection.Status.SUSPENDED and connection.suspended_by_id != by.organization_id:
        other = connection.counterparty(by.organization)
        raise DomainError(f"{other.name} suspended this connection; only they can reactivate it.")
    transition(connection, "reactivate", "reactivated", noun="This connection")
    connection.save()
    _record(connection, ConnectionEvent.Kind.REACTIVATED, by)
    _notify_counterparty(connection, by, "connection_reactivated")
    return connection


@transaction.atomic
def update_connection_terms(
    *,
    by: Membership,
    connection: Connection,
    currency: str,
    payment_terms_days: int,
    ship_to: Location | None,
) -> Connection:
    """The customer's terms for a supplier: currency, payment terms, default ship-to."""
    require(by, "accounts.manage_connections")
    connection = _lock(connection, by.organization)
    if connection.customer_id != by.organization_id:
        raise DomainError("The terms are the customer's: only they can change them.")
    if connection.status in (Connection.Status.DECLINED, Connection.Status.REVOKED):
        raise DomainError("This invitation is closed; its terms cannot change.")
    _check_terms(by.organization, currency, payment_terms_days, ship_to)
    if not currency and connection.supplier:
        currency = connection.supplier.base_currency
    before = _terms_text(connection)
    connection.currency = currency
    connection.payment_terms_days = payment_terms_days
    connection.ship_to = ship_to
    after = _terms_text(connection)
    if before == after:
        return connection
    connection.save()
    _record(connection, ConnectionEvent.Kind.TERMS_CHANGED, by, f"{before} → {after}")
    return connection


def _terms_text(connection: Connection) -> str:
    ship_to = connection.ship_to.name if connection.ship_to else "no default ship-to"
    currency = connection.currency or "supplier's currency"
    return f"{currency}, net {connection.payment_terms_days} days, {ship_to}"


# ---------------------------------------------------------------------------- notifications


def _admin_emails(organization: Organization) -> list[str]:
    emails = [m.user.email for m in organization.memberships.select_related("user") if Role.ADMIN in m.roles]
    if organization.notification_email:
        emails.append(organization.notification_email)
    return emails


def _notify_customer(
    connection: Connection, template: str, by: Membership | None, user: User | None = None, reason: str = ""
):
    customer = connection.customer
    queue_email(
        key=f"{template}:{connection.pk}",
        to=_admin_emails(customer),
        template=template,
        organization=customer,
        context={
            "connection": connection,
            "actor": by.user if by else user,
            "supplier": connection.supplier,
            "reason": reason,
            "url": absolute_url(
                reverse("accounts:connection-detail", kwargs={"org_slug": customer.slug, "pk": connection.pk})
            ),
        },
    )


def _notify_counterparty(connection: Connection, by: Membership, template: str, reason: str = ""):
    other = connection.counterparty(by.organization)
    if other is None:
        return
    event_id = connection.events.values_list("pk", flat=True).first()
    queue_email(
        key=f"{template}:{connection.pk}:{event_id}",
        to=_admin_emails(other),
        template=template,
        organization=other,
        context={
            "connection": connection,
            "actor": by.user,
            "actor_organization": by.organization,
            "reason": reason,
            "url": absolute_url(
                reverse("accounts:connection-detail", kwargs={"org_slug": other.slug, "pk": connection.pk})
            ),
        },
    )
