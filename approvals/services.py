"""The approvals app's answer to the order services. Policies, limits and budgets arrive with
the approvals issue; until then no purchase order needs approval, so submission releases it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orders.models import PurchaseOrder


def approval_required(po: PurchaseOrder) -> bool:
    """Whether submitting ``po`` starts an approval instead of sending it to the supplier."""
    return False


def reapproval_required(po: PurchaseOrder) -> bool:
    """Whether the supplier-accepted ``po`` must be approved again before it is confirmed."""
    return False
