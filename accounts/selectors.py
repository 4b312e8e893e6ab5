"""Every tenant-scoped read of the accounts app. "Missing" and "not yours" are one 404."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from .models import (
    Connection,
    EmailSuppression,
    Location,
    MemberInvitation,
    Membership,
    Organization,
    SupplierTolerance,
    TolerancePolicy,
    Tolerances,
    User,
    hash_token,
)


def memberships_of(user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("organization").order_by("organization__name")


def membership_for(*, user: User, org_slug: str) -> Membership:
    """The user's membership in the organization of the URL, or 404 (also for non-members)."""
    membership = (
        Membership.objects.select_related("organization", "user").filter(user=user, organization__slug=org_slug).first()
    )
    if membership is None:
        raise Http404("No such organization.")
    return membership


def members_of(organization: Organization) -> QuerySet[Membership]:
    return Membership.objects.filter(organization=organization).select_related("user").order_by("user__full_name")


def member_for(*, organization: Organization, pk: int) -> Membership:
    member = members_of(organization).filter(pk=pk).first()
    if member is None:
        raise Http404("No such member.")
    return member


def open_invitations_of(organization: Organization) -> QuerySet[MemberInvitation]:
    return MemberInvitation.objects.filter(
        organization=organization, accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("invited_by")


def member_invitation_for(*, organization: Organization, pk: int) -> MemberInvitation:
    invitation = MemberInvitation.objects.filter(organization=organization, pk=pk).first()
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


def locations_of(organization: Organization) -> QuerySet[Location]:
    return Location.objects.filter(organization=organization)


def location_for(*, organization: Organization, pk: int) -> Location:
    location = locations_of(organization).filter(pk=pk).first()
    if location is None:
        raise Http404("No such location.")
    return location


def connections_for(organization: Organization) -> QuerySet[Connection]:
    """Connections in which the organization is the customer or the supplier."""
    return Connection.objects.filter(Q(customer=organization) | Q(supplier=organization)).select_related(
        "customer", "supplier", "ship_to", "suspended_by"
    )


def connection_for(*, organization: Organization, pk: int) -> Connection:
    connection = connections_for(organization).filter(pk=pk).first()
    if connection is None:
        raise Http404("No such connection.")
    return connection


def suppliers_of(customer: Organization) -> QuerySet[Connection]:
    return connections_for(customer).filter(customer=customer)


def connected_supplier(*, customer: Organization, supplier_id: int) -> Organization:
    """A supplier the customer is (or was) connected to, or 404."""
    connection = suppliers_of(customer).filter(supplier_id=supplier_id).select_related("supplier").first()
    if connection is None:
        raise Http404("No such supplier.")
    return connection.supplier


def customers_of(supplier: Organization) -> QuerySet[Connection]:
    return connections_for(supplier).filter(supplier=supplier)


def active_customers_of(supplier: Organization) -> QuerySet[Organization]:
    return Organization.objects.filter(
        supplier_connections__supplier=supplier, supplier_connections__status=Connection.Status.ACTIVE
    ).order_by("name")


def invitations_waiting_for(user: User) -> dict[str, list]:
    """What the person's e-mail address has been invited to, for their inbox."""
    connections = list(
        Connection.objects.filter(invite_email__iexact=user.email, status=Connection.Status.INVITED)
        .select_related("customer")
        .order_by("-invited_at")
    )
    members = list(
        MemberInvitation.objects.filter(
            email__iexact=user.email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        ).select_related("organization")
    )
    return {"connections": connections, "members": members, "count": len(connections) + len(members)}


def connection_invitation_for(*, user: User | None, token: str = "", pk: int | None = None) -> Connection:
    """An invitation to connect, by the secret link, or by id for the invited address."""
    found = Connection.objects.select_related("customer", "invited_by", "supplier")
    if token:
        connection = found.filter(token_hash=hash_token(token)).first()
    elif user is not None and user.is_authenticated:
        connection = found.filter(pk=pk, invite_email__iexact=user.email).first()
    else:
        connection = None
    if connection is None:
        raise Http404("No such invitation.")
    return connection


def member_invitation_by(*, user: User | None, token: str = "", pk: int | None = None) -> MemberInvitation:
    """An invitation to join, by the secret link, or by id for the invited address."""
    found = MemberInvitation.objects.select_related("organization", "invited_by")
    if token:
        invitation = found.filter(token_hash=hash_token(token)).first()
    elif user is not None and user.is_authenticated:
        invitation = found.filter(pk=pk, email__iexact=user.email).first()
    else:
        invitation = None
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


def tolerances_for(*, customer_id: int, supplier_id: int | None = None) -> Tolerances:
    """The tolerances a customer applies to a supplier: the supplier's current override, else
    the organization's policy, else the defaults (0 %, a 0.10 band for billed)."""
    if supplier_id is not None:
        override = SupplierTolerance.objects.filter(
            organization_id=customer_id, supplier_id=supplier_id, ended_at__isnull=True
        ).first()
        if override is not None:
            return override
    policy = TolerancePolicy.objects.filter(organization_id=customer_id).first()
    return policy or TolerancePolicy(organization_id=customer_id)


def supplier_tolerances_of(organization: Organization) -> QuerySet[SupplierTolerance]:
    """Every override, current and ended, newest first per supplier (the record)."""
    return SupplierTolerance.objects.filter(organization=organization).select_related("supplier", "set_by", "ended_by")


def supplier_tolerance_for(*, organization: Organization, pk: int) -> SupplierTolerance:
    override = SupplierTolerance.objects.filter(organization=organization, pk=pk).first()
    if override is None:
        raise Http404("No such override.")
    return override


def email_suppressions_for(addresses: list[str]) -> dict[str, EmailSuppression]:
    """The suppressions (bounced, complained) of ``addresses``, by lower-case address."""
    wanted = {address.strip().lower() for address in addresses if address}
    if not wanted:
        return {}
    return {s.address: s for s in EmailSuppression.objects.filter(address__in=wanted)}
