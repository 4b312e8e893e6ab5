"""anymail's tracking webhooks (``/anymail/<esp>/tracking/``): a thin receiver of its signal.

The ESP posts bounces, complaints and other events; anymail checks the basic-auth secret
(``ANYMAIL_WEBHOOK_SECRET``) and the ESP's payload, then sends ``anymail.signals.tracking``
with a normalized event. The suppression list is written by ``suppressions.record_email_event``.
"""

from __future__ import annotations

from anymail.signals import AnymailTrackingEvent, tracking
from django.dispatch import receiver

from .suppressions import record_email_event


@receiver(tracking, dispatch_uid="accounts.record_email_event")
def record_tracking_event(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    record_email_event(
        address=event.recipient or "",
        event_type=event.event_type or "",
        reject_reason=event.reject_reason,
        description=event.description or event.mta_response or "",
        provider=esp_name,
        event_id=event.event_id or "",
        at=event.timestamp,
    )
