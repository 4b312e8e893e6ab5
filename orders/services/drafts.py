"""Draft purchase orders: the header, the lines and their prices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from guardian.shortcuts import assign_perm

from accounts.models import Connection, Location, Membership
from accounts.permissions import require
from accounts.services import next_document_number
from procurement.errors import DomainError
from procurement.money import CURRENCIES, MoneyError, parse_price, round_money
from procurement.transactions import require_atomic
from procurement.validators import clean_text

from .. import rules
from ..events import record_event
from ..models import CostCenter, GLAccount, Listing, OrderEvent, PurchaseOrder, PurchaseOrderLine
from ..models.purchase import VOID_LINE_STATUSES
from ..pricing import customer_prices, unit_price
from ..totals import line_amounts, order_totals, require_tax_rate
from ..units import UNITS, quantity_error
from .common import DEFAULT, _future_date, _lock_po, clean_date

PO_HEADER_FIELDS = ("expected_delivery_date", "valid_until", "ship_to", "note_to_supplier", "currency")


def _ship_to_address(location: Location | None) -> str:
    return "\n".join([location.name, *location.address_lines]) if location else ""


@transaction.atomic
def create_purchase_order(
    *,
    by: Membership,
    connection: Connection,
    expected_delivery_date=None,
    valid_until=None,
    ship_to: Location | None | object = DEFAULT,
    note_to_supplier: str = "",
    currency: str = "",
) -> PurchaseOrder:
    """A new draft to a connected supplier, numbered at once (numbers are never reused)."""
    require(by, "orders.add_purchaseorder")
    customer = by.organization
    if connection.customer_id != customer.pk or connection.supplier_id is None:
        raise DomainError("Choose one of your suppliers.", field="connection")
    if connection.status != Connection.Status.ACTIVE:
        raise DomainError(f"{connection.supplier.name} is not an active supplier of yours.", field="connection")
    currency = currency or connection.currency or connection.supplier.base_currency
    if currency not in CURRENCIES:
        raise DomainError(f"“{currency}” is not a currency Tandem knows.", field="currency")
    if ship_to is DEFAULT:  # not given: the connection's default ship-to; None: no address
        ship_to = connection.ship_to
    if ship_to is not None and ship_to.organization_id != customer.pk:
        raise DomainError("Choose one of your own locations.", field="ship_to")
    po = PurchaseOrder.objects.create(
        customer=customer,
        supplier=connection.supplier,
        connection=connection,
        number=next_document_number(organization=customer, kind="po"),
        requester=by.user,
        currency=currency,
        expected_delivery_date=_future_date(expected_delivery_date, "expected_delivery_date"),
        valid_until=_future_date(valid_until, "valid_until"),
        ship_to=ship_to,
        ship_to_address=_ship_to_address(ship_to),
        payment_terms_days=connection.payment_terms_days,
        note_to_supplier=clean_text(note_to_supplier, "note_to_supplier"),
    )
    assign_perm("orders.change_purchaseorder", by.user, po)  # the requester edits their own draft
    record_event(po, OrderEvent.Kind.CREATED, by=by)
    return po


@transaction.atomic
def update_purchase_order(*, by: Membership, po: PurchaseOrder, **changes) -> PurchaseOrder:
    """Change a draft's header: dates, ship-to, the note, and the currency (no lines yet)."""
    po = _lock_po(po, by)
    rules.require("edit", po=po, membership=by)
    unknown = set(changes) - set(PO_HEADER_FIELDS)
    if unknown:
        raise DomainError(f"These cannot be changed here: {', '.join(sorted(unknown))}.")
    for name in ("expected_delivery_date", "valid_until"):
        if name in changes and changes[name] != getattr(po, name):
            setattr(po, name, _future_date(changes[name], name))
    if "ship_to" in changes:
        ship_to = changes["ship_to"]
        if ship_to is not None and ship_to.organization_id != po.customer_id:
            raise DomainError("Choose one of your own locations.", field="ship_to")
        po.ship_to, po.ship_to_address = ship_to, _ship_to_address(ship_to)
    if "note_to_supplier" in changes:
        po.note_to_supplier = clean_text(changes["note_to_supplier"], "note_to_supplier")
    if "currency" in changes and changes["currency"] != po.currency:
        if changes["currency"] not in CURRENCIES:
            raise DomainError("Choose a currency.", field="currency")
        if po.lines.exists():
            raise DomainError(
                f"Remove the lines before changing the currency: their prices are in {po.currency}.", field="currency"
            )
        po.currency = changes["currency"]
    po.save()
    return po


@dataclass(frozen=True)
class LineInput:
    """A line of a draft as typed (parsed by ``orders.forms.LineForm``): a listing, or a custom
    item with its description, unit and unit price. The service checks it against the order."""

    quantity: Decimal
    cost_center: CostCenter | None
    listing: Listing | None = None
    sku: str = ""
    description: str = ""
    unit: str = ""
    unit_price: Decimal | None = None
    tax_rate: Decimal = Decimal(0)
    gl_account: GLAccount | None = None
    fund: str = ""
    department: str = ""
    program: str = ""
    requested_date: date | None = None


def _check_line(po: PurchaseOrder, values: LineInput, *, listings=None, customer_prices=None) -> dict:
    """Check a line against ``po`` and complete its values; raise DomainError, naming the
    ``LineInput`` field, on the first problem.

    ``listings`` (by id, price breaks prefetched) and ``customer_prices`` (``pricing.customer_prices``)
    are the current rows read by the caller for a batch of lines; without them, one line reads its own.
    """
    clean: dict = {}
    listing = values.listing
    if listing is not None and listings is not None:
        listing = listings[listing.pk]
    unit = listing.unit if listing else values.unit
    if unit not in UNITS:
        raise DomainError("Choose a unit of measure.", field="unit")
    quantity = values.quantity
    problem = quantity_error(quantity, unit, what="The quantity")
    if problem:
        raise DomainError(problem, field="quantity")
    if listing is not None:
        if listing.supplier_id != po.supplier_id or not listing.is_active:
            raise DomainError("Choose an active listing of this supplier.", field="listing")
        if listing.currency != po.currency:
            raise DomainError(
                f"{listing.sku} is priced in {listing.currency}; this order is in {po.currency}.",
                field="listing",
            )
        if quantity < listing.min_order_qty:
            raise DomainError(
                f"{listing.sku} is sold from {listing.min_order_qty.normalize():f} {listing.unit}.",
                field="quantity",
            )
        price = unit_price(listing, quantity=quantity, customer_id=po.customer_id, prices=customer_prices)
        if values.unit_price is not None and values.unit_price != round_money(price, po.currency):
            # a listing's price is the supplier's: the one shown (in the currency's decimals) is accepted
            raise DomainError(
                f"{listing.sku} costs {round_money(price, po.currency):f} {po.currency} at this quantity "
                "(the supplier's price): leave the price out, or give that price.",
                field="unit_price",
            )
        clean.update(
            listing=listing,
            sku=listing.sku,
            description=listing.name,
            unit=listing.unit,
            unit_price=price,
            listing_price_at_add=price,
        )
    else:
        if values.unit_price is None:
            raise DomainError("Enter the unit price of the custom item.", field="unit_price")
        try:
            price = parse_price(values.unit_price, po.currency)
        except MoneyError as exc:
            raise DomainError(str(exc), field="unit_price") from None
        clean.update(
            listing=None,
            sku=clean_text(values.sku, "sku", limit=64),
            description=clean_text(values.description, "description", required=True, limit=500),
            unit=unit,
            unit_price=price,
            listing_price_at_add=None,
        )
    tax_rate = values.tax_rate
    require_tax_rate(tax_rate)
    cost_center = values.cost_center
    if cost_center is None or cost_center.organization_id != po.customer_id or not cost_center.is_active:
        raise DomainError("Choose one of your active cost centers.", field="cost_center")
    gl_account = values.gl_account
    if gl_account is not None and (gl_account.organization_id != po.customer_id or not gl_account.is_active):
        raise DomainError("Choose one of your active GL accounts.", field="gl_account")
    clean.update(
        quantity=quantity,
        tax_rate=tax_rate,
        cost_center=cost_center,
        gl_account=gl_account,
        fund=clean_text(values.fund, "fund", limit=60),
        department=clean_text(values.department, "department", limit=60),
        program=clean_text(values.program, "program", limit=60),
        requested_date=clean_date(values.requested_date, "requested_date"),
    )
    clean["line_total"], clean["tax_amount"] = line_amounts(quantity, clean["unit_price"], tax_rate, po.currency)
    return clean


def _save_totals(po: PurchaseOrder, lines=None) -> None:
    require_atomic()
    lines = list(po.lines.all()) if lines is None else lines
    for name, value in order_totals(lines, po.discount, po.currency).items():
        setattr(po, name, value)
    po.save(update_fields=["subtotal", "discount", "tax_total", "total", "updated_at"])


def add_line(*, by: Membership, po: PurchaseOrder, values: LineInput) -> PurchaseOrderLine:
    """A listing line (``values["listing"]``) or a custom item, on a draft."""
    return add_lines(by=by, po=po, lines=[values])[0]


class LinesRefused(DomainError):
    """Several lines refused at once: ``errors`` has one ``DomainError`` per bad line, its
    ``line`` the line's index in the list given (from 0) and its ``field`` a ``LineInput`` field.
    The message is the first of them, as "Line n: …"."""

    def __init__(self, errors: list[DomainError]):
        first = errors[0]
        super().__init__(f"Line {first.line + 1}: {first.message}", field=first.field, line=first.line)
        self.errors = errors


def _check_lines(po: PurchaseOrder, lines: list[LineInput]) -> tuple[list[dict], list[DomainError]]:
    """Check every line against ``po`` (the listings and the customer's prices read once): the
    completed values of each, and a refusal per bad line (``line``: its index)."""
    wanted = {values.listing.pk for values in lines if values.listing is not None}
    listings = {
        listing.pk: listing for listing in Listing.objects.filter(pk__in=wanted).prefetch_related("price_breaks")
    }
    prices = customer_prices(list(listings), po.customer_id) if listings else {}
    cleaned, errors = [], []
    for index, values in enumerate(lines):
        if values.listing is not None and values.listing.pk not in listings:
            errors.append(DomainError("Choose an active listing of this supplier.", field="listing", line=index))
            continue
        try:
            cleaned.append(_check_line(po, values, listings=listings, customer_prices=prices))
        except DomainError as exc:
            errors.append(DomainError(exc.message, field=exc.field, line=index))
    return cleaned, errors


def line_problems(*, po: PurchaseOrder, lines: list[LineInput]) -> list[DomainError]:
    """What ``add_lines`` would refuse of these lines (one ``DomainError`` per bad line, as in
    ``LinesRefused``), without writing: for a page that shows every problem of a batch at once."""
    return _check_lines(po, lines)[1]


@transaction.atomic
def add_lines(*, by: Membership, po: PurchaseOrder, lines: list[LineInput]) -> list[PurchaseOrderLine]:
    """Several lines on a draft at once, all or none: one lock, one check of who may edit, the
    listings and the customer's prices read once, one insert. Every line is checked before
    anything is written; problems on several lines are ``LinesRefused`` (each naming its line and
    field); a single line's problem is its ``DomainError`` as it is."""
    po = _lock_po(po, by)
    rules.require("edit", po=po, membership=by)
    if not lines:
        raise DomainError("Add at least one line.")
    cleaned, errors = _check_lines(po, lines)
    if errors:
        if len(lines) == 1:
            raise DomainError(errors[0].message, field=errors[0].field)
        raise LinesRefused(errors)
    existing = list(po.lines.all())
    position = max((line.position for line in existing), default=0)
    new = []
    for clean in cleaned:
        position += 1
        new.append(PurchaseOrderLine(purchase_order=po, position=position, **clean))
    PurchaseOrderLine.objects.bulk_create(new)
    _save_totals(po, existing + new)
    return new


@transaction.atomic
def update_line(*, by: Membership, po: PurchaseOrder, line: PurchaseOrderLine, values: LineInput) -> PurchaseOrderLine:
    po = _lock_po(po, by)
    rules.require("edit", po=po, membership=by)
    line = po.lines.get(pk=line.pk)
    clean = _check_line(po, values)
    if line.listing_id and clean["listing"] and clean["listing"].pk == line.listing_id:
        clean["listing_price_at_add"] = line.listing_price_at_add  # keep the price it was added at
    for name, value in clean.items():
        setattr(line, name, value)
    line.save()
    _save_totals(po)
    return line


@transaction.atomic
def remove_line(*, by: Membership, po: PurchaseOrder, line: PurchaseOrderLine) -> None:
    po = _lock_po(po, by)
    rules.require("edit", po=po, membership=by)
    po.lines.filter(pk=line.pk).delete()
    _save_totals(po)


@dataclass(frozen=True)
class OrderedAgain:
    """The new draft of *Order again*, and the lines of the old order left out, each with why."""

    po: PurchaseOrder
    left_out: list[str]


@transaction.atomic
def order_again(*, by: Membership, po: PurchaseOrder) -> OrderedAgain:
    """A new draft to the same supplier with ``po``'s lines at today's prices: its currency (when
    Tandem still knows it, else the connection's), its ship-to, a fresh number; no dates or note
    (they belonged to that order). A listing line takes the listing's price now
    (``pricing.unit_price``); a custom item keeps the price typed for it, which is the buyer's own
    and has no other source. A void line (rejected, cancelled) is not copied; a line that cannot
    be ordered now — its listing gone, inactive or in another currency, or a coding or minimum
    order quantity that no longer passes — is left out and named in ``left_out``. Refused when
    the connection is not active, or when no line is left."""
    if po.customer_id != by.organization.pk:
        raise DomainError("No such purchase order.")
    rules.require("order_again", po=po, membership=by)
    old_lines = list(
        po.lines.select_related("listing", "cost_center", "gl_account").exclude(status__in=VOID_LINE_STATUSES)
    )
    currency = po.currency if po.currency in CURRENCIES else ""
    new_po = create_purchase_order(by=by, connection=po.connection, ship_to=po.ship_to, currency=currency)
    left_out: list[str] = []
    candidates: list[tuple[PurchaseOrderLine, LineInput]] = []
    for line in old_lines:
        name = " ".join(filter(None, [line.sku, line.description]))
        listing = line.listing
        if line.listing_id is None and line.listing_price_at_add is not None:
            left_out.append(f"{name} (its listing was removed)")
            continue
        if listing is not None and (not listing.is_active or listing.supplier_id != new_po.supplier_id):
            left_out.append(f"{name} (no longer an active listing of {new_po.supplier.name})")
            continue
        if listing is not None and listing.currency != new_po.currency:
            left_out.append(f"{name} (now priced in {listing.currency})")
            continue
        candidates.append(
            (
                line,
                LineInput(
                    quantity=line.quantity,
                    cost_center=line.cost_center,
                    listing=listing,
                    sku="" if listing else line.sku,
                    description="" if listing else line.description,
                    unit="" if listing else line.unit,
                    unit_price=None if listing else line.unit_price,
                    tax_rate=line.tax_rate,
                    gl_account=line.gl_account,
                    fund=line.fund,
                    department=line.department,
                    program=line.program,
                ),
            )
        )
    problems = {problem.line: problem.message for problem in line_problems(po=new_po, lines=[c[1] for c in candidates])}
    kept = []
    for index, (line, values) in enumerate(candidates):
        if index in problems:
            left_out.append(f"{' '.join(filter(None, [line.sku, line.description]))} ({problems[index]})")
        else:
            kept.append(values)
    if not kept:
        raise DomainError(
            f"No line of {po.number} can be ordered again"
            + (f": {'; '.join(left_out)}." if left_out else " (it has none).")
        )
    add_lines(by=by, po=new_po, lines=kept)
    return OrderedAgain(po=new_po, left_out=left_out)
