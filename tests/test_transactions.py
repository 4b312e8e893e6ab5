"""The transaction rule (CONTRIBUTING.md, "Dangerous constructs"): every public service that
writes runs in its own transaction; a step that only makes sense inside a caller's transaction
asserts it (``procurement.transactions.require_atomic``). The services that relied on a caller's
transaction without saying so are called here on their own, on PostgreSQL, where
``select_for_update`` outside a transaction raises ``TransactionManagementError``."""

import ast
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from accounts import services as account_services
from accounts.roles import Role
from approvals import services as approval_services
from approvals.models import ApprovalRequest
from billing.services.documents import issue_documents, revise_documents
from orders import events, revisions
from orders.models import Amendment, OrderEvent, PurchaseOrder, Revision
from orders.services import amendments, fulfilment, listings
from procurement.transactions import NotInTransaction
from tests.factories import ApprovalPolicyFactory, Trade, member, receipt_line

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(
    [
        *ROOT.glob("orders/services/*.py"),
        ROOT / "orders/events.py",
        ROOT / "orders/revisions.py",
        ROOT / "approvals/services.py",
        *ROOT.glob("billing/services/*.py"),
        ROOT / "accounts/services.py",
        ROOT / "billing/fx.py",
        ROOT / "orders/listing_csv.py",
        ROOT / "approvals/gate.py",
        ROOT / "billing/gate.py",
    ]
)
WRITES = (
    ".save(",
    ".create(",
    ".update(",
    ".delete(",
    "bulk_create(",
    "bulk_update(",
    "select_for_update(",
    "update_or_create(",
    "queue_email(",
    "record_event(",
    "notify(",
    "assign_perm(",
    "transition(",
    "snapshot(",
)
# Public writers that need no transaction of their own, and why.
OWN_TRANSACTIONS = {
    ("billing/services/payments.py", "remind_overdue_bills"): "each e-mail is queued in its own (queue_email)",
    ("orders/listing_csv.py", "read_listing_rows"): "reads a file; reports progress in short updates of their own",
}


def _writers(*, private: bool):
    for path in MODULES:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("_") == private:
                body = ast.unparse(node)
                if any(marker in body for marker in WRITES):
                    yield str(path.relative_to(ROOT)), node


def _public_writers():
    return _writers(private=False)


def _in_a_transaction(node: ast.FunctionDef) -> bool:
    if any("transaction.atomic" in ast.unparse(d) for d in node.decorator_list):
        return True
    body = ast.unparse(node)
    return "require_atomic()" in body or "with transaction.atomic()" in body


def test_every_public_writer_runs_in_a_transaction_or_asserts_one():
    writers = list(_public_writers())
    assert len(writers) > 60  # the walk finds the services
    loose = [
        f"{path}::{node.name}"
        for path, node in writers
        if not _in_a_transaction(node) and (path, node.name) not in OWN_TRANSACTIONS
    ]
    assert loose == [], "public writers outside a transaction (make them atomic, or private and asserted)"


# Private helpers the walk takes for writers, and why they need no transaction of the caller's.
NOT_WRITERS = {
    ("accounts/services.py", "_notify_customer"): "queues e-mail (queue_email opens its own transaction)",
    ("accounts/services.py", "_notify_counterparty"): "queues e-mail",
    ("approvals/services.py", "_tell_requester"): "queues e-mail",
    ("billing/services/documents.py", "_tell"): "queues e-mail",
    ("billing/services/payments.py", "_tell_customer"): "queues e-mail",
    ("approvals/services.py", "_step_approvers"): "reads (dict.update)",
    ("orders/services/drafts.py", "_check_line"): "checks values (dict.update)",
    ("orders/services/negotiation.py", "_check_proposal_line"): "checks values (dict.update)",
    ("orders/listing_csv.py", "_publish_progress"): "a progress update of its own, outside the import's transaction",
}


def test_every_private_writer_asserts_the_callers_transaction():
    writers = list(_writers(private=True))
    assert len(writers) > 10
    loose = [
        f"{path}::{node.name}"
        for path, node in writers
        if not _in_a_transaction(node) and (path, node.name) not in NOT_WRITERS
    ]
    assert loose == [], "private writers that do not say they run inside a caller's transaction (require_atomic)"


# --- the steps that assert the caller's transaction ------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_step_of_a_service_refuses_to_run_outside_a_transaction():
    trade = Trade()
    po = trade.sent()
    with pytest.raises(NotInTransaction):
        events.record_event(po, OrderEvent.Kind.MESSAGE, body="Alone")
    with pytest.raises(NotInTransaction):
        events.notify(po, "order_sent", to_supplier=True)
    with pytest.raises(NotInTransaction):
        revisions.snapshot(po, list(po.lines.all()), Revision.Kind.SUBMITTED, trade.buyer)
    assert not po.events.filter(body="Alone").exists()


# --- on PostgreSQL: each called on its own ---------------------------------------------------


@pytest.fixture
def trade():
    trade = Trade()
    trade.payables = member(trade.customer, Role.PAYABLES)
    trade.receivables = member(trade.supplier, Role.RECEIVABLES)
    trade.receiver = member(trade.customer, Role.RECEIVER)
    return trade


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_close_if_complete_runs_on_its_own(trade):
    po = trade.confirmed(lines=[{"description": "Sand", "quantity": "100", "unit": "kg", "unit_price": "1"}])
    trade.paid(po)
    (line,) = po.lines.all()
    fulfilment.record_receipt(
        po=po, by=trade.receiver, lines={line.pk: receipt_line(quantity="97")}, received_on=timezone.localdate()
    )
    assert fulfilment.close_if_complete(po=PurchaseOrder(pk=po.pk)) is False  # 3 % short: it waits
    account_services.update_tolerance_policy(by=trade.customer_admin, under_receipt_percent=Decimal("3"))
    assert fulfilment.close_if_complete(po=PurchaseOrder(pk=po.pk)) is True
    po.refresh_from_db()
    assert po.status == PurchaseOrder.Status.CLOSED and po.sales_order.status == "completed"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_writers_other_apps_call_run_on_their_own(trade):
    approver = member(trade.customer, Role.APPROVER)
    po = trade.confirmed()
    invoice, bill = issue_documents(po=po)
    assert revise_documents(po=po, lines=list(po.lines.all())) is not None  # billing, for an amendment

    ApprovalPolicyFactory(
        organization=trade.customer,
        steps=[{"name": "Finance", "threshold": Decimal("30"), "approvers": [approver.user]}],
    )
    (line,) = po.lines.all()
    amendment = amendments.request_amendment(po=po, by=trade.buyer, reason="More", quantities={line.pk: Decimal("20")})
    assert amendment.status == Amendment.Status.PENDING_APPROVAL
    amendments.propose_amendment(amendment=amendment, po=po)  # what approvals asks once approved
    amendment.refresh_from_db()
    assert amendment.status == Amendment.Status.PROPOSED

    approval_services.withdraw_open_requests(po)  # what orders asks through the interface
    assert ApprovalRequest.objects.get(amendment=amendment).status == ApprovalRequest.Status.WITHDRAWN


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_reprice_drafts_runs_on_its_own(trade):
    po = trade.draft()
    type(trade.listing).objects.filter(pk=trade.listing.pk).update(unit_price=Decimal("3.00"))
    trade.listing.refresh_from_db()
    assert listings.reprice_drafts([trade.listing]) == 1
    po.refresh_from_db()
    assert po.total == Decimal("30.00")
