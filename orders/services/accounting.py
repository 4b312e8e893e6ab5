"""The organization's accounting codes (cost centers and GL accounts)."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Membership
from accounts.permissions import require
from procurement.errors import DomainError
from procurement.validators import clean_text

from ..models import CostCenter, GLAccount

ACCOUNTING_MODELS = {"cost-centers": CostCenter, "gl-accounts": GLAccount}


@transaction.atomic
def save_accounting_code(*, by: Membership, kind: str, code: str, name: str) -> CostCenter | GLAccount:
    """A cost center or GL account of the organization (the lists order lines are coded with)."""
    require(by, "accounts.change_organization")
    model = ACCOUNTING_MODELS[kind]
    code = clean_text(code, "code", required=True, limit=30)
    name = clean_text(name, "name", required=True, limit=120)
    if model.objects.filter(organization=by.organization, code__iexact=code).exists():
        raise DomainError(f"You have a {model._meta.verbose_name} with code “{code}” already.", field="code")
    return model.objects.create(organization=by.organization, code=code, name=name)


@transaction.atomic
def set_accounting_code_active(*, by: Membership, obj: CostCenter | GLAccount, active: bool) -> None:
    """Deactivated codes stay on the lines that use them but cannot be chosen any more."""
    require(by, "accounts.change_organization")
    type(obj).objects.filter(pk=obj.pk, organization=by.organization).update(is_active=active)
