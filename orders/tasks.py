"""Periodic work of the orders app (Celery beat)."""

from celery import shared_task
from django.utils import timezone

from .models import PurchaseOrder
from .services import expire_purchase_order


@shared_task
def expire_purchase_orders() -> int:
    """Expire the sent orders whose *valid until* date has passed, each in its own transaction."""
    due = PurchaseOrder.objects.filter(
        status=PurchaseOrder.Status.SENT, valid_until__lt=timezone.localdate()
    ).values_list("pk", flat=True)
    return sum(expire_purchase_order(po=PurchaseOrder(pk=pk)) is not None for pk in list(due[:1000]))
