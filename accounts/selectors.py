"""Every tenant-scoped read of the accounts app. "Missing" and "not yours" are one 404."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import reduce

from django.db.models import Case, Q, QuerySet, Subquery, Value, When
from django.http import Http404
from django.utils import timezone

from procurement.figures import Gathered
from procurement.money import inverse_rate

from .models import (
    Connection,
    EmailSuppression,
    ExchangeRate,
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


# ---------------------------------------------------------------------------- exchange rates


def rates_between(organization, currency: str, base_currency: str) -> QuerySet[ExchangeRate]:
    """The organization's rates of the pair, both ways, the direct ones marked (``direct`` 1)."""
    organization_id = getattr(organization, "pk", organization)
    return (
        ExchangeRate.objects.filter(organization_id=organization_id)
        .filter(
            Q(from_currency=currency, to_currency=base_currency) | Q(from_currency=base_currency, to_currency=currency)
        )
        .annotate(direct=Case(When(from_currency=currency, then=Value(1)), default=Value(0)))
    )


@dataclass(frozen=True)
class Rate:
    """A row of the table read for a currency: its day, its rate, and whether it is of the pair
    itself (``direct``) or of the opposite pair (then inverted)."""

    day: date
    rate: Decimal
    direct: bool = True

    @property
    def value(self) -> Decimal:
        """Units of the base currency per unit of the currency as money is converted: for the
        opposite pair 1/rate unrounded (rounding first would move large amounts by minor units)."""
        return self.rate if self.direct else Decimal(1) / self.rate

    @property
    def shown(self) -> Decimal:
        """To the table's 8 places, as it is shown and recorded (and approvals measure)."""
        return self.rate if self.direct else inverse_rate(self.rate)


def exchange_rate(*, organization, currency: str, base_currency: str, on: date) -> Decimal | None:
    """Units of ``base_currency`` per unit of ``currency`` on ``on`` in the organization's table:
    the latest rate dated on or before ``on``, of the pair itself or the inverse (1/rate, 8
    places, half-up) of the opposite pair; the latest day wins, on one day the direct rate wins;
    None when there is none. 1 for the same currency. One query."""
    if currency == base_currency:
        return Decimal("1")
    best = (
        rates_between(organization, currency, base_currency)
        .filter(day__lte=on)
        .order_by("-day", "-direct")
        .values_list("day", "rate", "direct")
        .first()
    )
    return None if best is None else Rate(best[0], best[1], bool(best[2])).shown


def exchange_rates(
    *, organization, currency: str, base_currency: str, days: Iterable[date]
) -> dict[date, Decimal | None]:
    """``exchange_rate`` for each of ``days``, in one query whatever their number: the rows that
    are the best for some day are read, and each day takes the best of those on or before it
    (the best row of the whole table for that day is among them)."""
    rates = rates_with_days(organization=organization, currency=currency, base_currency=base_currency, days=days)
    return {day: None if rate is None else rate.shown for day, rate in rates.items()}


def rates_with_days(
    *, organization, currency: str, base_currency: str, days: Iterable[date]
) -> dict[date, Rate | None]:
    """Like ``exchange_rates``, as ``Rate``s: with the day each is of, at full precision (FX)."""
    days = set(days)
    if not days or currency == base_currency:
        return {day: Rate(day, Decimal("1")) for day in days}
    pairs = rates_between(organization, currency, base_currency)
    queries = [pairs.filter(day__lte=day).order_by("-day", "-direct").values("pk")[:1] for day in sorted(days)]
    rows = list(
        pairs.filter(reduce(operator.or_, (Q(pk=Subquery(query)) for query in queries))).values_list(
            "day", "direct", "rate"
        )
    )
    best = {}
    for day in days:
        on_or_before = [row for row in rows if row[0] <= day]
        if on_or_before:
            row_day, direct, rate = max(on_or_before, key=lambda row: (row[0], row[1]))
            best[day] = Rate(row_day, rate, bool(direct))
        else:
            best[day] = None
    return best


def rate_to_base(currency: str, base_currency: str, on: date, *, organization) -> Decimal | None:
    """Units of ``base_currency`` per unit of ``currency`` on the day ``on`` in the
    organization's rate table (``exchange_rate``: the latest on or before
    ``on``, direct or inverse); 1 for the same currency; None when no rate is known — callers
    treat None as "cannot be measured", never as zero."""
    if currency == base_currency:
        return Decimal("1")
    return exchange_rate(organization=organization, currency=currency, base_currency=base_currency, on=on)


def gather_in_base(*, organization, into: Gathered, rows: Iterable[tuple]) -> Gathered:
    """Add ``rows`` — ``(key, currency, day, amount, count)``: ``count`` documents in ``currency``
    dated ``day`` adding up to ``amount`` — to ``into`` in its (the organization's base) currency,
    each at the rate of its day (``exchange_rate``'s rule); those of a day without a rate are
    counted as not converted, never as zero. One query per foreign currency, whatever the rows."""
    rows = list(rows)
    days_of: dict[str, set[date]] = {}
    for _, currency, day, _, _ in rows:
        if currency != into.currency:
            days_of.setdefault(currency, set()).add(day)
    rates = {
        currency: rates_with_days(organization=organization, currency=currency, base_currency=into.currency, days=days)
        for currency, days in sorted(days_of.items())
    }
    for key, currency, day, amount, count in rows:
        if currency == into.currency:
            into.add(key, amount)
            continue
        rate = rates[currency][day]
        if rate is None:
            into.miss(currency, count)
        else:
            into.add(key, amount * rate.shown)
    return into
