"""What needs real locking: PostgreSQL, with transactions that really commit."""

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection, transaction

from accounts import services
from accounts.models import Connection, ConnectionEvent, OutboundEmail
from tests.factories import ConnectionFactory, OrganizationFactory, bill_line, member, receipt_line

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_thread(fn):
    """Run ``fn`` in a worker thread with its own database connection, closed afterwards."""

    def run(*args):
        try:
            return fn(*args)
        finally:
            connection.close()

    return run


def test_concurrent_document_numbers_never_repeat():
    org = OrganizationFactory()

    @_in_thread
    def take(_):
        with transaction.atomic():
            return services.next_document_number(organization=org, kind="po")

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(take, range(40)))
    assert sorted(numbers) == [f"PO-{n:06d}" for n in range(1, 41)]


def test_concurrent_suspensions_record_one_transition():
    conn = ConnectionFactory()
    customer_admin, supplier_admin = member(conn.customer), member(conn.supplier)

    @_in_thread
    def suspend(by):
        try:
            services.suspend_connection(by=by, connection=conn)
            return "ok"
        except Exception as exc:  # the others find it suspended already
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(suspend, [customer_admin, supplier_admin] * 5))
    assert results.count("ok") == 1
    assert set(results) == {"ok", "DomainError"}
    assert ConnectionEvent.objects.filter(connection=conn, kind="suspended").count() == 1
    assert Connection.objects.get(pk=conn.pk).status == "suspended"


def test_twenty_concurrent_confirmations_confirm_once():
    from orders.models import OrderEvent, PurchaseOrder
    from orders.services import negotiation
    from tests.factories import Trade

    trade = Trade()
    po = trade.sent()
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)

    @_in_thread
    def confirm(_):
        try:
            negotiation.confirm_purchase_order(po=PurchaseOrder(pk=po.pk), by=trade.buyer)
            return "ok"
        except Exception as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(confirm, range(20)))
    assert results.count("ok") == 1, results
    assert set(results) == {"ok", "DomainError"}
    assert OrderEvent.objects.filter(purchase_order=po, kind="confirmed").count() == 1
    po.refresh_from_db()
    assert (po.status, po.sales_order.status) == ("confirmed", "confirmed")
    # The one confirmation scheduled one e-mail to each side, sent after its commit.
    assert OutboundEmail.objects.filter(key__startswith=f"order_confirmed:{po.pk}:").count() == 2
    assert sorted(m.subject for m in mail.outbox if "confirmed" in m.subject) == [
        f"{po.number} is confirmed",
        f"{po.sales_order.number} is confirmed by {trade.customer.name}",
    ]
    # …and its documents' task (run at commit here): exactly one invoice and one bill.
    from billing.models import Bill, Invoice

    assert Invoice.objects.filter(purchase_order=po).count() == 1
    assert Bill.objects.filter(purchase_order=po, invoice__purchase_order=po).count() == 1


def test_twenty_concurrent_document_tasks_make_one_invoice_and_one_bill():
    from accounts.models import OutboundEmail
    from billing.models import Bill, BillLine, Invoice, InvoiceLine
    from billing.tasks import issue_documents
    from orders.models import OrderEvent, PurchaseOrder, SalesOrder
    from orders.services import negotiation
    from tests.factories import Trade

    trade = Trade()
    po = trade.sent()
    negotiation.accept_sales_order(so=po.sales_order, by=trade.sales)
    PurchaseOrder.objects.filter(pk=po.pk).update(status="confirmed")  # confirmed, its task not yet run
    SalesOrder.objects.filter(pk=po.sales_order.pk).update(status="confirmed")

    @_in_thread
    def run(_):
        return issue_documents.apply(args=[po.pk]).result

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, range(20)))
    assert set(results) == {"INV-000001 / BILL-000001"}, results
    assert (Invoice.objects.count(), Bill.objects.count()) == (1, 1)
    assert (InvoiceLine.objects.count(), BillLine.objects.count()) == (1, 1)
    assert OrderEvent.objects.filter(purchase_order=po, kind="invoiced").count() == 1
    assert OutboundEmail.objects.filter(key__startswith="invoice_issued:").count() == 1
    assert OutboundEmail.objects.filter(key__startswith="bill_received:").count() == 1


def test_concurrent_purchase_orders_never_share_a_number():
    from orders.models import PurchaseOrder
    from orders.services.drafts import create_purchase_order
    from tests.factories import Trade

    trade = Trade()

    @_in_thread
    def create(_):
        return create_purchase_order(by=trade.buyer, connection=trade.connection).number

    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(create, range(30)))
    assert len(set(numbers)) == 30
    assert PurchaseOrder.objects.filter(customer=trade.customer).count() == 30


def test_two_approvers_deciding_the_last_step_at_once_release_the_order_once():
    import threading
    from decimal import Decimal

    from accounts.roles import Role
    from approvals import services as approval_services
    from approvals.models import ApprovalRequest
    from orders.models import OrderEvent, SalesOrder
    from tests.factories import ApprovalPolicyFactory, Trade

    trade = Trade()
    first, second = member(trade.customer, Role.APPROVER), member(trade.customer, Role.APPROVER)
    ApprovalPolicyFactory(
        organization=trade.customer,
        steps=[{"name": "Managers", "threshold": Decimal("0"), "approver_role": "approver"}],
    )
    po = trade.sent()
    assert po.status == "pending_approval"
    request = ApprovalRequest.objects.get(purchase_order=po)
    barrier = threading.Barrier(2)

    @_in_thread
    def approve(by):
        barrier.wait()
        try:
            approval_services.approve_step(request=ApprovalRequest(pk=request.pk), by=by)
            return "ok"
        except Exception as exc:  # the other finds it approved already
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(approve, [first, second]))
    assert sorted(results) == ["DomainError", "ok"], results
    po.refresh_from_db()
    assert po.status == "sent" and SalesOrder.objects.filter(purchase_order=po).count() == 1
    assert OrderEvent.objects.filter(purchase_order=po, kind="sent").count() == 1
    assert OutboundEmail.objects.filter(key__startswith=f"order_sent:{po.pk}:").count() == 1
    assert request.steps.get().decisions.count() == 1


def test_two_submissions_cannot_both_spend_the_last_of_a_budget():
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from accounts.roles import Role
    from orders.models import PurchaseOrder
    from orders.services import submission
    from tests.factories import BudgetFactory, Trade

    trade = Trade()
    owner = member(trade.customer, Role.APPROVER)
    today = timezone.localdate()
    BudgetFactory(
        organization=trade.customer,
        cost_center=trade.cost_center,
        period_start=today - timedelta(days=1),
        period_end=today + timedelta(days=30),
        amount=Decimal("100"),
        owner=owner.user,
    )
    line = {"description": "X", "quantity": "1", "unit": "ea", "unit_price": "60", "cost_center": trade.cost_center}
    drafts = [trade.draft(lines=[line]) for _ in range(2)]

    @_in_thread
    def submit(po):
        submission.submit_purchase_order(po=PurchaseOrder(pk=po.pk), by=trade.buyer)
        return PurchaseOrder.objects.get(pk=po.pk).status

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = list(pool.map(submit, drafts))
    assert sorted(statuses) == ["pending_approval", "sent"]  # 60 + 60 > 100: the second waits for the owner


def _fulfilment_trade(tolerance="0"):
    from decimal import Decimal

    from accounts import services as account_services
    from accounts.roles import Role
    from tests.factories import Trade

    trade = Trade()
    if tolerance != "0":
        account_services.update_tolerance_policy(by=trade.customer_admin, over_receipt_percent=Decimal(tolerance))
    trade.shipper = member(trade.supplier, Role.FULFILMENT)
    trade.receiver = member(trade.customer, Role.RECEIVER)
    po = trade.confirmed(lines=[{"listing": trade.listing, "quantity": "10"}])
    return trade, po, po.lines.get()


def test_concurrent_receipts_never_exceed_the_ordered_quantity_plus_tolerance():
    from django.utils import timezone

    from orders.models import PurchaseOrder, PurchaseOrderLine, ReceiptLine
    from orders.services import fulfilment

    trade, po, line = _fulfilment_trade(tolerance="10")  # at most 11 of 10

    @_in_thread
    def receive(_):
        try:
            fulfilment.record_receipt(
                po=PurchaseOrder(pk=po.pk),
                by=trade.receiver,
                lines={line.pk: receipt_line(quantity="3")},
                received_on=timezone.localdate(),
            )
            return "ok"
        except Exception as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(receive, range(12)))
    assert results.count("ok") == 3, results  # 3 × 3 = 9; a fourth would make 12 > 11
    assert set(results) == {"ok", "DomainError"}
    line = PurchaseOrderLine.objects.get(pk=line.pk)
    assert line.quantity_received == 9
    assert sum(ReceiptLine.objects.filter(po_line=line).values_list("quantity", flat=True)) == 9
    assert list(PurchaseOrder.objects.get(pk=po.pk).receipts.values_list("number", flat=True)) == [1, 2, 3]


def test_concurrent_shipments_never_exceed_the_ordered_quantity():
    from django.utils import timezone

    from orders.models import PurchaseOrderLine, SalesOrder, ShipmentLine
    from orders.services import fulfilment

    trade, po, line = _fulfilment_trade()
    so = po.sales_order

    @_in_thread
    def ship(_):
        try:
            fulfilment.record_shipment(
                so=SalesOrder(pk=so.pk),
                by=trade.shipper,
                lines={line.pk: Decimal("4")},
                shipped_on=timezone.localdate(),
            )
            return "ok"
        except Exception as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(ship, range(10)))
    assert results.count("ok") == 2, results  # 4 + 4 = 8; a third would make 12 > 10
    assert set(results) == {"ok", "DomainError"}
    assert PurchaseOrderLine.objects.get(pk=line.pk).quantity_shipped == 8
    assert sum(ShipmentLine.objects.filter(po_line=line).values_list("quantity", flat=True)) == 8
    assert SalesOrder.objects.get(pk=so.pk).status == "partially_shipped"


@pytest.mark.parametrize("kind", ["order", "by hand"])
def test_concurrent_payments_never_overpay_a_bill(kind):
    """20 payables clerks pay 5.00 of a 25.00 bill at once: five succeed, the bill is paid
    exactly, the others are refused (a bill by hand has only its own row lock: checked to
    lose payments with it removed)."""
    from datetime import date

    from accounts.roles import Role
    from billing.models import Payment
    from billing.services.documents import issue_documents
    from billing.services.payments import record_payment
    from tests.factories import Trade

    trade = Trade()
    payables = member(trade.customer, Role.PAYABLES)
    if kind == "order":
        _, bill = issue_documents(po=trade.confirmed())
    else:
        bill = _bill_by_hand(trade, payables)
    assert bill.total == 25

    @_in_thread
    def pay(_):
        try:
            record_payment(bill=bill, by=payables, amount=Decimal("5.00"), paid_on=date.today(), method="bank_transfer")
            return "ok"
        except Exception as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(pay, range(20)))
    assert results.count("ok") == 5
    assert set(results) == {"ok", "DomainError"}
    bill.refresh_from_db()
    assert (bill.status, bill.paid_total) == ("paid", 25)
    assert sum(p.amount for p in Payment.objects.filter(bill=bill)) == 25


def test_a_verification_and_a_payment_racing_keep_the_bill_right():
    """Receivables verifies short while payables pays the rest: whatever the order, the bill's
    totals are the sum of its payments."""
    from datetime import date

    from accounts.roles import Role
    from billing.models import Bill
    from billing.services.documents import issue_documents
    from billing.services.payments import record_payment, verify_payment
    from tests.factories import Trade

    trade = Trade()
    payables, receivables = member(trade.customer, Role.PAYABLES), member(trade.supplier, Role.RECEIVABLES)
    po = trade.confirmed()
    _, bill = issue_documents(po=po)
    first = record_payment(bill=bill, by=payables, amount=Decimal("20"), paid_on=date.today(), method="cash")

    @_in_thread
    def act(which):
        if which == "verify":
            verify_payment(payment=first, by=receivables, amount_received=Decimal("19"))
        else:
            record_payment(bill=bill, by=payables, amount=Decimal("5"), paid_on=date.today(), method="cash")

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(act, ["verify", "pay"]))
    bill = Bill.objects.get(pk=bill.pk)
    assert (bill.paid_total, bill.verified_total, bill.status) == (24, 19, "partially_paid")


def _bill_by_hand(trade, payables, total="25"):
    from datetime import date

    from billing.services.bills import create_bill

    return create_bill(
        by=payables,
        supplier=trade.supplier,
        currency="USD",
        bill_date=date.today(),
        due_date=date.today(),
        lines=[bill_line(description="Paper invoice", quantity="1", unit_price=total)],
    )


def _cancel_and_unmatch_at_once(bill, match, payables) -> list[str]:
    from billing.services.billed import unmatch_bill
    from billing.services.bills import cancel_bill

    @_in_thread
    def act(which):
        try:
            if which == "cancel":
                cancel_bill(bill=bill, by=payables, reason="Twice")
            else:
                unmatch_bill(match=match, by=payables)
            return "ok"
        except Exception as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(act, ["cancel", "unmatch"]))


def test_cancelling_and_unmatching_a_bill_at_once_never_deadlock():
    """Both take the order's lock before the bill's: one waits for the other, neither fails
    with a deadlock (which they did when cancelling locked the bill first)."""
    from accounts.roles import Role
    from billing.models import BillMatch
    from billing.services.billed import match_bill
    from billing.services.bills import cancel_bill
    from billing.services.documents import issue_documents
    from tests.factories import Trade

    for _ in range(5):
        trade = Trade()
        payables = member(trade.customer, Role.PAYABLES)
        po = trade.confirmed()
        _, own = issue_documents(po=po)
        cancel_bill(bill=own, by=payables, reason="On paper")
        bill = _bill_by_hand(trade, payables)
        match = match_bill(bill=bill, po=po, amount=Decimal("25"), by=payables)
        results = _cancel_and_unmatch_at_once(bill, match, payables)
        assert "OperationalError" not in results, results
        assert results.count("ok") >= 1
        assert BillMatch.objects.get(pk=match.pk).unmatched_at is not None


def test_concurrent_amendments_open_one_and_an_acceptance_racing_a_receipt_keeps_the_rule():
    """Eight buyers amending at once open one amendment; accepting it while the same line is
    received either applies it before the receipt or finds it lapsed by the receipt (never both)."""
    from django.utils import timezone

    from orders.models import Amendment, PurchaseOrder, PurchaseOrderLine
    from orders.services import amendments, fulfilment

    trade, po, line = _fulfilment_trade()

    @_in_thread
    def amend(n):
        try:
            amendments.request_amendment(
                po=PurchaseOrder(pk=po.pk), by=trade.buyer, reason="More", quantities={line.pk: Decimal(11 + n)}
            )
            return "ok"
        except Exception as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(amend, range(8)))
    assert results.count("ok") == 1 and set(results) == {"ok", "DomainError"}, results
    amendment = Amendment.objects.get(purchase_order=po)

    @_in_thread
    def act(what):
        try:
            if what == "accept":
                amendments.accept_amendment(amendment=Amendment(pk=amendment.pk), by=trade.sales)
            else:
                fulfilment.record_receipt(
                    po=PurchaseOrder(pk=po.pk),
                    by=trade.receiver,
                    lines={line.pk: receipt_line(quantity="1")},
                    received_on=timezone.localdate(),
                )
            return "ok"
        except Exception as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=2) as pool:
        accepted, received = pool.map(act, ["accept", "receive"])
    assert received == "ok"
    line = PurchaseOrderLine.objects.get(pk=line.pk)
    status = Amendment.objects.get(pk=amendment.pk).status
    if accepted == "ok":  # accepted first: the receipt came after, against the new quantity
        assert status == "accepted" and line.quantity == amendment.lines.get().new_quantity
    else:  # received first: the amendment lapsed, and the acceptance is refused
        assert accepted == "DomainError" and status == "lapsed" and line.quantity == 10
