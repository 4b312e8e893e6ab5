"""Who may do what to an order now: one check per action, asked by the page (which buttons it
shows) and by the service (its guard, after the row lock) alike.

- ``refusal(action, po=…, membership=…)``: None when the member may take the action now, or
  the sentence the service refuses it with;
- ``require(action, po=…, membership=…)``: raises that refusal — ``NotAllowed`` when the member
  may not (role, capability, object permission), ``DomainError`` when the order may not (its
  state, its connection);
- ``po_actions(po, membership)`` and ``so_actions(so, membership)``: the actions an order page
  offers now, from the same checks; ``amendment_actions`` and ``require_amendment`` the same for
  the answers to an amendment (accept, decline, withdraw).

The customer's actions (on the purchase order) are ``PO_ACTIONS``, the supplier's (on the sales
order) ``SO_ACTIONS``. A check reads the member's roles first, then the order's state, and the
object permission (django-guardian, one query) last, so that only a draft's page (or a
rejected order's) asks the database. A page passes what it has read already (``lines``,
``open_amendment``); a service passes nothing, and the check reads it under the service's lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

from guardian.shortcuts import get_user_perms

from accounts.models import Connection, Membership
from accounts.permissions import require as require_permission
from accounts.selectors import tolerances_for
from procurement.errors import DomainError, NotAllowed
from procurement.transitions import require_transition

from . import interfaces
from .models import Amendment, PurchaseOrder, PurchaseOrderLine, ReturnRequest, SalesOrder

PO_ACTIONS = (
    "edit",
    "submit",
    "revise",
    "confirm",
    "request_changes",
    "cancel",
    "receive",
    "amend",
    "mark_billed",
    "order_again",
    "unmark_billed",
    "request_return",
)
SO_ACTIONS = ("adjust", "accept", "decline", "ship")

AMENDABLE = (PurchaseOrder.Status.CONFIRMED, PurchaseOrder.Status.PARTIALLY_RECEIVED)

_UNREAD = object()


# ------------------------------------------------------------------------- rules of one thing


def require_active(po: PurchaseOrder) -> None:
    """A suspended or ended connection freezes its orders (they can only be cancelled)."""
    if po.connection.status != Connection.Status.ACTIVE:
        raise DomainError(
            f"The connection between {po.customer.name} and {po.supplier.name} is "
            f"{po.connection.get_status_display().lower()}: the order is frozen (it can only be cancelled)."
        )


def require_amendable(po: PurchaseOrder) -> None:
    """An amendment is asked, and accepted, on a confirmed order before everything is received."""
    if po.status not in AMENDABLE:
        raise DomainError(
            f"{po.number} is {po.get_status_display().lower()}: only a confirmed order, before everything "
            "is received, can be amended."
        )
    require_active(po)


def has_receipts(line: PurchaseOrderLine) -> bool:
    """Anything received, damaged or short on it: a receipt line exists (never amended)."""
    return bool(line.quantity_received or line.quantity_damaged or line.quantity_short)


def amendable(line: PurchaseOrderLine) -> bool:
    """A line an amendment may raise (or, unshipped, cancel): open, and nothing received of it."""
    return not line.is_void and not has_receipts(line)


# ---------------------------------------------------------------------------------- the API


def refusal(action: str, **order) -> str | None:
    """None when ``membership`` may take ``action`` on the order now; otherwise why not (the
    sentence the service refuses it with). ``order``: see ``require``."""
    try:
        require(action, **order)
    except DomainError as exc:
        return exc.message
    return None


def require(
    action: str,
    *,
    po: PurchaseOrder,
    membership: Membership,
    so: SalesOrder | None = None,
    lines: Sequence[PurchaseOrderLine] | None = None,
    open_amendment: Amendment | None | object = _UNREAD,
) -> None:
    """Raise the refusal of ``action`` (NotAllowed or DomainError), if any. ``so`` is the
    order's sales order (read from ``po`` when not given); ``lines`` and ``open_amendment``
    what the caller has read of the order already."""
    _CHECKS[action](_Order(po, membership, so=so, lines=lines, open_amendment=open_amendment))


def po_actions(
    po: PurchaseOrder,
    membership: Membership,
    *,
    lines: Sequence[PurchaseOrderLine] | None = None,
    open_amendment: Amendment | None | object = _UNREAD,
    approval_requests: list | None = None,
) -> set[str]:
    """The customer's actions on this purchase order that ``membership`` may take now
    (``approval_requests``: the order's, as the page read them through orders.interfaces)."""
    order = _Order(po, membership, lines=lines, open_amendment=open_amendment)
    if approval_requests is not None:
        order.reapproval_refusal = interfaces.approvals().reapproval_refusal(po=po, requests=approval_requests)
    return _allowed(PO_ACTIONS, order)


def so_actions(so: SalesOrder, membership: Membership, *, lines: Sequence[PurchaseOrderLine] | None = None) -> set[str]:
    """The supplier's actions on this sales order that ``membership`` may take now."""
    return _allowed(SO_ACTIONS, _Order(so.purchase_order, membership, so=so, lines=lines))


def _allowed(actions: Sequence[str], order: _Order) -> set[str]:
    allowed = set()
    for action in actions:
        try:
            _CHECKS[action](order)
        except DomainError:
            continue
        allowed.add(action)
    return allowed


class _Order:
    """The order an action is checked on, and what the checks read of it (each once at most,
    however many actions a page asks about)."""

    def __init__(self, po, membership, *, so=None, lines=None, open_amendment=_UNREAD):
        self.po, self.membership = po, membership
        if so is not None:
            self.so = so
        if lines is not None:
            self.lines = lines
        if open_amendment is not _UNREAD:
            self.open_amendment = open_amendment

    @cached_property
    def so(self) -> SalesOrder:
        return self.po.sales_order

    @cached_property
    def lines(self) -> list[PurchaseOrderLine]:
        return list(self.po.lines.all())

    @cached_property
    def open_amendment(self) -> Amendment | None:
        return self.po.amendments.filter(status__in=Amendment.OPEN).first()

    @cached_property
    def over_receipt(self):
        """The customer's over-receipt tolerance with this supplier (percent)."""
        return tolerances_for(customer_id=self.po.customer_id, supplier_id=self.po.supplier_id).over_receipt_percent

    @cached_property
    def reapproval_refusal(self) -> str | None:
        return interfaces.approvals().reapproval_refusal(po=self.po)

    @cached_property
    def holds_change_permission(self) -> bool:
        """The django-guardian object permission to change this order (the requester's), as
        ``user.has_perm`` answers it but in one query (no group holds object permissions here)."""
        user = self.membership.user
        return (user.is_active and user.is_superuser) or "change_purchaseorder" in get_user_perms(user, self.po)


# ------------------------------------------------------------------------- what checks share


def _role(order: _Order, permission: str) -> None:
    require_permission(order.membership, permission)


def _draft(order: _Order) -> None:
    po = order.po
    if not po.is_draft:
        raise DomainError(f"{po.number} is {po.get_status_display().lower()}: only a draft can be edited.")


def _draft_editor(order: _Order) -> None:
    """A draft is changed by its requester (the object permission) or an admin; the role is
    checked by the action."""
    if order.membership.is_admin or order.holds_change_permission:
        return
    po = order.po
    raise NotAllowed(f"Only {po.requester} (who raised it) or an admin can change draft {po.number}.")


def _supplier_open(order: _Order) -> None:
    po, so = order.po, order.so
    if so.status not in SalesOrder.OPEN or po.status != PurchaseOrder.Status.SENT:
        raise DomainError(f"{so.number} is {so.get_status_display().lower()}: it cannot be changed now.")


# ------------------------------------------------------------------ the customer's actions


def _edit(order: _Order) -> None:
    """Change a draft's header and lines: who may edit this draft (the page's ``editable``)."""
    _role(order, "orders.change_purchaseorder")
    _draft(order)
    _draft_editor(order)


def _submit(order: _Order) -> None:
    _role(order, "orders.submit_purchaseorder")
    _role(order, "orders.change_purchaseorder")
    _draft(order)
    require_active(order.po)
    _draft_editor(order)


def _revise(order: _Order) -> None:
    """A rejected order back to draft, by whoever may edit it."""
    _role(order, "orders.change_purchaseorder")
    require_transition(order.po, "revise", "reopened")
    _draft_editor(order)


def _confirm(order: _Order) -> None:
    _role(order, "orders.confirm_purchaseorder")
    require_active(order.po)
    require_transition(order.po, "confirm", "confirmed")
    if order.po.status == PurchaseOrder.Status.SUPPLIER_ACCEPTED and order.reapproval_refusal:
        raise DomainError(order.reapproval_refusal)


def _request_changes(order: _Order) -> None:
    _role(order, "orders.request_changes_purchaseorder")
    require_active(order.po)
    require_transition(order.po, "request_changes", "sent back")


def _cancel(order: _Order) -> None:
    """Before confirmation, also while the connection is frozen; a draft by whoever may edit it."""
    _role(order, "orders.cancel_purchaseorder")
    require_transition(order.po, "cancel", "cancelled")
    if order.po.is_draft:
        _role(order, "orders.change_purchaseorder")
        _draft_editor(order)


def _receive(order: _Order) -> None:
    _role(order, "orders.add_receipt")
    po = order.po
    require_active(po)
    if po.status not in PurchaseOrder.RECEIVABLE:
        raise DomainError(
            f"{po.number} is {po.get_status_display().lower()}: goods are received on confirmed orders only."
        )
    if po.status == PurchaseOrder.Status.RECEIVED and not any(
        not line.is_void and line.left_to_receive(order.over_receipt) > 0 for line in order.lines
    ):
        raise DomainError(f"Everything ordered on {po.number} is received: nothing is left to receive.")


def _amend(order: _Order) -> None:
    _role(order, "orders.add_amendment")
    require_amendable(order.po)
    if order.open_amendment is not None:
        raise DomainError("An amendment of this order is open already: wait for it, or withdraw it first.")
    if not any(amendable(line) for line in order.lines):
        raise DomainError(f"Every line of {order.po.number} has receipts or is void: nothing is left to amend.")


# Bills are matched to an order from its confirmation until it is closed (billing's MATCHABLE):
# before, its own bill is still to come; the *billed* mark, which stops the matching, is set
# and undone by hand in the same states.
BILLABLE = (PurchaseOrder.Status.CONFIRMED, PurchaseOrder.Status.PARTIALLY_RECEIVED, PurchaseOrder.Status.RECEIVED)


def _billed_by_hand(order: _Order, words: str) -> None:
    po, membership = order.po, order.membership
    _role(order, "orders.view_purchaseorder")
    if not (membership.may("orders.mark_billed_purchaseorder") or po.requester_id == membership.user_id):
        raise NotAllowed(f"Only an admin or the order's requester can {words}.")
    if po.status not in BILLABLE:
        raise DomainError(
            f"{po.number} is {po.get_status_display().lower()}: an order is marked billed by hand from its "
            "confirmation until it is closed."
        )


def _mark_billed(order: _Order) -> None:
    """Admins, and the order's requester, say by hand that a confirmed order is billed."""
    _billed_by_hand(order, "mark it billed")
    if order.po.billed_at is not None:
        raise DomainError(f"{order.po.number} is marked billed already.")


def _unmark_billed(order: _Order) -> None:
    """The same people undo a *billed* mark made by hand (one its bills made is lifted by
    unmatching them)."""
    _billed_by_hand(order, "undo its billed mark")
    po = order.po
    if po.billed_at is None:
        raise DomainError(f"{po.number} is not marked billed.")
    if po.billed_by_id is None:
        raise DomainError(f"{po.number} is billed by its bills, not by hand: unmatch a bill to change that.")


def _order_again(order: _Order) -> None:
    """A new draft with this order's lines, in any state, by whoever may raise orders, while the
    connection is active (a new order needs one)."""
    _role(order, "orders.add_purchaseorder")
    po = order.po
    if po.connection.status != Connection.Status.ACTIVE:
        raise DomainError(
            f"The connection with {po.supplier.name} is {po.connection.get_status_display().lower()}: "
            "no new order can be raised to it."
        )


# ------------------------------------------------------------------- the supplier's actions


def _adjust(order: _Order) -> None:
    """Save the supplier's proposal (changed lines and header) before accepting."""
    _role(order, "orders.change_salesorder")
    require_active(order.po)
    _supplier_open(order)


def _accept(order: _Order) -> None:
    _role(order, "orders.accept_salesorder")
    require_active(order.po)
    _supplier_open(order)


def _decline(order: _Order) -> None:
    _role(order, "orders.decline_salesorder")
    require_active(order.po)
    _supplier_open(order)


def _ship(order: _Order) -> None:
    """Goods ship on a confirmed order of an active connection while some are left to ship."""
    _role(order, "orders.add_shipment")
    so = order.so
    require_active(order.po)
    if so.status not in SalesOrder.SHIPPABLE:
        raise DomainError(
            f"{so.number} is {so.get_status_display().lower()}: goods are shipped once the customer confirms the order."
        )
    if not any(line.left_to_ship > 0 for line in order.lines if not line.is_void):
        raise DomainError(f"Nothing is left to ship on {so.number}.")


# ------------------------------------------------------------------------- an amendment's answers

AMENDMENT_ACTIONS = ("accept_amendment", "decline_amendment", "withdraw_amendment")


def amendment_actions(amendment: Amendment, *, po: PurchaseOrder, membership: Membership) -> set[str]:
    """The answers to ``amendment`` (of ``po``) that ``membership`` may give now: the order
    pages' buttons, from the checks the services take after their lock."""
    allowed = set()
    for action in AMENDMENT_ACTIONS:
        try:
            require_amendment(action, amendment=amendment, po=po, membership=membership)
        except DomainError:
            continue
        allowed.add(action)
    return allowed


def require_amendment(action: str, *, amendment: Amendment, po: PurchaseOrder, membership: Membership) -> None:
    """Raise the refusal of an answer to an amendment (NotAllowed or DomainError), if any."""
    _AMENDMENT_CHECKS[action](amendment, po, membership)


def _supplier_answers(amendment: Amendment, po: PurchaseOrder, membership: Membership) -> None:
    require_permission(membership, "orders.accept_amendment")
    if membership.organization_id != po.supplier_id:
        raise NotAllowed(f"{po.supplier.name} answers amendment {amendment.number}, not {po.customer.name}.")
    if amendment.status != Amendment.Status.PROPOSED:
        raise DomainError(
            f"Amendment {amendment.number} is {amendment.get_status_display().lower()}: it cannot be answered now."
        )


def _accept_amendment(amendment: Amendment, po: PurchaseOrder, membership: Membership) -> None:
    _supplier_answers(amendment, po, membership)
    require_amendable(po)  # the order may have moved on since it was asked


def _decline_amendment(amendment: Amendment, po: PurchaseOrder, membership: Membership) -> None:
    _supplier_answers(amendment, po, membership)
    require_active(po)


def _withdraw_amendment(amendment: Amendment, po: PurchaseOrder, membership: Membership) -> None:
    require_permission(membership, "orders.add_amendment")
    if membership.organization_id != po.customer_id:
        raise NotAllowed(f"{po.customer.name} withdraws its amendment {amendment.number}, not {po.supplier.name}.")
    if not amendment.is_open:
        raise DomainError(
            f"Amendment {amendment.number} is {amendment.get_status_display().lower()}: it cannot be withdrawn now."
        )


_AMENDMENT_CHECKS: dict[str, Callable[[Amendment, PurchaseOrder, Membership], None]] = {
    "accept_amendment": _accept_amendment,
    "decline_amendment": _decline_amendment,
    "withdraw_amendment": _withdraw_amendment,
}


# ------------------------------------------------------------------------- returns

# Goods are returned from an order once confirmed and received (a closed one too: goods found
# damaged after paying go back for a credit).
RETURNABLE = (*PurchaseOrder.RECEIVABLE, PurchaseOrder.Status.CLOSED)


def _request_return(order: _Order) -> None:
    """The customer asks to send received goods back (receivers, buyers, admins)."""
    _role(order, "orders.add_returnrequest")
    po = order.po
    if po.status not in RETURNABLE:
        raise DomainError(
            f"{po.number} is {po.get_status_display().lower()}: "
            "goods are returned from confirmed orders, once received."
        )
    require_active(po)
    if not any(line.returnable > 0 for line in order.lines):
        raise DomainError(f"Nothing received on {po.number} is left to return.")


RETURN_ACTIONS = ("withdraw_return", "ship_return", "accept_return", "decline_return", "receive_return")


def return_actions(return_request: ReturnRequest, *, po: PurchaseOrder, membership: Membership) -> set[str]:
    """What ``membership`` may do now with a return of ``po``: the Returns tab's buttons, from
    the checks the services take after their lock."""
    allowed = set()
    for action in RETURN_ACTIONS:
        try:
            require_return(action, return_request=return_request, po=po, membership=membership)
        except DomainError:
            continue
        allowed.add(action)
    return allowed


def require_return(action: str, *, return_request: ReturnRequest, po: PurchaseOrder, membership: Membership) -> None:
    """Raise the refusal of an action on a return (NotAllowed or DomainError), if any."""
    _RETURN_CHECKS[action](return_request, po, membership)


def return_refusal(
    action: str, *, return_request: ReturnRequest, po: PurchaseOrder, membership: Membership
) -> str | None:
    """None when ``membership`` may take ``action`` on the return now; otherwise why not (the
    sentence the service refuses it with): what a return's page says before sending back."""
    try:
        require_return(action, return_request=return_request, po=po, membership=membership)
    except DomainError as exc:
        return exc.message
    return None


def _return_status(return_request: ReturnRequest, expected: str, doing: str) -> None:
    if return_request.status != expected:
        raise DomainError(
            f"{return_request.label} is {return_request.get_status_display().lower()}: it cannot be {doing} now."
        )


def _customer_returns(return_request: ReturnRequest, po: PurchaseOrder, membership: Membership) -> None:
    require_permission(membership, "orders.add_returnrequest")
    if membership.organization_id != po.customer_id:
        raise NotAllowed(f"{po.customer.name} sends back the goods of {return_request.label}, not {po.supplier.name}.")


def _supplier_returns(return_request: ReturnRequest, po: PurchaseOrder, membership: Membership, permission: str):
    require_permission(membership, permission)
    if membership.organization_id != po.supplier_id:
        raise NotAllowed(f"{po.supplier.name} answers {return_request.label}, not {po.customer.name}.")


def _withdraw_return(return_request: ReturnRequest, po: PurchaseOrder, membership: Membership) -> None:
    """Before the supplier authorizes it (also while the connection is frozen)."""
    _customer_returns(return_request, po, membership)
    _return_status(return_request, ReturnRequest.Status.REQUESTED, "withdrawn")


def _ship_return(return_request: ReturnRequest, po: PurchaseOrder, membership: Membership) -> None:
    _customer_returns(return_request, po, membership)
    _return_status(return_request, ReturnRequest.Status.ACCEPTED, "shipped back")
    require_active(po)


def _accept_return(return_request: ReturnRequest, po: PurchaseOrder, membership: Membership) -> None:
    _supplier_returns(return_request, po, membership, "orders.answer_returnrequest")
    _return_status(return_request, ReturnRequest.Status.REQUESTED, "authorized")
    require_active(po)


def _decline_return(return_request: ReturnRequest, po: PurchaseOrder, membership: Membership) -> None:
    _supplier_returns(return_request, po, membership, "orders.answer_returnrequest")
    _return_status(return_request, ReturnRequest.Status.REQUESTED, "declined")
    require_active(po)


def _receive_return(return_request: ReturnRequest, po: PurchaseOrder, membership: Membership) -> None:
    _supplier_returns(return_request, po, membership, "orders.receive_returnrequest")
    _return_status(return_request, ReturnRequest.Status.SHIPPED, "received back")
    require_active(po)


_RETURN_CHECKS: dict[str, Callable[[ReturnRequest, PurchaseOrder, Membership], None]] = {
    "withdraw_return": _withdraw_return,
    "ship_return": _ship_return,
    "accept_return": _accept_return,
    "decline_return": _decline_return,
    "receive_return": _receive_return,
}


_CHECKS: dict[str, Callable[[_Order], None]] = {
    "edit": _edit,
    "submit": _submit,
    "revise": _revise,
    "confirm": _confirm,
    "request_changes": _request_changes,
    "cancel": _cancel,
    "receive": _receive,
    "amend": _amend,
    "mark_billed": _mark_billed,
    "order_again": _order_again,
    "unmark_billed": _unmark_billed,
    "request_return": _request_return,
    "adjust": _adjust,
    "accept": _accept,
    "decline": _decline,
    "ship": _ship,
}
