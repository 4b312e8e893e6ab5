"""Queueing background work so that a broker outage never fails a person's action.

Every task is scheduled after the commit with ``enqueue_on_commit(task, *args)``. When the
broker cannot take it (Redis is down), the action has already been committed: the failure is
logged, the request is told (``DeferredWorkMiddleware`` shows a sentence to the person), and the
work is caught up by the beat sweeps that look for it in the database (documents of confirmed
orders without any, outbox rows still queued) once the broker is back. Every task is idempotent,
so a sweep that finds the work done, or done twice, changes nothing.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from functools import partial
from typing import Any

from django.contrib import messages
from django.db import transaction
from kombu.exceptions import OperationalError

log = logging.getLogger(__name__)

# The names of the tasks that could not be queued during the current request (None outside one).
deferred_work: ContextVar[list[str] | None] = ContextVar("deferred_work", default=None)

# What a broker that is down or unreachable raises when a task is published.
BROKER_ERRORS = (OperationalError, ConnectionError, TimeoutError, OSError)


def enqueue(task: Any, *args: Any) -> bool:
    """Send ``task(*args)`` to the broker; False (logged, remembered for the request) if it is down.

    Once the broker has failed during a request, the request's other tasks are not tried: a
    request that queues several e-mails waits for one time-out, not one each."""
    pending = deferred_work.get()
    if pending:
        pending.append(task.name)
        log.warning("not queued %s%r: the broker failed earlier in this request", task.name, args)
        return False
    try:
        task.delay(*args)
    except BROKER_ERRORS as exc:
        log.warning("could not queue %s%r: %s: %s", task.name, args, type(exc).__name__, exc)
        if pending is not None:
            pending.append(task.name)
        return False
    return True


def enqueue_on_commit(task: Any, *args: Any) -> None:
    """Queue ``task(*args)`` once the current transaction commits (at once outside of one)."""
    transaction.on_commit(partial(enqueue, task, *args))


class DeferredWorkMiddleware:
    """Tells the person when their action succeeded but its background work waits for the broker.

    Placed after the messages middleware, so a message added on the way out is stored with the
    response (a redirect carries it to the next page).
    """

    MESSAGE = (
        "Saved. Its e-mails and documents could not be queued just now; "
        "they will be sent and made automatically as soon as the task queue is back."
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = deferred_work.set([])
        try:
            response = self.get_response(request)
            if deferred_work.get() and hasattr(request, "_messages"):
                messages.warning(request, self.MESSAGE)
            return response
        finally:
            deferred_work.reset(token)
