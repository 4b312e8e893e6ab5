"""What the billing services share: amounts checked against their currency, the row locks and the links
of the e-mails.

Lock order, everywhere: the purchase order first (when there is one), then the bill, then the
invoice, then the payment or the return — the order services lock the order first too, so no two
of them wait on each other.
"""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse

from accounts.mail import absolute_url
from accounts.models import Membership
from orders.models import PurchaseOrder
from procurement.errors import DomainError, NotAllowed
from procurement.money import MoneyError, parse_price
from procurement.transactions import require_atomic

from ..models import Bill, CreditNote, DebitNote, Invoice, Payment


def _amount(value: Decimal | None, currency: str, field: str, *, positive: bool = True) -> Decimal:
    """An amount (parsed by the form) that the currency can hold: within its minor units and
    the money columns, not negative (and above zero when ``positive``)."""
    if value is None:
        raise DomainError("Enter an amount.", field=field)
    try:
        value = parse_price(value, currency)
    except MoneyError as exc:
        raise DomainError(str(exc), field=field) from None
    if positive and value <= 0:
        raise DomainError("Enter an amount greater than zero.", field=field)
    return value


def _lock_bill(bill: Bill, by: Membership) -> Bill:
    """The bill under its row lock (its order's row locked first), or 404-like refusal when it
    is not the member's organization's."""
    require_atomic()
    if bill.purchase_order_id:
        PurchaseOrder.objects.select_for_update(of=("self",)).filter(pk=bill.purchase_order_id).first()
    locked = (
        Bill.objects.select_for_update(of=("self",))
        .select_related("purchase_order", "supplier", "customer", "invoice")
        .filter(pk=bill.pk, customer_id=by.organization_id)
        .first()
    )
    if locked is None:
        raise NotAllowed("This bill is not yours.")
    return locked


def _bill_url(bill: Bill) -> str:
    return absolute_url(reverse("billing:bill-detail", kwargs={"org_slug": bill.customer.slug, "number": bill.number}))


def _invoice_url(invoice: Invoice) -> str:
    return absolute_url(
        reverse("billing:invoice-detail", kwargs={"org_slug": invoice.supplier.slug, "number": invoice.number})
    )


def _credit_note_url(note: CreditNote) -> str:
    return absolute_url(
        reverse("billing:credit-note-detail", kwargs={"org_slug": note.supplier.slug, "number": note.number})
    )


def _debit_note_url(note: DebitNote) -> str:
    return absolute_url(
        reverse("billing:debit-note-detail", kwargs={"org_slug": note.customer.slug, "number": note.number})
    )


def _verify_url(payment: Payment) -> str:
    return absolute_url(reverse("billing:payment-verify", kwargs={"org_slug": payment.supplier.slug, "pk": payment.pk}))


def _lock_po_of_customer(po: PurchaseOrder, by: Membership) -> PurchaseOrder:
    require_atomic()
    locked = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("customer", "supplier")
        .filter(pk=po.pk, customer_id=by.organization_id)
        .first()
    )
    if locked is None:
        raise NotAllowed("This order is not yours.")
    return locked
