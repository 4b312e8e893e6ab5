"""The customer's accounting lists that order lines are coded with."""

from __future__ import annotations

from django.db import models

from accounts.models import Organization


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
