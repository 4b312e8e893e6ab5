"""Periodic work of the approvals app (Celery beat)."""

from celery import shared_task

from .services import remind_approvers


@shared_task
def send_approval_reminders() -> int:
    """Remind the approvers of steps waiting longer than their policy's delay (once a day)."""
    return remind_approvers()
