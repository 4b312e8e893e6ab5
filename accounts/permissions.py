"""One check for every right a role grants, in the active organization (SPEC §2).

Rights that belong to one object (the approvers of one request, the requester of one draft)
are django-guardian object permissions, checked where those objects are served."""

from __future__ import annotations

from procurement.errors import NotAllowed

from .models import Membership
from .roles import PERMISSIONS


def can(membership: Membership | None, permission: str) -> bool:
    """True when the member's roles grant ``permission`` in their organization, and the
    organization has the capability (buying or selling) the permission is about."""
    if membership is None:
        return False
    return membership.may(permission)


def require(membership: Membership, permission: str) -> None:
    """Raise NotAllowed, with a reason a person can read, unless ``can`` allows it."""
    refusal = membership.capability_refusal(permission)
    if refusal:
        raise NotAllowed(refusal)
    if not can(membership, permission):
        roles = ", ".join(sorted(r.label.lower() for r in PERMISSIONS[permission]))
        raise NotAllowed(f"Your role in {membership.organization.name} does not allow this (it needs: {roles}).")
