"""One check for every right a role grants, in the active organization (SPEC §2).

Rights that belong to one object (the approvers of one request, the requester of one draft)
are django-guardian object permissions, checked where those objects are served."""

from __future__ import annotations

from procurement.errors import NotAllowed

from .models import Membership
from .roles import CAPABILITY, PERMISSIONS


def capability_refusal(membership: Membership, permission: str) -> str | None:
    org = membership.organization
    capability = CAPABILITY[permission]
    if capability == "buys" and not org.buys:
        return f"{org.name} does not buy: turn on buying in the organization settings first."
    if capability == "sells" and not org.sells:
        return f"{org.name} does not sell: turn on selling in the organization settings first."
    return None


def can(membership: Membership | None, permission: str) -> bool:
    """True when the member's roles grant ``permission`` in their organization, and the
    organization has the capability (buying or selling) the permission is about."""
    if membership is None:
        return False
    if permission not in PERMISSIONS:
        raise LookupError(f"unknown permission {permission!r}: add it to accounts.roles")
    return capability_refusal(membership, permission) is None and membership.has_perm(permission)


def require(membership: Membership, permission: str) -> None:
    """Raise NotAllowed, with a reason a person can read, unless ``can`` allows it."""
    refusal = capability_refusal(membership, permission)
    if refusal:
        raise NotAllowed(refusal)
    if not can(membership, permission):
        roles = ", ".join(sorted(r.label.lower() for r in PERMISSIONS[permission]))
        raise NotAllowed(f"Your role in {membership.organization.name} does not allow this (it needs: {roles}).")
