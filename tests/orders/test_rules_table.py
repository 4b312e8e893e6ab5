"""Every state of an order × every role on each side: what the page offers is exactly what the
services allow (orders.rules answers both; this checks that nothing else decides).

For each state an order is built once through the services; then, for each role and action, the
service is called inside a savepoint that is rolled back: it succeeds if and only if the rules
offer the action, and when it refuses, it says the rules' sentence. The pages are read too: the
buttons and forms they render are the rules' actions.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from accounts.services import suspend_connection, update_tolerance_policy
from approvals.models import ApprovalRequest
from approvals.services import reject_step
from billing.services.billed import mark_po_billed, unmark_po_billed
from orders import rules
from orders.models import Amendment, PurchaseOrder, SalesOrder
from orders.services import amendments, drafts, fulfilment, negotiation, returns, submission
from procurement.errors import DomainError
from tests.factories import ApprovalPolicyFactory, Trade, line_input, member, receipt_line

pytestmark = pytest.mark.django_db

CUSTOMER_ROLES = ("requester", "buyer", "admin", "approver", "receiver", "payables")
SUPPLIER_ROLES = ("admin", "sales", "fulfilment", "receivables")

STATES = (
    "draft",
    "pending_approval",
    "rejected",
    "sent",
    "supplier_accepted",
    "supplier_accepted, re-approval pending",
    "supplier_accepted, re-approval rejected",
    "confirmed",
    "partially_received",
    "received",
    "closed",
    "declined",
    "cancelled",
    "expired",
    "sent, connection suspended",
    "confirmed, connection suspended",
)


class Case:
    """A trade with a member for every role, and one order brought to ``state`` by the services."""

    def __init__(self, state: str):
        self.state = state
        self.trade = trade = Trade()
        self.customer = {
            "requester": trade.buyer,
            "buyer": member(trade.customer, Role.BUYER),
            "admin": trade.customer_admin,
            "approver": member(trade.customer, Role.APPROVER),
            "receiver": member(trade.customer, Role.RECEIVER),
            "payables": member(trade.customer, Role.PAYABLES),
        }
        self.supplier = {
            "admin": member(trade.supplier, Role.ADMIN),
            "sales": trade.sales,
            "fulfilment": member(trade.supplier, Role.FULFILMENT),
            "receivables": member(trade.supplier, Role.RECEIVABLES),
        }
        # 10 % over-receipt: a received order may still receive a little more (the page offers it)
        update_tolerance_policy(by=trade.customer_admin, over_receipt_percent=Decimal("10"))
        self.po = self._build(state)

    def _build(self, state: str) -> PurchaseOrder:
        trade = self.trade
        lines = [
            {"listing": trade.listing, "quantity": "10"},
            {"description": "Crate", "quantity": "5", "unit": "ea", "unit_price": "4.00"},
        ]
        if state == "draft":
            return trade.draft(lines=lines)
        if state in ("pending_approval", "rejected"):
            ApprovalPolicyFactory(organization=trade.customer, steps=[{"approvers": [self.customer["approver"].user]}])
            po = trade.sent(lines=lines)
            assert po.status == "pending_approval"
            if state == "rejected":
                reject_step(request=po.approval_requests.get(), by=self.customer["approver"], comment="Too much")
            return _fresh(po)
        if state == "expired":
            po = trade.sent(lines=lines, valid_until=timezone.localdate() + timedelta(days=5))
            PurchaseOrder.objects.filter(pk=po.pk).update(valid_until=timezone.localdate() - timedelta(days=1))
            submission.expire_purchase_order(po=po)
            return _fresh(po)
        if state.startswith(("sent", "supplier_accepted", "declined", "cancelled")):
            po = trade.sent(lines=lines)
            if state.startswith("supplier_accepted"):
                negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
                po = _fresh(po)
            if state.startswith("supplier_accepted, re-approval"):
                # The supplier's revision crossed a threshold: its re-approval waits, or was rejected.
                ApprovalRequest.objects.create(
                    organization=po.customer,
                    purchase_order=po,
                    kind=ApprovalRequest.Kind.REAPPROVAL,
                    status=ApprovalRequest.Status.PENDING if "pending" in state else ApprovalRequest.Status.REJECTED,
                    requested_by=trade.buyer.user,
                    revision_number=po.revision_number,
                    currency=po.currency,
                    base_currency=po.customer.base_currency,
                    total=po.total,
                )
            elif state == "declined":
                negotiation.decline_sales_order(so=po.sales_order, by=trade.sales, reason="Out of stock")
            elif state == "cancelled":
                submission.cancel_purchase_order(po=po, by=trade.buyer, reason="Not needed")
            elif state == "sent, connection suspended":
                suspend_connection(by=trade.customer_admin, connection=trade.connection)
            return _fresh(po)
        po = trade.confirmed(lines=lines)
        if state == "confirmed, connection suspended":
            suspend_connection(by=trade.customer_admin, connection=trade.connection)
        if state in ("partially_received", "received", "closed"):
            first, second = po.lines.order_by("position")
            ship = {first.pk: Decimal("10"), second.pk: Decimal("5")}
            fulfilment.record_shipment(
                so=po.sales_order, by=self.supplier["fulfilment"], lines=ship, shipped_on=timezone.localdate()
            )
            got = {first.pk: receipt_line(quantity="10")} | (
                {} if state == "partially_received" else {second.pk: receipt_line(quantity="5")}
            )
            fulfilment.record_receipt(po=po, by=self.customer["receiver"], lines=got, received_on=timezone.localdate())
        if state == "closed":
            trade.paid(po)
        po = _fresh(po)
        assert po.status == state.split(",")[0]
        return po


def _fresh(po: PurchaseOrder) -> PurchaseOrder:
    return PurchaseOrder.objects.select_related("connection", "customer", "supplier", "requester").get(pk=po.pk)


def _so(po: PurchaseOrder) -> SalesOrder:
    return SalesOrder.objects.select_related("purchase_order__connection").get(purchase_order=po)


# ------------------------------------------------------------ each action, through its service


def _first(lines, wanted):
    return next((line for line in lines if wanted(line)), lines[0])


def _call(action: str, case: Case, by) -> None:
    """Take ``action`` through its service, with input that is right for the order as it stands."""
    trade, po = case.trade, _fresh(case.po)
    lines = list(po.lines.order_by("position"))
    today = timezone.localdate()
    if action == "edit":
        drafts.add_line(
            by=by, po=po, values=line_input(listing=trade.listing, quantity="1", cost_center=trade.cost_center)
        )
    elif action == "submit":
        submission.submit_purchase_order(po=po, by=by)
    elif action == "revise":
        submission.revise_purchase_order(po=po, by=by)
    elif action == "confirm":
        negotiation.confirm_purchase_order(po=po, by=by)
    elif action == "request_changes":
        negotiation.request_changes(po=po, by=by, note="Cheaper, please")
    elif action == "cancel":
        submission.cancel_purchase_order(po=po, by=by, reason="Not needed")
    elif action == "receive":
        line = _first(lines, lambda line: line.left_to_receive(Decimal("10")) > 0)
        fulfilment.record_receipt(po=po, by=by, lines={line.pk: receipt_line(quantity="1")}, received_on=today)
    elif action == "amend":
        line = _first(lines, rules.amendable)
        amendments.request_amendment(po=po, by=by, reason="More", quantities={line.pk: line.quantity + 1})
    elif action == "mark_billed":
        mark_po_billed(po=po, by=by)
    elif action == "order_again":
        drafts.order_again(by=by, po=po)
    elif action == "unmark_billed":
        unmark_po_billed(po=po, by=by)
    elif action == "request_return":
        line = _first(lines, lambda line: line.returnable > 0)
        returns.request_return(po=po, by=by, lines={line.pk: Decimal("1")}, reason="damaged", resolution="credit")
    elif action == "adjust":
        negotiation.save_proposal(so=_so(po), by=by, lines={})
    elif action == "accept":
        negotiation.accept_sales_order(so=_so(po), by=by)
    elif action == "decline":
        negotiation.decline_sales_order(so=_so(po), by=by, reason="Out of stock")
    elif action == "ship":
        line = _first(lines, lambda line: line.left_to_ship > 0)
        fulfilment.record_shipment(so=_so(po), by=by, lines={line.pk: line.left_to_ship}, shipped_on=today)
    else:
        raise AssertionError(f"no service for {action}")


def _service_refusal(action: str, case: Case, by) -> str | None:
    """None when the service does it (then undone: a savepoint rolled back), else its refusal."""
    try:
        with transaction.atomic():
            _call(action, case, by)
            transaction.set_rollback(True)
    except DomainError as exc:
        return exc.message
    return None


@pytest.fixture(params=STATES, scope="function")
def case(request):
    return Case(request.param)


# ----------------------------------------------------------------------- what the pages render

PO_MARKS = {
    "edit": "orders:po-line-add",
    "submit": "orders:po-submit",
    "revise": "orders:po-revise",
    "confirm": "orders:po-confirm",
    "request_changes": "orders:po-request-changes",
    "cancel": "orders:po-cancel",
    "receive": "orders:po-receive",
    "amend": "orders:po-amend",
    "mark_billed": "billing:po-mark-billed",
    "order_again": "orders:po-order-again",
    "unmark_billed": "billing:po-unmark-billed",
    "request_return": "orders:return-new",
}
PAGE_ROLES = {"customer": ("requester", "buyer", "admin", "receiver"), "supplier": ("sales", "fulfilment")}
SO_MARKS = {
    "adjust": "orders:so-proposal",
    "accept": "orders:so-accept",
    "decline": "orders:so-decline",
    "ship": "orders:so-ship",
}


def _rendered(page: str, name: str, org, number: str) -> bool:
    url = reverse(name, kwargs={"org_slug": org.slug, "number": number})
    return f'"{url}"' in page


def _check_services(case: Case) -> None:
    po = _fresh(case.po)
    has_so = SalesOrder.objects.filter(purchase_order=po).exists()
    sides = [("customer", case.customer, rules.PO_ACTIONS)]
    if has_so:
        sides.append(("supplier", case.supplier, rules.SO_ACTIONS))
    disagreements = []
    for side, members, actions in sides:
        for role, membership in members.items():
            po = _fresh(case.po)
            offered = rules.po_actions(po, membership) if side == "customer" else rules.so_actions(_so(po), membership)
            for action in actions:
                refused = _service_refusal(action, case, membership)
                expected = rules.refusal(
                    action, po=_fresh(case.po), membership=membership, so=_so(po) if has_so else None
                )
                if (refused is None) != (action in offered) or refused != expected:
                    disagreements.append(
                        f"{case.state} · {side} {role} · {action}: page {'offers' if action in offered else 'hides'} "
                        f"it, the service {'allows it' if refused is None else f'refuses: {refused}'}"
                        + (f" (the rules say: {expected})" if refused != expected else "")
                    )
    assert not disagreements, "\n".join(disagreements)


def _check_pages(case: Case, client) -> None:
    """A few roles on each side: the buttons and forms the order pages render."""
    po = _fresh(case.po)
    for role in PAGE_ROLES["customer"]:
        membership = case.customer[role]
        client.force_login(membership.user)
        page = client.get(reverse("orders:po-detail", args=[po.customer.slug, po.number])).content.decode()
        shown = {action for action, name in PO_MARKS.items() if _rendered(page, name, po.customer, po.number)}
        offered = rules.po_actions(po, membership)
        assert shown == offered, f"{case.state} · customer {role}"
    so = SalesOrder.objects.filter(purchase_order=po).first()
    if so is None:
        return
    for role in PAGE_ROLES["supplier"]:
        membership = case.supplier[role]
        client.force_login(membership.user)
        page = client.get(reverse("orders:so-detail", args=[po.supplier.slug, so.number])).content.decode()
        shown = {action for action, name in SO_MARKS.items() if _rendered(page, name, po.supplier, so.number)}
        if 'name="accept"' in page:
            shown.add("accept")
        assert shown == rules.so_actions(_so(po), membership), f"{case.state} · supplier {role}"


def test_the_page_offers_exactly_what_the_services_allow(case, client):
    _check_services(case)
    _check_pages(case, client)


# ------------------------------------------------------------------- the answers to an amendment

AMENDMENT_STATES = (
    "pending_approval",
    "proposed",
    "proposed, connection suspended",
    "lapsed: everything received since",
    "accepted",
    "declined",
    "withdrawn",
)
AMENDMENT_MARKS = {
    "accept_amendment": "orders:amendment-accept",
    "decline_amendment": "orders:amendment-decline",
    "withdraw_amendment": "orders:amendment-withdraw",
}


def _amendment_in(state: str) -> tuple[Case, Amendment]:
    case = Case("confirmed")
    trade, po = case.trade, case.po
    line = po.lines.order_by("position").first()
    amendment = amendments.request_amendment(
        po=po, by=trade.buyer, reason="More", quantities={line.pk: line.quantity + 1}
    )
    assert amendment.status == "proposed"
    if state == "pending_approval":  # as a threshold crossed would leave it
        Amendment.objects.filter(pk=amendment.pk).update(status="pending_approval", proposed_at=None)
    elif state == "accepted":
        amendments.accept_amendment(amendment=amendment, by=trade.sales)
    elif state == "declined":
        amendments.decline_amendment(amendment=amendment, by=trade.sales, reason="No stock")
    elif state == "withdrawn":
        amendments.withdraw_amendment(amendment=amendment, by=trade.buyer)
    elif state == "proposed, connection suspended":
        suspend_connection(by=trade.customer_admin, connection=trade.connection)
    elif state == "lapsed: everything received since":
        lines = {line.pk: line.quantity for line in po.lines.all()}
        fulfilment.record_shipment(
            so=po.sales_order, by=case.supplier["fulfilment"], lines=lines, shipped_on=timezone.localdate()
        )
        fulfilment.record_receipt(
            po=po,
            by=case.customer["receiver"],
            lines={pk: receipt_line(quantity=str(q)) for pk, q in lines.items()},
            received_on=timezone.localdate(),
        )
        assert _fresh(po).status == "received" and Amendment.objects.get(pk=amendment.pk).status == "lapsed"
    return case, amendment


def _answer(action: str, amendment: Amendment, by) -> str | None:
    """None when the service gives the answer (then undone), else its refusal."""
    amendment = Amendment.objects.get(pk=amendment.pk)
    try:
        with transaction.atomic():
            if action == "accept_amendment":
                amendments.accept_amendment(amendment=amendment, by=by)
            elif action == "decline_amendment":
                amendments.decline_amendment(amendment=amendment, by=by, reason="No stock")
            else:
                amendments.withdraw_amendment(amendment=amendment, by=by)
            transaction.set_rollback(True)
    except DomainError as exc:
        return exc.message
    return None


@pytest.mark.parametrize("state", AMENDMENT_STATES)
def test_the_amendment_answers_offered_are_exactly_what_the_services_allow(state, client):
    case, amendment = _amendment_in(state)
    sides = {
        "customer": (case.customer, ("withdraw_amendment",)),
        "supplier": (case.supplier, ("accept_amendment", "decline_amendment")),
    }
    disagreements = []
    for side, (members, own) in sides.items():
        for role, membership in members.items():
            po, fresh = _fresh(case.po), Amendment.objects.get(pk=amendment.pk)
            offered = rules.amendment_actions(fresh, po=po, membership=membership)
            assert offered <= set(own), f"{state} · {side} {role} is offered the other side's answer"
            for action in own:
                refused = _answer(action, amendment, membership)
                try:
                    rules.require_amendment(action, amendment=fresh, po=po, membership=membership)
                    expected = None
                except DomainError as exc:
                    expected = exc.message
                if (refused is None) != (action in offered) or refused != expected:
                    disagreements.append(f"{state} · {side} {role} · {action}: rules {expected!r}, service {refused!r}")
    assert not disagreements, "\n".join(disagreements)

    po, so = _fresh(case.po), _so(case.po)
    fresh = Amendment.objects.get(pk=amendment.pk)
    pages = (
        ("customer", ("requester", "buyer", "admin", "receiver"), "orders:po-detail", po.customer, po.number),
        ("supplier", ("admin", "sales", "fulfilment"), "orders:so-detail", po.supplier, so.number),
    )
    for side, roles, page_name, org, number in pages:
        for role in roles:
            membership = getattr(case, side)[role]
            client.force_login(membership.user)
            page = client.get(reverse(page_name, args=[org.slug, number])).content.decode()
            shown = {
                action
                for action, name in AMENDMENT_MARKS.items()
                if f'"{reverse(name, args=[org.slug, number, fresh.number])}"' in page
            }
            assert shown == rules.amendment_actions(fresh, po=po, membership=membership), f"{state} · {side} {role}"
