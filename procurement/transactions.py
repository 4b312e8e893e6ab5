"""The transaction rule of the services (a kernel module: it imports no app).

A public service that writes runs in its own transaction (``@transaction.atomic``; called from
another service, it becomes a savepoint of the caller's). A private helper (``_name``) that
writes, or a step that only makes sense inside a caller's transaction (an event of the order's
thread, written with the transition it records), says so by calling ``require_atomic()`` first:
called on its own, it fails loudly at once instead of writing half of its work (or, on
PostgreSQL, failing later in ``select_for_update`` with ``TransactionManagementError``).
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, transaction


class NotInTransaction(AssertionError):
    """A helper that must run inside a caller's transaction was called outside one."""


def require_atomic(using: str = DEFAULT_DB_ALIAS) -> None:
    """Refuse to go on outside a transaction (``transaction.atomic``)."""
    if not transaction.get_connection(using).in_atomic_block:
        raise NotInTransaction(
            "This runs inside the caller's transaction (transaction.atomic): it was called outside one."
        )
