"""Background work of the accounts app: delivering the outbox."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .mail import render_attachment
from .models import OutboundEmail
from .selectors import email_suppressions_for

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6


@shared_task(bind=True, acks_late=True, max_retries=MAX_ATTEMPTS)
def deliver_email(self, email_id: int) -> str:
    """Send one outbox message once. A retry finds it sent and does nothing; a failing
    provider marks it failed (and retries later) without failing anyone's action. Addresses
    that bounced or complained (EmailSuppression) are left out and listed on the row; with
    nobody left, the message is marked suppressed and not sent."""
    with transaction.atomic():
        email = OutboundEmail.objects.select_for_update().filter(pk=email_id).first()
        if email is None or email.status in (OutboundEmail.Status.SENT, OutboundEmail.Status.SUPPRESSED):
            return "nothing to do"
        suppressed = email_suppressions_for(email.to)
        email.suppressed = sorted(address for address in email.to if address.lower() in suppressed)
        recipients = [address for address in email.to if address not in email.suppressed]
        if not recipients:
            email.status = OutboundEmail.Status.SUPPRESSED
            email.last_error = ""
            email.save(update_fields=["status", "suppressed", "last_error"])
            return "suppressed"
        message = EmailMultiAlternatives(
            subject=email.subject,
            body=email.body_text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=recipients,
        )
        if email.body_html:
            message.attach_alternative(email.body_html, "text/html")
        email.attempts += 1
        try:
            for spec in email.attachments:
                message.attach(*render_attachment(spec))
            message.send()
        except Exception as exc:  # any provider failure: record it, never propagate to the user
            log.warning("e-mail %s failed (attempt %s): %s", email.pk, email.attempts, exc)
            email.status = OutboundEmail.Status.FAILED
            email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            email.save(update_fields=["status", "attempts", "last_error", "suppressed"])
            failed = exc
        else:
            status = getattr(message, "anymail_status", None)
            email.status = OutboundEmail.Status.SENT
            email.sent_at = timezone.now()
            email.last_error = ""
            message_id = getattr(status, "message_id", None)  # set by anymail backends
            email.provider_message_id = "" if message_id is None else str(message_id)[:200]
            email.save(
                update_fields=["status", "attempts", "sent_at", "last_error", "provider_message_id", "suppressed"]
            )
            return "sent"
    if not self.request.is_eager and email.attempts < MAX_ATTEMPTS:
        raise self.retry(exc=failed, countdown=30 * 2**email.attempts)
    return "failed"


# A queued row older than this never reached a worker (the broker was down when it was queued).
STUCK_AFTER = timedelta(minutes=5)


@shared_task
def deliver_pending_emails() -> int:
    """Beat: queue again what is still to send — failed messages of the last day (until
    MAX_ATTEMPTS) and messages still queued after STUCK_AFTER, whose task never reached the
    broker. ``deliver_email`` locks the row and skips what is sent, so a message queued twice
    (its own task arriving late, say) is still sent once."""
    now = timezone.now()
    pending = OutboundEmail.objects.filter(
        Q(status=OutboundEmail.Status.FAILED, attempts__lt=MAX_ATTEMPTS, created_at__gte=now - timedelta(days=1))
        | Q(status=OutboundEmail.Status.QUEUED, created_at__lt=now - STUCK_AFTER)
    )
    ids = list(pending.order_by("created_at").values_list("pk", flat=True)[:500])
    for email_id in ids:
        deliver_email.delay(email_id)
    return len(ids)
