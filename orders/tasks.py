"""Background work of the orders app: listing imports, and periodic work (Celery beat)."""

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from . import listing_csv
from .models import ListingImport, PurchaseOrder
from .services.submission import expire_purchase_order

log = logging.getLogger(__name__)


@shared_task
def expire_purchase_orders() -> int:
    """Expire the sent orders whose *valid until* date has passed, each in its own transaction."""
    due = PurchaseOrder.objects.filter(
        status=PurchaseOrder.Status.SENT, valid_until__lt=timezone.localdate()
    ).values_list("pk", flat=True)
    return sum(expire_purchase_order(po=PurchaseOrder(pk=pk)) is not None for pk in list(due[:1000]))


@shared_task(acks_late=True, reject_on_worker_lost=True)  # a worker killed mid-import leaves it queued
def import_listings(import_id: int) -> str:
    """Import an uploaded listings file (``orders.listing_csv.run_listing_import``). Idempotent:
    a retry or a second delivery of a finished import does nothing."""
    try:
        job = listing_csv.run_listing_import(pk=import_id)
    except Exception:  # whatever broke, its transaction rolled back: say so on the import's page
        log.exception("listing import %s broke off", import_id)
        job = listing_csv.fail_listing_import(
            pk=import_id, message="The import stopped on an error of Tandem's; nothing was imported. Try again."
        )
    if job is None:
        return "nothing to do"
    if job.status == job.Status.DONE:
        unchanged = f", {job.listings_unchanged} unchanged" if job.listings_unchanged else ""
        return f"done: {job.listings_created} new, {job.listings_updated} updated{unchanged}"
    count = len(job.errors)
    return f"failed: {count} problem{'s' if count != 1 else ''}"


# Longer than the largest import runs (20,000 rows: well under a minute) and than the broker's
# visibility timeout, after which a killed worker's task is handed out again anyway.
STALLED_AFTER = timedelta(hours=1, minutes=5)


@shared_task
def resume_listing_imports() -> int:
    """Beat: queue again the imports still waiting a while after their upload — their task never
    reached the broker (it was down) — and those *running* for longer than any import takes —
    their task ended without finishing them (the database went away mid-import, the broker lost the
    message). ``import_listings`` starts a running import again and does nothing for a finished one."""
    now = timezone.now()
    waiting = ListingImport.objects.filter(
        Q(status=ListingImport.Status.QUEUED, created_at__lt=now - timedelta(minutes=5))
        | Q(status=ListingImport.Status.RUNNING, started_at__lt=now - STALLED_AFTER)
    )
    ids = list(waiting.order_by("created_at").values_list("pk", flat=True)[:100])
    for import_id in ids:
        import_listings.delay(import_id)
    return len(ids)
