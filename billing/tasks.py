"""Background work of the billing app."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import DatabaseError
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import Organization
from orders.models import PurchaseOrder, ReturnLine, ReturnRequest

from . import fx
from .models import CreditNote
from .services import credits, documents, payments
from .services.documents import INVOICED


@shared_task(
    acks_late=True,  # the message is acknowledged when the work is done, not when it starts…
    reject_on_worker_lost=True,  # …so a worker killed mid-task leaves it queued for another
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=8,
)
def issue_documents(po_id: int) -> str:
    """Make the invoice and the bill of a confirmed order. Safe to run any number of times:
    the service finds the documents made and writes nothing more."""
    made = documents.issue_documents(po=PurchaseOrder(pk=po_id))
    return "nothing to invoice" if made is None else f"{made[0].number} / {made[1].number}"


@shared_task
def issue_missing_documents() -> int:
    """Beat: queue the documents of orders confirmed a while ago that have none yet (the broker
    was down when they were confirmed, say). Returns how many were queued."""
    ids = list(
        PurchaseOrder.objects.filter(
            status__in=INVOICED, invoice__isnull=True, confirmed_at__lt=timezone.now() - timedelta(minutes=5)
        ).values_list("pk", flat=True)[:500]
    )
    for po_id in ids:
        issue_documents.delay(po_id)
    return len(ids)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    max_retries=8,
)
def issue_credit_notes(return_id: int) -> str:
    """Make the credit note and the debit note of a return for credit that arrived back. Safe to
    run any number of times: the service finds the notes made and writes nothing more."""
    made = credits.issue_credit_notes(return_request=ReturnRequest(pk=return_id))
    return "nothing to credit" if made is None else f"{made[0].number} / {made[1].number}"


@shared_task
def issue_missing_credit_notes() -> int:
    """Beat: queue the notes of returns for credit received back a while ago with something
    credited and no credit note yet (the broker was down when they arrived back, say). Returns
    how many were queued."""
    ids = list(
        ReturnRequest.objects.filter(
            status=ReturnRequest.Status.RECEIVED,
            resolution=ReturnRequest.Resolution.CREDIT,
            received_at__lt=timezone.now() - timedelta(minutes=5),
        )
        .filter(Exists(ReturnLine.objects.filter(return_request=OuterRef("pk"), quantity_credited__gt=0)))
        .exclude(Exists(CreditNote.objects.filter(return_request=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    for return_id in ids:
        issue_credit_notes.delay(return_id)
    return len(ids)


@shared_task
def remind_overdue_bills() -> int:
    """Beat, each morning: payables hear once of each bill that has passed its due date unpaid
    (the outbox key is the bill's and its due date's, so a new due date is reminded again)."""
    return payments.remind_overdue_bills()


@shared_task
def record_missing_fx() -> int:
    """Beat, each night: the FX figures that rates already in the table allow but that no event
    recorded (a payment and a rate import that committed at the same moment, say). Idempotent."""
    organizations = Organization.objects.filter(buys=True).order_by("pk")
    return sum(fx.record_missing_fx(organization=organization) for organization in organizations.iterator())
