"""What orders needs from the apps above it, and how they register (CONTRIBUTING.md, "Flows across apps").

``orders`` sits below ``approvals`` and ``billing`` and never imports them. Yet a submitted order
needs an approval decision, a confirmed one needs its invoice and bill, a receipt values goods
against the bill, an amendment revises the documents, an order closes once it is paid, and the
order pages show the approval requests and the documents. So orders owns the two interfaces
below (``typing.Protocol``); ``approvals`` and ``billing`` each register one implementation when
Django starts (their ``AppConfig.ready``: ``approvals.gate``, ``billing.gate``).

Calls through them are ordinary function calls — no signals — so a reader follows them from the
service to the implementation, and a missing implementation fails loudly at the first call. The
other direction needs no interface: approvals and billing call orders' public services (downward).
Each state machine has one owner: the purchase and sales orders' transitions run in orders'
services only; approvals answers with a plan or a decision, billing with documents and amounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:  # models are not loaded when the app registry imports this module
    from django.db.models import QuerySet

    from accounts.models import Membership

    from .models import Amendment, PurchaseOrder, PurchaseOrderLine, ReturnRequest


@dataclass(frozen=True)
class OpenStep:
    """The step of an approval that waits for a decision now: its name and who decides it."""

    name: str
    approvers: tuple[str, ...]  # their full names


class ApprovalPlan(Protocol):
    """What a submission (or an amendment) needs: the steps in order — none: approved at once —
    and the exchange rate to the customer's base currency it was measured at."""

    rate: Decimal | None
    steps: Sequence[Any]


class Approvals(Protocol):
    """Implemented by ``approvals.gate.ApprovalsGate``."""

    def plan_submission(self, *, po: PurchaseOrder, lines: list[PurchaseOrderLine], by: Membership) -> ApprovalPlan:
        """The approval a submission needs; refuses (a DomainError, writing nothing) when nobody could approve."""

    def start_submission(self, *, po: PurchaseOrder, plan: ApprovalPlan, by: Membership) -> OpenStep | None:
        """Record the submission's request: the step that waits for a decision, or None when
        ``plan`` has no steps (the request is recorded as approved at once)."""

    def plan_amendment(
        self, *, po: PurchaseOrder, old_total: Decimal, lines: list[PurchaseOrderLine], by: Membership
    ) -> ApprovalPlan | None:
        """The approval an amendment needs; None when it needs none (it lowers the order, or the
        new total crosses no threshold the old did not)."""

    def start_amendment(self, *, po: PurchaseOrder, amendment: Amendment, plan: ApprovalPlan, by: Membership) -> None:
        """Send the amendment to its approvers."""

    def start_reapproval(self, *, po: PurchaseOrder, lines: list[PurchaseOrderLine], by: Membership) -> OpenStep | None:
        """Before *Confirm order*, under the order's lock: the step that waits for a decision when
        the supplier's revision needs approval again (the request is started, the order is
        confirmed once it is approved); None when it may be confirmed now. Refuses while a
        re-approval waits or was rejected."""

    def reapproval_refusal(self, *, po: PurchaseOrder, requests: list[Any] | None = None) -> str | None:
        """Why the order cannot be confirmed now because of its re-approval (one waits, or this
        revision's was rejected); None when nothing stands in the way. Read by orders' rules;
        ``requests``: what ``requests_for_page`` returned, when the page has it (no query then)."""

    def withdraw_open_requests(self, *, po: PurchaseOrder) -> None:
        """The order moved on (sent back, cancelled, amendment withdrawn): pending requests are moot."""

    def requests_for_page(self, *, po: PurchaseOrder, membership: Membership) -> list[Any]:
        """The order's requests for its page, newest first, each with ``may_decide`` for ``membership``."""


class Billing(Protocol):
    """Implemented by ``billing.gate.BillingGate``."""

    def issue_documents_after_commit(self, *, po: PurchaseOrder) -> None:
        """The order is confirmed: its invoice and bill are made after commit (by a task; idempotent)."""

    def revise_documents(self, *, po: PurchaseOrder, lines: list[PurchaseOrderLine]) -> None:
        """An accepted amendment changed the order: the invoice and the bill follow."""

    def record_receipt_fx(self, *, po: PurchaseOrder) -> None:
        """Goods were received: value them against the order's bill (FX), if it exists yet."""

    def credit_return_after_commit(self, *, po: PurchaseOrder, return_request: ReturnRequest) -> None:
        """A return for credit arrived back (its lines' ``quantity_credited`` are set): its credit
        note and debit note are made together after commit (by a task; idempotent)."""

    def return_notes(self, *, po: PurchaseOrder, side: str) -> dict[int, Any]:
        """The order's credit notes (``side`` "supplier") or debit notes ("customer") by the pk of
        the return they settle, for the order's Returns tab."""

    def is_paid(self, *, po: PurchaseOrder) -> bool:
        """Paid and verified, as closing the order requires (SPEC §4, transition 15)."""

    def check_total(self, *, po: PurchaseOrder, total: Decimal) -> None:
        """Refuse (DomainError) an amended total below what was paid on the order's bill or matched to it."""

    def with_bill_matches(self, orders: QuerySet[PurchaseOrder]) -> QuerySet[PurchaseOrder]:
        """``orders`` annotated with ``has_bill_matches`` (bills entered by hand matched to each)."""

    def order_page(self, *, po: PurchaseOrder, side: str, membership: Membership) -> dict[str, Any]:
        """The billing part of an order page (``side`` "customer" or "supplier"): the bill and its
        3-way match, the matched bills, or the invoice and the payments to verify."""


_registry: dict[str, Any] = {}


def register_approvals(implementation: Approvals) -> None:
    _registry["approvals"] = implementation


def register_billing(implementation: Billing) -> None:
    _registry["billing"] = implementation


def _registered(name: str) -> Any:
    try:
        return _registry[name]
    except KeyError:
        raise ImproperlyConfigured(
            f"orders needs the {name} app: add it to INSTALLED_APPS (it registers itself in its AppConfig.ready)."
        ) from None


def approvals() -> Approvals:
    return _registered("approvals")


def billing() -> Billing:
    return _registered("billing")
