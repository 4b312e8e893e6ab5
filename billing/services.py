"""Every write of the billing app: the documents of a confirmed order, bills entered by hand,
the PO lock, bill-to-PO matching and the *billed* mark, payments and their verification.

Lock order, everywhere: the purchase order first (when there is one), then the bill, then the
payment — the order services lock the order first too, so no two of them wait on each other.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.text import get_valid_filename

from accounts.mail import absolute_url, queue_email
from accounts.models import Location, Membership, Organization
from accounts.permissions import can, require
from accounts.selectors import tolerances_for
from accounts.services import next_document_number
from orders.events import emails_of, notify, record_event
from orders.models import OrderEvent, PurchaseOrder, PurchaseOrderLine
from orders.services.common import clean_date, require_active
from orders.services.fulfilment import close_if_complete
from orders.totals import line_amounts, require_fits
from orders.units import UNITS, quantity_error
from procurement.errors import DomainError, NotAllowed
from procurement.money import CURRENCIES, MoneyError, format_money, parse_decimal, parse_price
from procurement.validators import clean_text

from .fx import record_fx
from .models import Bill, BillLine, BillMatch, Invoice, InvoiceLine, Payment

LINE_FIELDS = ("sku", "description", "quantity", "unit", "unit_price", "tax_rate", "line_total", "tax_amount")
INVOICED = (
    PurchaseOrder.Status.CONFIRMED,
    PurchaseOrder.Status.PARTIALLY_RECEIVED,
    PurchaseOrder.Status.RECEIVED,
    PurchaseOrder.Status.CLOSED,
)


@transaction.atomic
def issue_documents(*, po: PurchaseOrder) -> tuple[Invoice, Bill] | None:
    """The system makes exactly one invoice and one bill of a confirmed order, linked to each
    other and to the order, with the lines of the confirmed revision and the due date of the
    payment terms (or the invoice due date the supplier proposed).

    Idempotent: under the order's row lock, a second run finds them and writes nothing; the
    one-to-one constraints make a second pair impossible whatever happens. Returns None for an
    order that is not confirmed (nothing to invoice)."""
    po = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("customer", "supplier", "sales_order", "ship_to", "requester")
        .get(pk=po.pk)
    )
    if po.status not in INVOICED:
        return None
    invoice = Invoice.objects.filter(purchase_order=po).first()
    bill = Bill.objects.filter(purchase_order=po).first()
    if invoice is not None and bill is not None:
        return invoice, bill
    lines = [line for line in po.lines.all() if not line.is_void]
    today = timezone.localdate()
    due = po.invoice_due_date or today + timedelta(days=po.payment_terms_days)
    amounts = {
        "currency": po.currency,
        "revision": po.revision_number,
        "due_date": due,
        "subtotal": po.subtotal,
        "discount": po.discount,
        "tax_total": po.tax_total,
        "total": po.total,
    }
    if invoice is None:
        for line in lines:
            line.quantity_invoiced = line.quantity
        po.lines.model.objects.bulk_update(lines, ["quantity_invoiced"])
        invoice = Invoice.objects.create(
            supplier=po.supplier,
            customer=po.customer,
            purchase_order=po,
            sales_order=po.sales_order,
            number=next_document_number(organization=po.supplier, kind="invoice"),
            invoice_date=today,
            **amounts,
        )
        _copy_lines(InvoiceLine, invoice, lines)
    if bill is None:
        bill = Bill.objects.create(
            customer=po.customer,
            supplier=po.supplier,
            purchase_order=po,
            invoice=invoice,
            number=next_document_number(organization=po.customer, kind="bill"),
            bill_date=invoice.invoice_date,
            supplier_reference=invoice.number,
            location=po.ship_to,
            **{**amounts, "due_date": invoice.due_date},
        )
        _copy_lines(BillLine, bill, lines)
        _refresh_billed(po)
        record_fx(bill=bill)  # the goods received before the bill, valued at both dates
    if invoice.total == 0 and invoice.status == Invoice.Status.OPEN:  # nothing to pay: settled as made
        invoice.mark_paid()
        invoice.save()
    if bill.total == 0 and bill.status == Bill.Status.OPEN:
        bill.settle()
        bill.save()
    record_event(
        po,
        OrderEvent.Kind.INVOICED,
        body=f"Invoice {invoice.number} issued for {format_money(invoice.total, invoice.currency)}, "
        f"due {invoice.due_date:%d %b %Y}.",
        data={"invoice": invoice.pk, "bill": bill.pk},
    )
    _tell(po, invoice, bill)
    return invoice, bill


def _copy_lines(model, document, lines: list[PurchaseOrderLine]) -> None:
    """The document's lines: a copy of the order's lines that count, numbered 1, 2, …"""
    parent = "invoice" if model is InvoiceLine else "bill"
    model.objects.bulk_create(
        model(**{parent: document}, position=n, po_line=line, **{f: getattr(line, f) for f in LINE_FIELDS})
        for n, line in enumerate(lines, 1)
    )


def revise_documents(*, po: PurchaseOrder, lines: list[PurchaseOrderLine]) -> tuple[Invoice, Bill] | None:
    """An accepted amendment changed the order (SPEC §4, §6): its invoice and its bill follow as
    a new revision — the order's — with its lines and totals (the caller holds the order's lock
    and has saved ``lines``). Payments stay: the bill settles again against the new total (a
    paid bill whose total rose is partly paid again; the invoice is open again until verified
    payments cover it), and the *billed* mark follows. A cancelled bill is left as it is. None
    while the documents are still being made (the task reads the amended order)."""
    bill = Bill.objects.select_for_update().filter(purchase_order=po).first()
    invoice = Invoice.objects.select_for_update().filter(purchase_order=po).first()
    if invoice is None or bill is None:
        return None
    counted = [line for line in lines if not line.is_void]
    for line in lines:
        line.quantity_invoiced = Decimal("0") if line.is_void else line.quantity
    PurchaseOrderLine.objects.bulk_update(lines, ["quantity_invoiced"])
    amounts = {
        "revision": po.revision_number,
        "subtotal": po.subtotal,
        "discount": po.discount,
        "tax_total": po.tax_total,
        "total": po.total,
    }
    old_total = invoice.total
    for document, model in ((invoice, InvoiceLine), (bill, BillLine)):
        if document.status == document.Status.CANCELLED:
            continue
        document.lines.all().delete()
        _copy_lines(model, document, counted)
        for name, value in amounts.items():
            setattr(document, name, value)
    if bill.status != Bill.Status.CANCELLED:
        bill.settle()
        bill.save()
    if invoice.status != Invoice.Status.CANCELLED:
        covered = bill.verified_total >= invoice.total
        if invoice.status == Invoice.Status.PAID and not covered:
            invoice.reopen()
        elif invoice.status == Invoice.Status.OPEN and covered:
            invoice.mark_paid()
        invoice.save()
    _refresh_billed(po)
    live_bill = bill.status != Bill.Status.CANCELLED  # a cancelled bill stays as it was
    record_event(
        po,
        OrderEvent.Kind.INVOICED,
        body=f"Invoice {invoice.number}{f' and bill {bill.number}' if live_bill else ''} follow"
        f"{'' if live_bill else 's'} revision {po.revision_number}: "
        f"{format_money(old_total, po.currency)} → {format_money(po.total, po.currency)}.",
        data={"invoice": invoice.pk, "bill": bill.pk, "revision": po.revision_number},
    )
    _tell(po, invoice, bill, revised=True, bill_too=live_bill)
    return invoice, bill


def _tell(po: PurchaseOrder, invoice: Invoice, bill: Bill, *, revised: bool = False, bill_too: bool = True) -> None:
    """The supplier's receivables and the customer's payables hear of their document, once
    (the outbox key is the document's, and its revision's when an amendment revised it)."""
    again = f":{invoice.revision}" if revised else ""
    so_url = reverse("orders:so-detail", kwargs={"org_slug": po.supplier.slug, "number": po.sales_order.number})
    po_url = reverse("orders:po-detail", kwargs={"org_slug": po.customer.slug, "number": po.number})
    queue_email(
        key=f"invoice_issued:{invoice.pk}{again}",
        to=emails_of(po.supplier, "receivables", "sales"),
        template="invoice_issued",
        organization=po.supplier,
        attachments=[{"renderer": "invoice_pdf", "pk": invoice.pk}],
        context={"po": po, "invoice": invoice, "bill": bill, "revised": revised, "url": absolute_url(so_url)},
    )
    if not bill_too:
        return
    queue_email(
        key=f"bill_received:{bill.pk}{again}",
        to=[po.requester.email, *emails_of(po.customer, "payables")],
        template="bill_received",
        organization=po.customer,
        attachments=[{"renderer": "bill_pdf", "pk": bill.pk}],
        context={"po": po, "invoice": invoice, "bill": bill, "revised": revised, "url": absolute_url(po_url)},
    )


# ------------------------------------------------------------------------------- helpers


def _amount(raw, currency: str, field: str, *, positive: bool = True) -> Decimal:
    """An amount typed by a person, in the currency's minor units."""
    if raw in (None, ""):
        raise DomainError("Enter an amount.", field=field)
    try:
        value = parse_price(raw, currency)
    except MoneyError as exc:
        raise DomainError(str(exc), field=field) from None
    if positive and value <= 0:
        raise DomainError("Enter an amount greater than zero.", field=field)
    return value


def _lock_bill(bill: Bill, by: Membership) -> Bill:
    """The bill under its row lock (its order's row locked first), or 404-like refusal when it
    is not the member's organization's."""
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


def _verify_url(payment: Payment) -> str:
    return absolute_url(reverse("billing:payment-verify", kwargs={"org_slug": payment.supplier.slug, "pk": payment.pk}))


# --------------------------------------------------------------------------- billed mark


def billed_amount(po: PurchaseOrder) -> Decimal:
    """What bills cover of an order: its own bill (unless cancelled) and the live matches of
    bills entered by hand."""
    own = Bill.objects.filter(purchase_order=po).exclude(status=Bill.Status.CANCELLED).aggregate(s=Sum("total"))["s"]
    matched = BillMatch.objects.filter(
        purchase_order=po, unmatched_at__isnull=True, bill__status__in=Bill.SETTLING
    ).aggregate(s=Sum("amount"))["s"]
    return (own or Decimal("0")) + (matched or Decimal("0"))


def _refresh_billed(po: PurchaseOrder) -> None:
    """Auto-billed (SPEC §6): the order is *billed* when its bills cover its total within the
    tolerance policy's rounding band (0.10 by default), and no longer when they stop covering
    it — unless someone marked it billed by hand, which stays. The caller holds the order's lock."""
    band = tolerances_for(customer_id=po.customer_id, supplier_id=po.supplier_id).billed_band
    covered = billed_amount(po) >= po.total - band
    if covered and po.billed_at is None:
        po.billed_at = timezone.now()
        po.save(update_fields=["billed_at", "updated_at"])
    elif not covered and po.billed_at is not None and po.billed_by_id is None:
        po.billed_at = None
        po.save(update_fields=["billed_at", "updated_at"])


# Bills are matched to confirmed orders: before confirmation the order's own bill is still to
# come (and would bill it twice). A confirmed order's own bill covers it — it is *billed* — so a
# bill by hand is matched to one only after its own bill was cancelled (the supplier sent
# another invoice, say).
MATCHABLE = (
    PurchaseOrder.Status.CONFIRMED,
    PurchaseOrder.Status.PARTIALLY_RECEIVED,
    PurchaseOrder.Status.RECEIVED,
)


APPROVED = (
    PurchaseOrder.Status.SENT,
    PurchaseOrder.Status.SUPPLIER_ACCEPTED,
    *MATCHABLE,
    PurchaseOrder.Status.CLOSED,
)


def _lock_po_of_customer(po: PurchaseOrder, by: Membership) -> PurchaseOrder:
    locked = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("customer", "supplier")
        .filter(pk=po.pk, customer_id=by.organization_id)
        .first()
    )
    if locked is None:
        raise NotAllowed("This order is not yours.")
    return locked


@transaction.atomic
def mark_po_billed(*, po: PurchaseOrder, by: Membership) -> PurchaseOrder:
    """Admins and the order's requester say an order is billed: nothing more can be matched."""
    require(by, "orders.view_purchaseorder")
    po = _lock_po_of_customer(po, by)
    if not (can(by, "orders.mark_billed_purchaseorder") or po.requester_id == by.user_id):
        raise NotAllowed("Only an admin or the order's requester can mark it billed.")
    if po.billed_at is not None:
        raise DomainError(f"{po.number} is marked billed already.")
    if po.status not in APPROVED:
        raise DomainError(f"{po.number} is {po.get_status_display().lower()}: only approved orders are billed.")
    po.billed_at = timezone.now()
    po.billed_by = by.user
    po.save(update_fields=["billed_at", "billed_by", "updated_at"])
    return po


# ------------------------------------------------------------------------ bills by hand


def _clean_lines(lines: list[dict], currency: str) -> list[BillLine]:
    """The lines of a bill entered by hand; blank rows are skipped, errors name the input
    (``line-<n>-<field>``)."""
    cleaned = []
    for n, values in enumerate(lines):
        if not any(str(values.get(f) or "").strip() for f in ("description", "quantity", "unit_price")):
            continue
        prefix = f"line-{n}"
        description = clean_text(values.get("description"), f"{prefix}-description", required=True, limit=500)
        unit = values.get("unit") or "ea"
        if unit not in UNITS:
            raise DomainError("Choose a unit.", field=f"{prefix}-unit")
        try:
            quantity = parse_decimal(values.get("quantity") or "")
        except MoneyError as exc:
            raise DomainError(str(exc), field=f"{prefix}-quantity") from None
        problem = quantity_error(quantity, unit)
        if problem or quantity <= 0:
            raise DomainError(problem or "A quantity greater than zero.", field=f"{prefix}-quantity")
        unit_price = _amount(values.get("unit_price"), currency, f"{prefix}-unit_price", positive=False)
        try:
            tax_rate = parse_decimal(values.get("tax_rate") or "0")
        except MoneyError as exc:
            raise DomainError(str(exc), field=f"{prefix}-tax_rate") from None
        if not Decimal(0) <= tax_rate <= Decimal(100) or tax_rate != tax_rate.quantize(Decimal("0.01")):
            raise DomainError("A percentage from 0 to 100, with at most 2 decimals.", field=f"{prefix}-tax_rate")
        try:
            line_total, tax = line_amounts(quantity, unit_price, tax_rate, currency)
        except DomainError as exc:
            raise DomainError(exc.message, field=f"{prefix}-quantity") from None
        cleaned.append(
            BillLine(
                position=len(cleaned) + 1,
                sku=clean_text(values.get("sku"), f"{prefix}-sku", limit=64),
                description=description,
                quantity=quantity,
                unit=unit,
                unit_price=unit_price,
                tax_rate=tax_rate,
                line_total=line_total,
                tax_amount=tax,
            )
        )
    if not cleaned:
        raise DomainError("A bill needs at least one line.", field="line-0-description")
    require_fits(sum(line.line_total + line.tax_amount for line in cleaned), currency, "The bill's total", None)
    return cleaned


def _check_reference(customer_id: int, supplier: Organization, reference: str, bill: Bill | None = None) -> None:
    """One live bill per supplier's invoice number (a unique constraint says so too)."""
    if not reference:
        return
    others = Bill.objects.filter(customer_id=customer_id, supplier=supplier, supplier_reference__iexact=reference)
    if bill is not None:
        others = others.exclude(pk=bill.pk)
    if others.exclude(status=Bill.Status.CANCELLED).exists():
        raise DomainError(
            f"A bill with {supplier.name}'s invoice number {reference} exists already.", field="supplier_reference"
        )


def _totals(lines: list[BillLine]) -> dict[str, Decimal]:
    subtotal = sum((line.line_total for line in lines), Decimal("0"))
    tax = sum((line.tax_amount for line in lines), Decimal("0"))
    return {"subtotal": subtotal, "discount": Decimal("0"), "tax_total": tax, "total": subtotal + tax}


def _header(by: Membership, values: dict, currency: str) -> dict:
    bill_date = clean_date(values.get("bill_date"), "bill_date")
    if bill_date is None:
        raise DomainError("When is the bill dated?", field="bill_date")
    if bill_date > timezone.localdate():
        raise DomainError("A bill cannot be dated in the future.", field="bill_date")
    due = clean_date(values.get("due_date"), "due_date")
    if due is None:
        raise DomainError("When is it due?", field="due_date")
    if due < bill_date:
        raise DomainError("A bill falls due on or after its date.", field="due_date")
    location = values.get("location")
    if location is not None and not (isinstance(location, Location) and location.organization_id == by.organization_id):
        raise DomainError("Choose one of your locations.", field="location")
    return {
        "bill_date": bill_date,
        "due_date": due,
        "location": location,
        "supplier_reference": clean_text(values.get("supplier_reference"), "supplier_reference", limit=60),
        "reference_number": clean_text(values.get("reference_number"), "reference_number", limit=60),
        "notes": clean_text(values.get("notes"), "notes"),
    }


@transaction.atomic
def create_bill(*, by: Membership, supplier: Organization, currency: str, lines: list[dict], **header) -> Bill:
    """A bill entered by hand (a supplier's paper or PDF invoice): no order, so no lock; it is
    matched to orders afterwards."""
    require(by, "billing.add_bill")
    from accounts.models import Connection

    if not Connection.objects.filter(customer_id=by.organization_id, supplier=supplier).exists():
        raise DomainError("Choose one of your suppliers.", field="supplier")
    if currency not in CURRENCIES:
        raise DomainError("Choose a currency.", field="currency")
    values = _header(by, header, currency)
    bill_lines = _clean_lines(lines, currency)
    if (
        values["supplier_reference"]
        and Bill.objects.filter(
            customer_id=by.organization_id, supplier=supplier, supplier_reference__iexact=values["supplier_reference"]
        )
        .exclude(status=Bill.Status.CANCELLED)
        .exists()
    ):
        raise DomainError(
            f"A bill with {supplier.name}'s invoice number {values['supplier_reference']} exists already.",
            field="supplier_reference",
        )
    bill = Bill.objects.create(
        customer_id=by.organization_id,
        supplier=supplier,
        currency=currency,
        number=next_document_number(organization=by.organization, kind="bill"),
        created_by=by.user,
        **values,
        **_totals(bill_lines),
    )
    for line in bill_lines:
        line.bill = bill
    BillLine.objects.bulk_create(bill_lines)
    if bill.total == 0:
        bill.settle()
        bill.save()
    return bill


LOCKED_FIELDS = {
    "bill_date": "bill date",
    "supplier": "supplier",
    "location": "location",
    "supplier_reference": "supplier's invoice number",
    "currency": "currency",
    "lines": "amounts",
}
OPEN_FIELDS = ("due_date", "reference_number", "notes")


@transaction.atomic
def update_bill(*, bill: Bill, by: Membership, **changes) -> Bill:
    """Change a bill. On a bill made from an order (the PO lock, SPEC §6) only the due date,
    the reference number and the notes may change: a change of anything else is refused and
    nothing is written. A bill entered by hand may change everything but its supplier, and its
    lines only while nothing is paid or matched on it."""
    require(by, "billing.change_bill")
    bill = _lock_bill(bill, by)
    if bill.status == Bill.Status.CANCELLED:
        raise DomainError("This bill is cancelled.")
    measured = (bill.bill_date, bill.currency)  # what its FX figures measure
    unknown = set(changes) - set(LOCKED_FIELDS) - set(OPEN_FIELDS)
    if unknown:
        raise DomainError(f"These cannot be changed: {', '.join(sorted(unknown))}.")
    if bill.is_locked:
        for field, label in LOCKED_FIELDS.items():
            if field in changes and _differs(bill, field, changes[field]):
                raise DomainError(
                    f"This bill follows purchase order {bill.purchase_order.number}: its {label} cannot be changed.",
                    field=field,
                )
    elif "supplier" in changes and changes["supplier"] != bill.supplier:
        raise DomainError("A bill's supplier cannot change: cancel it and enter it again.", field="supplier")
    merged = {
        f: getattr(bill, f)
        for f in ("bill_date", "due_date", "location", "supplier_reference", "reference_number", "notes")
    }
    merged.update({k: v for k, v in changes.items() if k in merged})
    values = _header(by, merged, bill.currency)
    if bill.is_locked:
        values = {f: values[f] for f in OPEN_FIELDS}
        if values["due_date"] < bill.bill_date:
            raise DomainError("A bill falls due on or after its date.", field="due_date")
    if not bill.is_locked:
        _check_reference(bill.customer_id, bill.supplier, values["supplier_reference"], bill)
    for field, value in values.items():
        setattr(bill, field, value)
    if not bill.is_locked and "lines" in changes:
        currency = changes.get("currency") or bill.currency
        if currency not in CURRENCIES:
            raise DomainError("Choose a currency.", field="currency")
        new_lines = _clean_lines(changes["lines"], currency)
        totals = _totals(new_lines)
        if totals["total"] != bill.total or currency != bill.currency:
            if bill.paid_total or Payment.objects.filter(bill=bill).exclude(status=Payment.Status.DISPUTED).exists():
                raise DomainError("Payments are recorded on this bill: its amounts cannot change.", field="lines")
            if bill.matches.filter(unmatched_at__isnull=True).exists():
                raise DomainError("Unmatch the bill from its orders before changing its amounts.", field="lines")
        bill.currency = currency
        for field, value in totals.items():
            setattr(bill, field, value)
        bill.lines.all().delete()
        for line in new_lines:
            line.bill = bill
        BillLine.objects.bulk_create(new_lines)
    bill.save()
    if (bill.bill_date, bill.currency) != measured:
        record_fx(bill=bill)  # re-dated by hand: its figures are made again at the new date's rate
    return bill


def _differs(bill: Bill, field: str, value) -> bool:
    if field == "lines":
        return True  # an order's bill takes its lines from the order, never from a form
    current = getattr(bill, field)
    if field == "bill_date":
        value = clean_date(value, field)
    return (current or None) != (value or None)


@transaction.atomic
def cancel_bill(*, bill: Bill, by: Membership, reason: str) -> Bill:
    """Cancel a bill nothing is paid on (with the permission to); its matches are undone. An
    order's own bill may be cancelled too (the supplier's invoice stays theirs: they are told in
    the order's thread); the order is then billed by the bills matched to it."""
    require(by, "billing.cancel_bill")
    reason = clean_text(reason, "reason", required=True)
    # The orders first, in a fixed order, then the bill (the lock order of every billing service).
    orders = set(
        BillMatch.objects.filter(bill_id=bill.pk, unmatched_at__isnull=True).values_list("purchase_order_id", flat=True)
    )
    locked_orders = list(
        PurchaseOrder.objects.select_for_update(of=("self",))
        .filter(pk__in=orders, customer_id=by.organization_id)
        .order_by("pk")
    )
    bill = _lock_bill(bill, by)
    if bill.status not in Bill.OPEN_STATES:
        raise DomainError(f"This bill is {bill.get_status_display().lower()}: it cannot be cancelled.")
    if bill.paid_total or bill.payments.exclude(status=Payment.Status.DISPUTED).exists():
        raise DomainError("Payments are recorded on this bill: it cannot be cancelled.")
    live = bill.matches.filter(unmatched_at__isnull=True)
    if set(live.values_list("purchase_order_id", flat=True)) != orders:
        raise DomainError("The bill's matches changed meanwhile: try again.")
    live.update(unmatched_at=timezone.now(), unmatched_by=by.user)
    bill.cancel(by=by.user, reason=reason)
    bill.save()
    record_fx(bill=bill)  # a cancelled bill has no FX figures
    for po in locked_orders:
        _refresh_billed(po)
    if bill.purchase_order_id:
        po = bill.purchase_order
        _refresh_billed(po)
        record_event(
            po,
            OrderEvent.Kind.BILL_CANCELLED,
            by=by,
            body=f"{po.customer.name} cancelled their bill {bill.number} of invoice "
            f"{bill.supplier_reference}: {reason}",
        )
        notify(
            po, "bill_cancelled", to_supplier=True, supplier_roles=("receivables", "sales"), bill=bill, reason=reason
        )
    return bill


# ------------------------------------------------------------------------------- matching


@transaction.atomic
def match_bill(*, bill: Bill, po: PurchaseOrder, amount, by: Membership) -> BillMatch:
    """Allocate part of a bill entered by hand to an approved order of the same supplier and
    currency that is not marked billed; the order becomes billed when its bills cover it
    within the rounding band."""
    require(by, "billing.match_bill")
    po = _lock_po_of_customer(po, by)
    bill = _lock_bill(bill, by)
    if bill.is_locked:
        raise DomainError(f"This bill belongs to {bill.purchase_order.number} already.")
    if bill.status not in Bill.SETTLING:
        raise DomainError("This bill is cancelled.")
    if po.supplier_id != bill.supplier_id:
        raise DomainError(f"{po.number} is an order to {po.supplier.name}, not {bill.supplier.name}.", field="po")
    if po.currency != bill.currency:
        raise DomainError(f"{po.number} is in {po.currency}; this bill is in {bill.currency}.", field="po")
    if po.status not in MATCHABLE:
        raise DomainError(
            f"{po.number} is {po.get_status_display().lower()}: bills are matched to confirmed, open orders "
            "(a confirmed order's own bill comes with it).",
            field="po",
        )
    require_active(po)
    if po.billed_at is not None:
        raise DomainError(f"{po.number} is marked billed: nothing more can be matched to it.", field="po")
    if bill.matches.filter(purchase_order=po, unmatched_at__isnull=True).exists():
        raise DomainError(f"This bill is matched to {po.number} already: unmatch it to change the amount.", field="po")
    amount = _amount(amount, bill.currency, "amount")
    allocated = bill.matches.filter(unmatched_at__isnull=True).aggregate(s=Sum("amount"))["s"] or Decimal("0")
    if amount > bill.total - allocated:
        raise DomainError(
            f"Only {format_money(bill.total - allocated, bill.currency)} of this bill is left to match.",
            field="amount",
        )
    left = po.total - billed_amount(po)
    if amount > left:
        raise DomainError(
            f"Only {format_money(max(left, Decimal(0)), po.currency)} of {po.number} is left to bill.", field="amount"
        )
    match = BillMatch.objects.create(bill=bill, purchase_order=po, amount=amount, matched_by=by.user)
    _refresh_billed(po)
    return match


@transaction.atomic
def unmatch_bill(*, match: BillMatch, by: Membership) -> BillMatch:
    """Undo a match while nothing is paid on the bill and the order is open. The match stays on
    record (who unmatched it, when); an order billed by its bills is billed no longer."""
    require(by, "billing.match_bill")
    match = BillMatch.objects.select_related("bill", "purchase_order").get(pk=match.pk)
    po = _lock_po_of_customer(match.purchase_order, by)
    bill = _lock_bill(match.bill, by)
    match = BillMatch.objects.select_for_update().get(pk=match.pk)
    if match.unmatched_at is not None:
        raise DomainError("This match was undone already.")
    if bill.paid_total or bill.status not in Bill.OPEN_STATES:
        raise DomainError("Payments are recorded on this bill: its matches stay as they are.")
    if po.status == PurchaseOrder.Status.CLOSED:
        raise DomainError(f"{po.number} is closed: its matches stay as they are.")
    match.unmatched_at = timezone.now()
    match.unmatched_by = by.user
    match.save(update_fields=["unmatched_at", "unmatched_by"])
    _refresh_billed(po)
    return match


# ------------------------------------------------------------------------------- payments

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ATTACHMENT_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


MAGIC = {b"%PDF": ".pdf", b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg"}
UNREADABLE_NAME = re.compile(r"[\ufffd\x00-\x1f\x7f]")  # U+FFFD: bytes that were not UTF-8


def _attachment_name(attachment: UploadedFile | None) -> str | None:
    """The name a proof of payment is kept under, once checked (None: no attachment).

    A name that could not be read (not UTF-8, control characters, nothing left of it once
    made safe for the disk) is replaced by a generated one; its extension is kept when it is an
    allowed one, else it is the file's kind (read from its first bytes)."""
    if attachment is None:
        return None
    name = os.path.basename(attachment.name or "")
    stem, ext = os.path.splitext(name)
    ext = ext.lower()
    unreadable = bool(UNREADABLE_NAME.search(name)) or not _disk_safe(stem)
    if attachment.size > MAX_ATTACHMENT_BYTES:
        raise DomainError("At most 10 MB.", field="attachment")
    head = attachment.read(8)
    attachment.seek(0)
    kind = next((e for magic, e in MAGIC.items() if head.startswith(magic)), None)
    if ext not in ATTACHMENT_TYPES and not (unreadable and kind):
        raise DomainError("Attach a PDF, PNG or JPEG file.", field="attachment")
    if kind is None:
        raise DomainError("This file is not a PDF, PNG or JPEG.", field="attachment")
    if unreadable:
        return f"proof-of-payment{ext if ext in ATTACHMENT_TYPES else kind}"
    return name


def _disk_safe(stem: str) -> str:
    """What the storage would keep of a file name's stem ("" when nothing)."""
    try:
        return get_valid_filename(stem)
    except SuspiciousFileOperation:
        return ""


@transaction.atomic
def record_payment(
    *,
    bill: Bill,
    by: Membership,
    amount,
    paid_on,
    method: str,
    reference: str = "",
    attachment: UploadedFile | None = None,
) -> Payment:
    """Transition 13: payables records a payment of at most what is outstanding. It counts at
    once (the bill becomes partly paid or paid) and waits for the supplier's verification.
    Under the bill's row lock two payments cannot both take the last of what is owed; the
    bill's check constraint is the last line."""
    require(by, "billing.add_payment")
    bill = _lock_bill(bill, by)
    if bill.purchase_order_id:
        require_active(bill.purchase_order)
    if bill.status not in Bill.OPEN_STATES:
        raise DomainError(f"This bill is {bill.get_status_display().lower()}: nothing is left to pay.")
    amount = _amount(amount, bill.currency, "amount")
    if amount > bill.outstanding:
        raise DomainError(
            f"At most {format_money(bill.outstanding, bill.currency)} is outstanding on this bill.", field="amount"
        )
    paid_on = clean_date(paid_on, "paid_on")
    if paid_on is None:
        raise DomainError("When was it paid?", field="paid_on")
    if paid_on > timezone.localdate():
        raise DomainError("A payment cannot be recorded before it is made.", field="paid_on")
    if method not in Payment.Method.values:
        raise DomainError("Choose how it was paid.", field="method")
    reference = clean_text(reference, "reference", limit=100)
    attachment_name = _attachment_name(attachment)
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
    bill.settle()
    bill.save()
    record_fx(bill=bill)  # invoice → payment, when both rates are known
    words = (
        f"Payment of {format_money(amount, bill.currency)} recorded ({payment.get_method_display().lower()}"
        + (f", reference {reference}" if reference else "")
        + f", paid {paid_on:%d %b %Y}); it waits for {bill.supplier.name}'s verification."
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
def verify_payment(*, payment: Payment, by: Membership, amount_received) -> Payment:
    """Transition 14: the supplier's receivables confirm what actually arrived (at most the
    amount paid). The invoice is *paid* once verified payments cover it, which may close the
    order pair (transition 15)."""
    require(by, "billing.verify_payment")
    payment, bill = _lock_payment_for_supplier(payment, by)
    received = _amount(amount_received, payment.currency, "amount_received", positive=False)
    if received <= 0:
        raise DomainError("Nothing arrived? Dispute the payment instead, saying why.", field="amount_received")
    if received > payment.amount:
        raise DomainError(
            f"At most the {format_money(payment.amount, payment.currency)} that was paid.", field="amount_received"
        )
    payment.verify(by=by.user, amount_received=received)
    payment.save()
    bill.paid_total -= payment.amount - received
    bill.verified_total += received
    bill.settle()
    bill.save()
    record_fx(bill=bill)  # a payment verified short settled what arrived
    invoice = bill.invoice
    if invoice is not None and invoice.status == Invoice.Status.OPEN and bill.verified_total >= invoice.total:
        invoice.mark_paid()
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
    payment.dispute(by=by.user, reason=reason)
    payment.save()
    bill.paid_total -= payment.amount
    bill.settle()
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
