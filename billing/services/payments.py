"""Payments of bills: recorded by payables (with a proof of payment), verified or disputed
by the supplier's receivables, and the reminders of overdue bills. Lock order: see ``common``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.mail import queue_email
from accounts.models import Membership
from accounts.permissions import require
from orders.events import emails_of, record_event
from orders.models import OrderEvent, PurchaseOrder
from orders.rules import require_active
from orders.services.fulfilment import close_if_complete
from procurement import uploads
from procurement.errors import DomainError, NotAllowed
from procurement.money import format_money
from procurement.transactions import require_atomic
from procurement.transitions import transition
from procurement.validators import business_day, clean_text, format_date

from ..fx import record_fx
from ..models import Bill, BillMatch, Invoice, Payment
from .common import _amount, _bill_url, _invoice_url, _lock_bill, _verify_url


@transaction.atomic
def record_payment(
    *,
    bill: Bill,
    by: Membership,
    amount: Decimal | None,
    paid_on: date | None,
    method: str,
    reference: str = "",
    attachment: UploadedFile | None = None,
) -> Payment:
    """Transition 13: payables records a payment of at most what is outstanding (the total less
    the returns credited and what was paid already). It counts at once (the bill becomes partly
    paid or paid) and waits for the supplier's verification. Under the order's and the bill's
    row locks two payments cannot both take the last of what is owed, nor a payment what a credit
    note took off meanwhile (``credits.issue_credit_notes`` takes the same locks in the same
    order); the bill's check constraint is the last line."""
    require(by, "billing.add_payment")
    bill = _lock_bill(bill, by)
    if bill.purchase_order_id:
        require_active(bill.purchase_order)
    if bill.status not in Bill.OPEN_STATES:
        raise DomainError(f"This bill is {bill.get_status_display().lower()}: nothing is left to pay.")
    amount = _amount(amount, bill.currency, "amount")
    if amount > bill.outstanding:  # what is left of the total net of returns credited (under the lock)
        after_returns = (
            f" (after {format_money(bill.credited_total, bill.currency)} of returns credited)"
            if bill.credited_total
            else ""
        )
        raise DomainError(
            f"At most {format_money(bill.outstanding, bill.currency)} is outstanding on this bill{after_returns}.",
            field="amount",
        )
    paid_on = business_day(paid_on, "paid_on")
    if paid_on is None:
        raise DomainError("When was it paid?", field="paid_on")
    if paid_on > timezone.localdate():
        raise DomainError("A payment cannot be recorded before it is made.", field="paid_on")
    if method not in Payment.Method.values:
        raise DomainError("Choose how it was paid.", field="method")
    reference = clean_text(reference, "reference", limit=100)
    attachment_name = uploads.attachment_name(attachment, field="attachment", fallback="proof-of-payment")
    payment = Payment(
        bill=bill,
        invoice=bill.invoice,
        customer=bill.customer,
        supplier=bill.supplier,
        amount=amount,
        currency=bill.currency,
        paid_on=paid_on,
        method=method,
        reference=reference,
        recorded_by=by.user,
    )
    if attachment is not None:
        payment.attachment_name = attachment_name[-200:]
        payment.attachment.save(attachment_name, attachment, save=False)
    payment.save()
    bill.paid_total += amount
    transition(bill, "settle", "settled", noun="This bill")
    bill.save()
    record_fx(bill=bill)  # invoice → payment, when both rates are known
    words = (
        f"Payment of {format_money(amount, bill.currency)} recorded ({payment.get_method_display().lower()}"
        + (f", reference {reference}" if reference else "")
        + f", paid {format_date(paid_on)}); it waits for {bill.supplier.name}'s verification."
    )
    if bill.purchase_order_id:
        record_event(bill.purchase_order, OrderEvent.Kind.PAYMENT, by=by, body=words, data={"payment": payment.pk})
    url = _invoice_url(bill.invoice) if bill.invoice_id else _verify_url(payment)
    queue_email(
        key=f"payment_recorded:{payment.pk}",
        to=emails_of(bill.supplier, "receivables"),
        template="payment_recorded",
        organization=bill.supplier,
        attachments=[{"renderer": "invoice_pdf", "pk": bill.invoice_id}] if bill.invoice_id else [],
        context={"bill": bill, "invoice": bill.invoice, "payment": payment, "url": url},
    )
    return payment


def _lock_payment_for_supplier(payment: Payment, by: Membership) -> tuple[Payment, Bill]:
    require_atomic()
    payment = Payment.objects.filter(pk=payment.pk, supplier_id=by.organization_id).first()
    if payment is None:
        raise NotAllowed("This payment is not to you.")
    # The orders first (the bill's own, or those a bill by hand is matched to), then the bill.
    own = Bill.objects.filter(pk=payment.bill_id).values_list("purchase_order_id", flat=True).first()
    orders = (
        {own}
        if own
        else set(
            BillMatch.objects.filter(bill_id=payment.bill_id, unmatched_at__isnull=True).values_list(
                "purchase_order_id", flat=True
            )
        )
    )
    list(PurchaseOrder.objects.select_for_update(of=("self",)).filter(pk__in=orders).order_by("pk"))
    bill = (
        Bill.objects.select_for_update(of=("self",))
        .select_related("customer", "supplier", "invoice")
        .get(pk=payment.bill_id)
    )
    payment = Payment.objects.select_for_update(of=("self",)).get(pk=payment.pk)
    if payment.status != Payment.Status.PENDING:
        raise DomainError(f"This payment is {payment.get_status_display().lower()} already.")
    if bill.purchase_order_id:
        require_active(bill.purchase_order)
    return payment, bill


@transaction.atomic
def verify_payment(*, payment: Payment, by: Membership, amount_received: Decimal | None) -> Payment:
    """Transition 14: the supplier's receivables confirm what actually arrived (at most the
    amount paid). The invoice is *paid* once verified payments cover what it asks (its total
    less its credit notes), which may close the order pair (transition 15)."""
    require(by, "billing.verify_payment")
    payment, bill = _lock_payment_for_supplier(payment, by)
    received = _amount(amount_received, payment.currency, "amount_received", positive=False)
    if received <= 0:
        raise DomainError("Nothing arrived? Dispute the payment instead, saying why.", field="amount_received")
    if received > payment.amount:
        raise DomainError(
            f"At most the {format_money(payment.amount, payment.currency)} that was paid.", field="amount_received"
        )
    transition(payment, "verify", "verified", noun="This payment", by=by.user, amount_received=received)
    payment.save()
    bill.paid_total -= payment.amount - received
    bill.verified_total += received
    transition(bill, "settle", "settled", noun="This bill")
    bill.save()
    record_fx(bill=bill)  # a payment verified short settled what arrived
    invoice = bill.invoice
    if invoice is not None and invoice.status == Invoice.Status.OPEN and bill.verified_total >= invoice.net_total:
        transition(invoice, "mark_paid", "marked paid", noun=f"Invoice {invoice.number}")
        invoice.save()
    short = payment.amount - received
    words = f"Payment of {format_money(payment.amount, payment.currency)} verified by {bill.supplier.name}" + (
        f": {format_money(received, payment.currency)} arrived, {format_money(short, payment.currency)} short."
        if short
        else "."
    )
    if bill.purchase_order_id:
        record_event(
            bill.purchase_order, OrderEvent.Kind.PAYMENT_VERIFIED, by=by, body=words, data={"payment": payment.pk}
        )
        close_if_complete(po=bill.purchase_order)
    else:  # a bill by hand may be what pays the orders it is matched to
        for match in bill.matches.filter(unmatched_at__isnull=True).select_related("purchase_order"):
            close_if_complete(po=match.purchase_order)
    _tell_customer(bill, payment, "payment_verified", short=short)
    return payment


@transaction.atomic
def dispute_payment(*, payment: Payment, by: Membership, reason: str) -> Payment:
    """Transition 14: the supplier says the payment did not arrive as recorded; it no longer
    counts, so the bill is owed again and payables hear why."""
    require(by, "billing.verify_payment")
    reason = clean_text(reason, "reason", required=True)
    payment, bill = _lock_payment_for_supplier(payment, by)
    transition(payment, "dispute", "disputed", noun="This payment", by=by.user, reason=reason)
    payment.save()
    bill.paid_total -= payment.amount
    transition(bill, "settle", "settled", noun="This bill")
    bill.save()
    record_fx(bill=bill)  # a disputed payment's figure goes
    if bill.purchase_order_id:
        record_event(
            bill.purchase_order,
            OrderEvent.Kind.PAYMENT_DISPUTED,
            by=by,
            body=f"Payment of {format_money(payment.amount, payment.currency)} disputed by {bill.supplier.name}: "
            f"{reason}",
            data={"payment": payment.pk},
        )
    _tell_customer(bill, payment, "payment_disputed")
    return payment


def _tell_customer(bill: Bill, payment: Payment, template: str, **context) -> None:
    po = bill.purchase_order
    to = [*emails_of(bill.customer, "payables")]
    if payment.recorded_by:
        to.append(payment.recorded_by.email)
    if po is not None:
        to.append(po.requester.email)
    queue_email(
        key=f"{template}:{payment.pk}",
        to=to,
        template=template,
        organization=bill.customer,
        attachments=[{"renderer": "bill_pdf", "pk": bill.pk}],
        context={"bill": bill, "payment": payment, "url": _bill_url(bill), **context},
    )


def remind_overdue_bills() -> int:
    """E-mail payables (and the order's requester) once per overdue bill and due date."""
    overdue = Bill.objects.filter(status__in=Bill.OPEN_STATES, due_date__lt=timezone.localdate()).select_related(
        "customer", "supplier", "purchase_order__requester"
    )
    count = 0
    for bill in overdue.iterator(chunk_size=200):
        to = emails_of(bill.customer, "payables")
        if bill.purchase_order_id:
            to.append(bill.purchase_order.requester.email)
        queue_email(
            key=f"bill_overdue:{bill.pk}:{bill.due_date:%Y%m%d}",
            to=to,
            template="bill_overdue",
            organization=bill.customer,
            attachments=[{"renderer": "bill_pdf", "pk": bill.pk}],
            context={"bill": bill, "url": _bill_url(bill)},
        )
        count += 1
    return count
