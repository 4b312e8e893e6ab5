"""Services of the e-mail suppression list: what the ESP's bounces and complaints write.

Kept beside ``services.py`` (near its size limit) as the outbox's sub-domain. anymail's
tracking webhook reaches ``record_email_event`` through the thin receiver in ``webhooks.py``;
``tasks.deliver_email`` reads the list (``selectors.email_suppressions_for``) and leaves those
addresses out.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from procurement.errors import NotAllowed

from .models import EmailSuppression, User

Reason = EmailSuppression.Reason

# anymail's normalized event types that stop further mail to the address. A rejection counts
# only when the provider says the address itself is the problem (not our sender's setup).
SUPPRESSING_EVENTS = {"bounced": Reason.BOUNCED, "complained": Reason.COMPLAINED, "rejected": Reason.REJECTED}
ADDRESS_REJECT_REASONS = {"invalid", "bounced", "spam"}


@transaction.atomic
def record_email_event(
    *,
    address: str,
    event_type: str,
    reject_reason: str | None = None,
    description: str = "",
    provider: str = "",
    event_id: str = "",
    at: datetime | None = None,
) -> EmailSuppression | None:
    """Record a bounce, complaint or address rejection of ``address``; other events (delivered,
    opened, deferred…) change nothing and return None. Idempotent: one row per address, and the
    same provider event again leaves it as it was."""
    reason = SUPPRESSING_EVENTS.get(event_type)
    address = (address or "").strip().lower()
    if reason is None or not address or "@" not in address:
        return None
    if reason == Reason.REJECTED and reject_reason not in ADDRESS_REJECT_REASONS:
        return None
    at = at or timezone.now()
    values = {
        "reason": reason,
        "description": " ".join((description or "").split())[:500],
        "provider": (provider or "")[:50],
        "provider_event_id": (event_id or "")[:200],
    }
    try:
        with transaction.atomic():  # a savepoint: a concurrent first event of the address wins
            suppression, created = EmailSuppression.objects.get_or_create(
                address=address, defaults={**values, "first_seen_at": at, "last_seen_at": at}
            )
    except IntegrityError:
        created = False
    if created:
        return suppression
    suppression = EmailSuppression.objects.select_for_update().get(address=address)
    if values["provider_event_id"] and (suppression.provider, suppression.provider_event_id) == (
        values["provider"],
        values["provider_event_id"],
    ):
        return suppression  # the webhook delivered the same event again
    changed = []
    if at < suppression.first_seen_at:
        suppression.first_seen_at = at
        changed.append("first_seen_at")
    if at >= suppression.last_seen_at:  # the latest event describes the address
        for name, value in values.items():
            setattr(suppression, name, value)
        suppression.last_seen_at = at
        changed += [*values, "last_seen_at"]
    if changed:
        suppression.save(update_fields=changed)
    return suppression


@transaction.atomic
def lift_email_suppression(*, suppression: EmailSuppression, by: User) -> None:
    """A platform admin sends to the address again (its owner fixed the mailbox)."""
    if not by.is_superuser:
        raise NotAllowed("Only a platform admin can lift an e-mail suppression.")
    EmailSuppression.objects.filter(pk=suppression.pk).delete()
