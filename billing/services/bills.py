"""Bills entered by hand (a supplier's paper or PDF invoice), the PO lock of an order's own
bill, and the cancellation of a bill. Lock order: see ``common``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Connection, Location, Membership, Organization
from accounts.permissions import require
from accounts.services import next_document_number
from orders.events import notify, record_event
from orders.models import OrderEvent, PurchaseOrder
from orders.totals import line_amounts, require_fits, require_tax_rate
from orders.units import UNITS, quantity_error
from procurement.errors import DomainError
from procurement.money import CURRENCIES
from procurement.transitions import transition
from procurement.validators import business_day, clean_text

from ..fx import record_fx
from ..models import Bill, BillLine, BillMatch, Payment
from .billed import _refresh_billed
from .common import _amount, _lock_bill


@dataclass(frozen=True)
class BillLineInput:
    """A line of a bill entered by hand (parsed by ``billing.forms.BillLinesForm``)."""

    description: str
    quantity: Decimal | None
    unit_price: Decimal | None
    unit: str = "ea"
    tax_rate: Decimal = Decimal(0)
    sku: str = ""


def _clean_lines(lines: list[BillLineInput], currency: str) -> list[BillLine]:
    """The lines of a bill entered by hand, checked against the currency and units; a refusal
    names the line (``DomainError.line``: its index in ``lines``) and the field."""
    cleaned = []
    for n, values in enumerate(lines):
        try:
            cleaned.append(_clean_line(values, currency, position=len(cleaned) + 1))
        except DomainError as exc:
            raise DomainError(exc.message, field=exc.field, line=n) from None
    if not cleaned:
        raise DomainError("A bill needs at least one line.", field="description", line=0)
    require_fits(sum(line.line_total + line.tax_amount for line in cleaned), currency, "The bill's total", None)
    return cleaned


def _clean_line(values: BillLineInput, currency: str, *, position: int) -> BillLine:
    description = clean_text(values.description, "description", required=True, limit=500)
    unit = values.unit or "ea"
    if unit not in UNITS:
        raise DomainError("Choose a unit.", field="unit")
    quantity = values.quantity
    problem = quantity_error(quantity, unit) if quantity is not None else None
    if quantity is None or problem or quantity <= 0:
        raise DomainError(problem or "A quantity greater than zero.", field="quantity")
    unit_price = _amount(values.unit_price, currency, "unit_price", positive=False)
    tax_rate = values.tax_rate
    require_tax_rate(tax_rate)
    line_total, tax = line_amounts(quantity, unit_price, tax_rate, currency)  # refused: field "quantity"
    return BillLine(
        position=position,
        sku=clean_text(values.sku, "sku", limit=64),
        description=description,
        quantity=quantity,
        unit=unit,
        unit_price=unit_price,
        tax_rate=tax_rate,
        line_total=line_total,
        tax_amount=tax,
    )


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
    bill_date = business_day(values.get("bill_date"), "bill_date")
    if bill_date is None:
        raise DomainError("When is the bill dated?", field="bill_date")
    if bill_date > timezone.localdate():
        raise DomainError("A bill cannot be dated in the future.", field="bill_date")
    due = business_day(values.get("due_date"), "due_date")
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
def create_bill(*, by: Membership, supplier: Organization, currency: str, lines: list[BillLineInput], **header) -> Bill:
    """A bill entered by hand (a supplier's paper or PDF invoice): no order, so no lock; it is
    matched to orders afterwards."""
    require(by, "billing.add_bill")
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
        transition(bill, "settle", "settled", noun="This bill")
        bill.save()
    return bill


LOCKED_FIELDS = {
    "bill_date": "bill date",
    "supplier": "supplier",
    "location": "location",
    "supplier_reference": "supplier's invoice number",
    "currency": "currency",
    "lines": "amounts",
    "credited_total": "returns",  # what debit notes took off: billing.services.credits keeps it
}
OPEN_FIELDS = ("due_date", "reference_number", "notes")


@transaction.atomic
def update_bill(*, bill: Bill, by: Membership, **changes) -> Bill:
    """Change a bill. On a bill made from an order (the PO lock, SPEC §6) only the due date,
    the reference number and the notes may change: a change of anything else (its returns
    included) is refused and nothing is written. A bill entered by hand may change everything but its supplier, and its
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
    elif "credited_total" in changes and _differs(bill, "credited_total", changes["credited_total"]):
        raise DomainError("A bill's returns come from its debit notes: they cannot be typed.", field="credited_total")
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
    if field == "bill_date" and value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
        raise TypeError(f"bill_date must be a date, not {type(value).__name__}")
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
    transition(bill, "cancel", "cancelled", noun="This bill", by=by.user, reason=reason)
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
