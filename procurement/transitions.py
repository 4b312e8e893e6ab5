"""The one way a service changes an object's state (a kernel module: it imports no app).

Every django-fsm transition in a service runs through ``transition``: a transition that the
object's current state does not allow is a refusal with a sentence a person can read
(``DomainError``, which the page shows as a message), never ``TransitionNotAllowed`` (a 500).
The transition methods on the models stay pure; saving is the service's job.
"""

from __future__ import annotations

from typing import Any

from django_fsm import TransitionNotAllowed, can_proceed

from .errors import DomainError


def transition(obj: Any, name: str, what: str, *, noun: str = "This order", **kwargs: Any) -> Any:
    """Run ``obj.<name>(**kwargs)``, a django-fsm transition, and return what it returns.

    ``what`` says the change in a past participle ("confirmed", "sent back") and ``noun`` names
    the object ("Amendment 2", "This payment"): an illegal transition is refused as
    "This payment is verified: it cannot be disputed now."
    """
    try:
        return getattr(obj, name)(**kwargs)
    except TransitionNotAllowed:
        raise DomainError(refusal(obj, what, noun=noun)) from None


def require_transition(obj: Any, name: str, what: str, *, noun: str = "This order") -> None:
    """Refuse as ``transition`` would, without running it (the rules that decide the buttons)."""
    if not can_proceed(getattr(obj, name)):
        raise DomainError(refusal(obj, what, noun=noun))


def refusal(obj: Any, what: str, *, noun: str = "This order") -> str:
    return f"{noun} is {obj.get_status_display().lower()}: it cannot be {what} now."
