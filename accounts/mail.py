"""Queueing e-mail: render now, in the caller's transaction; deliver after commit.

``queue_email`` writes one outbox row per idempotency key (a second call with the same key
is a no-op) and schedules ``accounts.tasks.deliver_email`` with ``transaction.on_commit``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils.module_loading import import_string

from procurement.background import enqueue_on_commit

from .models import Organization, OutboundEmail


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def queue_email(
    *,
    key: str,
    to: list[str],
    template: str,
    context: dict[str, Any],
    organization: Organization | None = None,
    attachments: list[dict] | None = None,
) -> OutboundEmail:
    """Render ``templates/emails/<template>_{subject.txt,body.txt,body.html}`` and queue it.

    The templates are ordinary Django templates: HTML is escaped in the HTML part. A key seen
    before returns the e-mail already queued (the unique key decides, not a read beforehand).
    """
    from . import tasks  # tasks import this module's helpers

    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    try:
        with transaction.atomic():
            email = OutboundEmail.objects.create(
                key=key,
                organization=organization,
                to=sorted({address.lower() for address in to if address}),
                subject=subject[:300],
                body_text=render_to_string(f"emails/{template}_body.txt", context),
                body_html=render_to_string(f"emails/{template}_body.html", context),
                attachments=attachments or [],
            )
    except IntegrityError:
        return OutboundEmail.objects.get(key=key)
    enqueue_on_commit(tasks.deliver_email, email.pk)  # a broker outage leaves it queued for the sweep
    return email


def render_attachment(spec: dict) -> tuple[str, bytes, str]:
    """(filename, content, MIME type) of an attachment described in the outbox.

    Renderers are named in ``settings.EMAIL_ATTACHMENT_RENDERERS``: an outbox row can only ask
    for one of those, never import an arbitrary path.
    """
    path = settings.EMAIL_ATTACHMENT_RENDERERS[spec["renderer"]]
    return import_string(path)(**{k: v for k, v in spec.items() if k != "renderer"})
