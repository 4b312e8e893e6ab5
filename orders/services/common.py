"""The guards, locks and small helpers that the orders services share."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.models import Max
from django.utils import timezone

from accounts.models import Membership
from procurement.errors import DomainError
from procurement.money import format_money
from procurement.transactions import require_atomic
from procurement.validators import business_date_problem

from ..models import PurchaseOrder, PurchaseOrderLine, SalesOrder
from ..totals import line_amounts
from ..units import quantity_error


def _lock_po(po: PurchaseOrder, by: Membership) -> PurchaseOrder:
    """Re-read the customer's order under the row lock (404-equivalent for another tenant)."""
    require_atomic()
    return (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("connection", "customer", "supplier")
        .get(pk=po.pk, customer=by.organization)
    )


def _lock_pair_for_supplier(so: SalesOrder, by: Membership) -> tuple[PurchaseOrder, SalesOrder]:
    """Lock the pair, PO first then SO (the same order everywhere, so no deadlock)."""
    require_atomic()
    po = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("connection", "customer", "supplier")
        .get(sales_order__pk=so.pk, supplier=by.organization)
    )
    return po, SalesOrder.objects.select_for_update().get(pk=so.pk, supplier=by.organization)


def _lock_so_of(po: PurchaseOrder) -> SalesOrder | None:
    require_atomic()
    return SalesOrder.objects.select_for_update().filter(purchase_order=po).first()


def clean_date(value, field: str):
    if value in (None, ""):
        return None
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value))
        except ValueError:
            raise DomainError(f"“{value}” is not a date (use YYYY-MM-DD).", field=field) from None
    problem = business_date_problem(value)
    if problem:
        raise DomainError(problem, field=field)
    return value


DEFAULT = object()  # "not given", where None means "none"


def _future_date(value, field: str):
    """A date typed for what is still to come: today or later."""
    value = clean_date(value, field)
    if value is not None and value < timezone.localdate():
        raise DomainError("This date is in the past.", field=field)
    return value


def _money(po: PurchaseOrder) -> str:
    return format_money(po.total, po.currency)


def _units(quantity: Decimal, unit: str) -> str:
    return f"{quantity.normalize():f} {unit}"


def _line_fits(quantity: Decimal, price: Decimal, tax_rate: Decimal, currency: str, field: str, prefix="") -> None:
    """Refuse, naming ``field``, a line whose amount the money columns cannot hold."""
    try:
        line_amounts(quantity, price, tax_rate, currency)
    except DomainError as exc:
        raise DomainError(f"{prefix}{exc.message}", field=field) from None


def _line_quantity(value: Decimal | None, line: PurchaseOrderLine, what: str, field: str = "quantity") -> Decimal:
    """A quantity given for one line of a shipment, a receipt or an amendment (None is zero):
    not negative, in the line's unit. A refusal names the line (``DomainError.line``: its id)."""
    if value is None:
        return Decimal("0")
    if not value.is_finite():
        raise DomainError(f"Line {line.position}: type a number.", field=field, line=line.pk)
    if value < 0:
        raise DomainError(f"Line {line.position}: a quantity cannot be negative.", field=field, line=line.pk)
    if value:
        problem = quantity_error(value, line.unit, what=what)
        if problem:
            raise DomainError(f"Line {line.position}: {problem}", field=field, line=line.pk)
    return value


def _next_number(documents) -> int:
    """1, 2, … within the order (read under the order's lock)."""
    return (documents.aggregate(last=Max("number"))["last"] or 0) + 1
