"""billing's side of ``orders.interfaces.Billing``: what orders asks of invoices, bills and payments.

Registered by ``BillingConfig.ready``. orders never reads billing's tables itself: whether an order
is paid, what was paid or matched against it, and the billing part of its pages come from here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet, Sum

from accounts.models import Membership
from accounts.permissions import can
from orders.models import PurchaseOrder, PurchaseOrderLine
from procurement.background import enqueue_on_commit
from procurement.errors import DomainError
from procurement.money import format_money

from . import fx, selectors, tasks
from .models import Bill, BillMatch, CreditNote, DebitNote, Invoice
from .services import documents


class BillingGate:
    def issue_documents_after_commit(self, *, po: PurchaseOrder) -> None:
        # By a Celery task after commit: a broker that is down never fails the confirmation
        # (the beat sweep issue_missing_documents queues it again; the task is idempotent).
        enqueue_on_commit(tasks.issue_documents, po.pk)

    def revise_documents(self, *, po: PurchaseOrder, lines: list[PurchaseOrderLine]) -> None:
        documents.revise_documents(po=po, lines=lines)

    def record_receipt_fx(self, *, po: PurchaseOrder) -> None:
        fx.record_order_fx(po=po)  # the goods against the order's bill, if it exists yet

    def return_notes(self, *, po: PurchaseOrder, side: str) -> dict[int, Any]:
        """The order's credit notes (the supplier's side) or debit notes (the customer's) by the
        return each settles: one query."""
        model = CreditNote if side == "supplier" else DebitNote
        return {note.return_request_id: note for note in model.objects.filter(purchase_order=po)}

    def is_paid(self, *, po: PurchaseOrder) -> bool:
        """Paid and verified: the invoice is paid; or, when the customer cancelled the order's own
        bill, the bills matched to the order bill it and each is verified."""
        if Invoice.objects.filter(purchase_order=po, status=Invoice.Status.PAID).exists():
            return True
        if po.billed_at is None or not Bill.objects.filter(purchase_order=po, status=Bill.Status.CANCELLED).exists():
            return False
        matched = BillMatch.objects.filter(purchase_order=po, unmatched_at__isnull=True)
        return matched.exists() and not matched.exclude(bill__status=Bill.Status.VERIFIED).exists()

    def check_total(self, *, po: PurchaseOrder, total: Decimal) -> None:
        """The order's bill never falls under what was paid on it, nor the order under the bills
        by hand matched to it (a cancelled line lowers the total)."""
        bill = Bill.objects.filter(purchase_order=po).exclude(status=Bill.Status.CANCELLED).first()
        if bill is not None and bill.paid_total > total:
            raise DomainError(
                f"{format_money(bill.paid_total, po.currency)} has been paid on {bill.number} already: the "
                f"amended total {format_money(total, po.currency)} cannot be less."
            )
        matched = BillMatch.objects.filter(purchase_order=po, unmatched_at__isnull=True).aggregate(s=Sum("amount"))["s"]
        if matched and matched > total:
            raise DomainError(
                f"Bills matched to {po.number} amount to {format_money(matched, po.currency)}: the amended total "
                f"{format_money(total, po.currency)} cannot be less (unmatch them first)."
            )

    def with_bill_matches(self, orders: QuerySet[PurchaseOrder]) -> QuerySet[PurchaseOrder]:
        return orders.annotate(
            has_bill_matches=Exists(BillMatch.objects.filter(purchase_order=OuterRef("pk"), unmatched_at__isnull=True))
        )

    def order_page(self, *, po: PurchaseOrder, side: str, membership: Membership) -> dict[str, Any]:
        context: dict[str, Any] = {"document": None}
        if side == "customer" and po.status in PurchaseOrder.APPROVED and getattr(po, "has_bill_matches", True):
            context["billed_matches"] = list(selectors.live_matches_to(po))
        if po.confirmed_at is None:
            return context
        if side == "customer":
            bill = selectors.bill_of(po)
            context["document"] = bill
            context["bill_match"] = selectors.three_way(bill) if bill else None
            context["can_pay"] = (
                bool(bill) and bill.status in bill.OPEN_STATES and can(membership, "billing.add_payment")
            )
        else:
            invoice = selectors.invoice_of(po)
            context["document"] = invoice
            context["to_verify"] = (
                selectors.payments_to_verify(invoice) if invoice and can(membership, "billing.verify_payment") else 0
            )
        return context
