"""Every write of the orders app: supplier listings (their CSV import is ``listing_csv``), then the order pair
(drafts and lines, submission, the supplier's proposal, acceptance, confirmation, cancellation,
expiry), its shared thread and internal notes."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Sum
from django.urls import reverse
from django.utils import timezone
from django_fsm import TransitionNotAllowed
from guardian.shortcuts import assign_perm, remove_perm

from accounts.mail import absolute_url, queue_email
from accounts.models import Connection, Location, Membership, Organization
from accounts.permissions import require
from accounts.selectors import active_customers_of, tolerances_for
from accounts.services import next_document_number
from approvals import services as approvals
from billing import tasks as billing_tasks
from procurement.background import enqueue_on_commit
from procurement.errors import DomainError, NotAllowed
from procurement.money import CURRENCIES, MoneyError, decimal_places, format_money, parse_decimal, parse_price
from procurement.validators import business_date_problem, clean_text, no_markup, parse_integer

from .models import (
    Amendment,
    AmendmentLine,
    CostCenter,
    CustomerPrice,
    GLAccount,
    InternalNote,
    LineValues,
    Listing,
    OrderEvent,
    PriceBreak,
    Proposal,
    ProposalLine,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    Revision,
    RevisionLine,
    SalesOrder,
    Shipment,
    ShipmentLine,
)
from .totals import HUNDRED, line_amounts, order_totals
from .units import UNITS, quantity_error

LISTING_FIELDS = (
    "sku",
    "name",
    "description",
    "unit",
    "unit_price",
    "currency",
    "min_order_qty",
    "is_active",
)


@dataclass
class ListingValues:
    sku: str
    name: str
    description: str
    unit: str
    unit_price: Decimal
    currency: str
    min_order_qty: Decimal
    is_active: bool
    price_breaks: list[tuple[Decimal, Decimal]] | None = None  # None: leave as they are
    customer_prices: list[tuple[Organization, Decimal]] | None = None


def check_listing(values: dict, *, supplier: Organization) -> tuple[ListingValues | None, dict[str, str]]:
    """Validate raw listing values (typed in a form or read from a CSV row).

    Returns the clean values, or a message per field; writes nothing.
    """
    errors: dict[str, str] = {}
    text = {k: str(values.get(k) or "").strip() for k in ("sku", "name", "description", "unit", "currency")}
    for name, limit in (("sku", 64), ("name", 200), ("description", 5000)):
        if name != "description" and not text[name]:
            errors[name] = "This field is required."
        elif len(text[name]) > limit:
            errors[name] = f"At most {limit} characters."
        else:
            try:
                no_markup(text[name])
            except ValidationError as exc:
                errors[name] = exc.messages[0]
    currency = text["currency"].upper() or supplier.base_currency
    if currency not in CURRENCIES:
        errors["currency"] = f"“{currency}” is not a currency Tandem knows."
    unit = text["unit"].lower()
    if unit not in UNITS:
        errors["unit"] = f"“{text['unit']}” is not a unit Tandem knows (use one of: {', '.join(UNITS)})."
    price = None
    raw_price = values.get("unit_price")
    if raw_price in (None, ""):
        errors["unit_price"] = "This field is required."
    elif "currency" not in errors:
        try:
            price = parse_price(raw_price, currency)
        except MoneyError as exc:
            errors["unit_price"] = str(exc)
    moq = Decimal("1")
    raw_moq = values.get("min_order_qty")
    if raw_moq not in (None, ""):
        try:
            moq = parse_decimal(raw_moq)
        except ValueError as exc:
            errors["min_order_qty"] = str(exc)
    if "min_order_qty" not in errors and "unit" not in errors:
        problem = quantity_error(moq, unit, what="The minimum order quantity")
        if problem:
            errors["min_order_qty"] = problem
    breaks = values.get("price_breaks")
    if breaks is not None and "unit" not in errors and "currency" not in errors:
        seen: set[Decimal] = set()
        for quantity, break_price in breaks:
            try:
                quantity = parse_decimal(quantity)
                problem = quantity_error(quantity, unit, what="A price break's quantity")
                if problem:
                    raise ValueError(problem)
                if quantity in seen:
                    raise ValueError(f"Two price breaks start at {quantity}.")
                seen.add(quantity)
                parse_price(break_price, currency)
            except (ValueError, MoneyError) as exc:
                errors["price_breaks"] = str(exc)
                break
        else:
            breaks = sorted((parse_decimal(q), parse_price(p, currency)) for q, p in breaks)
            problem = _break_problem(breaks, price)
            if problem:
                errors["price_breaks"] = problem
    customer_prices = values.get("customer_prices")
    if customer_prices is not None and "currency" not in errors:
        connected = {c.pk for c in active_customers_of(supplier)}
        seen_customers: set[int] = set()
        cleaned = []
        for customer, customer_price in customer_prices:
            if customer.pk not in connected:
                errors["customer_prices"] = f"{customer.name} is not a connected customer."
                break
            if customer.pk in seen_customers:
                errors["customer_prices"] = f"{customer.name} has two prices."
                break
            seen_customers.add(customer.pk)
            try:
                cleaned.append((customer, parse_price(customer_price, currency)))
            except MoneyError as exc:
                errors["customer_prices"] = str(exc)
                break
        customer_prices = cleaned
    if errors:
        return None, errors
    return (
        ListingValues(
            sku=text["sku"],
            name=text["name"],
            description=text["description"],
            unit=unit,
            unit_price=price,
            currency=currency,
            min_order_qty=moq,
            is_active=bool(values.get("is_active", True)),
            price_breaks=breaks,
            customer_prices=customer_prices,
        ),
        {},
    )


def _break_problem(breaks: list[tuple[Decimal, Decimal]], unit_price: Decimal | None) -> str | None:
    """A break lowers the price: below the unit price, and never above a smaller quantity's."""
    previous = None
    for quantity, break_price in breaks:
        if unit_price is not None and break_price >= unit_price:
            return f"From {quantity:f}, {break_price:f} is not below the unit price {unit_price:f}."
        if previous is not None and break_price > previous:
            return f"From {quantity:f}, {break_price:f} is more than for fewer units ({previous:f})."
        previous = break_price
    return None


class ListingRefused(DomainError):
    def __init__(self, errors: dict[str, str]):
        first_field, first = next(iter(errors.items()))
        super().__init__(first, field=first_field)
        self.errors = errors


def _apply(listing: Listing, values: ListingValues) -> None:
    if listing.pk and (listing.unit_price != values.unit_price or listing.currency != values.currency):
        listing.price_updated_at = timezone.now()
    for name in LISTING_FIELDS:
        setattr(listing, name, getattr(values, name))


def _replace_breaks(listings_and_values: list[tuple[Listing, ListingValues]]) -> None:
    with_breaks = [(lst, v) for lst, v in listings_and_values if v.price_breaks is not None]
    if not with_breaks:
        return
    PriceBreak.objects.filter(listing__in=[lst for lst, _ in with_breaks]).delete()
    PriceBreak.objects.bulk_create(
        PriceBreak(listing=lst, min_quantity=q, unit_price=p) for lst, v in with_breaks for q, p in v.price_breaks
    )


@transaction.atomic
def save_listing(*, by: Membership, values: dict, listing: Listing | None = None) -> Listing:
    """Create a listing, or update one of the organization's; refuses bad values whole."""
    require(by, "orders.add_listing" if listing is None else "orders.change_listing")
    supplier = by.organization
    clean, errors = check_listing(values, supplier=supplier)
    if errors:
        raise ListingRefused(errors)
    if listing is not None:
        listing = Listing.objects.select_for_update().get(pk=listing.pk, supplier=supplier)
    duplicate = Listing.objects.filter(supplier=supplier, sku__iexact=clean.sku)
    if listing is not None:
        duplicate = duplicate.exclude(pk=listing.pk)
    if duplicate.exists():
        raise ListingRefused({"sku": f"You have a listing with SKU “{clean.sku}” already."})
    listing = listing or Listing(supplier=supplier)
    _apply(listing, clean)
    listing.save()
    _replace_breaks([(listing, clean)])
    if clean.customer_prices is not None:
        listing.customer_prices.all().delete()
        CustomerPrice.objects.bulk_create(
            CustomerPrice(listing=listing, customer=c, unit_price=p) for c, p in clean.customer_prices
        )
    reprice_drafts([listing])
    return listing


@transaction.atomic
def set_listing_active(*, by: Membership, listing: Listing, active: bool) -> Listing:
    require(by, "orders.change_listing")
    listing = Listing.objects.select_for_update().get(pk=listing.pk, supplier=by.organization)
    if listing.is_active != active:
        listing.is_active = active
        listing.save(update_fields=["is_active", "updated_at"])
    return listing


# =============================================================================== the pair

PO_HEADER_FIELDS = ("expected_delivery_date", "valid_until", "ship_to", "note_to_supplier", "currency")
REVISION_HEADER_FIELDS = (
    "expected_delivery_date",
    "valid_until",
    "ship_to_address",
    "payment_terms_days",
    "note_to_supplier",
    "accept_by",
    "confirm_ship_by",
    "invoice_due_date",
    "supplier_contact",
    "supplier_note",
)
LINE_VALUE_FIELDS = (
    "key",
    "position",
    "sku",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "tax_rate",
    "line_total",
    "tax_amount",
    "requested_date",
    "promised_date",
    "backorder_quantity",
    "backorder_date",
    "status",
    "reject_reason",
)


def record_event(po: PurchaseOrder, kind: str, *, by: Membership | None = None, body: str = "", data=None):
    """Write one entry of the shared thread (every transition writes one)."""
    return OrderEvent.objects.create(
        purchase_order=po,
        kind=kind,
        actor=by.user if by else None,
        organization=by.organization if by else None,
        body=body,
        data=data or {},
    )


def _fsm(obj, name: str, what: str, *, noun: str = "This order", **kwargs) -> None:
    """Run a transition; an illegal one is refused with a sentence, never silently."""
    try:
        getattr(obj, name)(**kwargs)
    except TransitionNotAllowed:
        raise DomainError(f"{noun} is {obj.get_status_display().lower()}: it cannot be {what} now.") from None


def _require_active(po: PurchaseOrder) -> None:
    if po.connection.status != Connection.Status.ACTIVE:
        raise DomainError(
            f"The connection between {po.customer.name} and {po.supplier.name} is "
            f"{po.connection.get_status_display().lower()}: the order is frozen (it can only be cancelled)."
        )


def _lock_po(po: PurchaseOrder, by: Membership) -> PurchaseOrder:
    """Re-read the customer's order under the row lock (404-equivalent for another tenant)."""
    return (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("connection", "customer", "supplier")
        .get(pk=po.pk, customer=by.organization)
    )


def _lock_pair_for_supplier(so: SalesOrder, by: Membership) -> tuple[PurchaseOrder, SalesOrder]:
    """Lock the pair, PO first then SO (the same order everywhere, so no deadlock)."""
    po = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("connection", "customer", "supplier")
        .get(sales_order__pk=so.pk, supplier=by.organization)
    )
    return po, SalesOrder.objects.select_for_update().get(pk=so.pk, supplier=by.organization)


def _lock_so_of(po: PurchaseOrder) -> SalesOrder | None:
    return SalesOrder.objects.select_for_update().filter(purchase_order=po).first()


def _require_draft_editor(by: Membership, po: PurchaseOrder) -> None:
    """A draft is edited by its requester (a django-guardian object permission) or an admin."""
    require(by, "orders.change_purchaseorder")
    if by.is_admin or by.user.has_perm("orders.change_purchaseorder", po):
        return
    raise NotAllowed(f"Only {po.requester} (who raised it) or an admin can change draft {po.number}.")


def _require_draft(po: PurchaseOrder) -> None:
    if not po.is_draft:
        raise DomainError(f"{po.number} is {po.get_status_display().lower()}: only a draft can be edited.")


def _clean_date(value, field: str):
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
    value = _clean_date(value, field)
    if value is not None and value < timezone.localdate():
        raise DomainError("This date is in the past.", field=field)
    return value


_clean_text = clean_text  # the kernel's rule for text typed by a person


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
        note_to_supplier=_clean_text(note_to_supplier, "note_to_supplier"),
    )
    assign_perm("orders.change_purchaseorder", by.user, po)  # the requester edits their own draft
    record_event(po, OrderEvent.Kind.CREATED, by=by)
    return po


@transaction.atomic
def update_purchase_order(*, by: Membership, po: PurchaseOrder, **changes) -> PurchaseOrder:
    """Change a draft's header: dates, ship-to, the note, and the currency (no lines yet)."""
    po = _lock_po(po, by)
    _require_draft_editor(by, po)
    _require_draft(po)
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
        po.note_to_supplier = _clean_text(changes["note_to_supplier"], "note_to_supplier")
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


def _customer_prices(listings, customer: Organization) -> dict[int, Decimal]:
    """The customer's own prices of these listings, by listing id (one query)."""
    return dict(
        CustomerPrice.objects.filter(listing__in=listings, customer=customer).values_list("listing_id", "unit_price")
    )


def _check_line(po: PurchaseOrder, values: dict, *, listings=None, customer_prices=None) -> dict:
    """Validate and complete a line's values for ``po``; raise DomainError on the first problem.

    ``listings`` (by id, price breaks prefetched) and ``customer_prices`` (by listing id) are the
    current rows read by the caller for a batch of lines; without them, one line reads its own.
    """
    clean: dict = {}
    listing = values.get("listing")
    if listing is not None and listings is not None:
        listing = listings[listing.pk]
    unit = listing.unit if listing else (values.get("unit") or "").strip()
    if unit not in UNITS:
        raise DomainError("Choose a unit of measure.", field="unit")
    try:
        quantity = parse_decimal(values.get("quantity", ""))
    except MoneyError as exc:
        raise DomainError(str(exc), field="quantity") from None
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
        if customer_prices is None:
            customer_prices = _customer_prices([listing], po.customer)
        price = listing.price_for(quantity=quantity, customer_price=customer_prices.get(listing.pk))
        clean.update(
            listing=listing,
            sku=listing.sku,
            description=listing.name,
            unit=listing.unit,
            unit_price=price,
            listing_price_at_add=price,
        )
    else:
        if not str(values.get("unit_price") or "").strip():
            raise DomainError("Enter the unit price of the custom item.", field="unit_price")
        try:
            price = parse_price(values.get("unit_price", ""), po.currency)
        except MoneyError as exc:
            raise DomainError(str(exc), field="unit_price") from None
        clean.update(
            listing=None,
            sku=_clean_text(values.get("sku", ""), "sku", limit=64),
            description=_clean_text(values.get("description", ""), "description", required=True, limit=500),
            unit=unit,
            unit_price=price,
            listing_price_at_add=None,
        )
    try:
        tax_rate = parse_decimal(values.get("tax_rate") or "0")
    except MoneyError as exc:
        raise DomainError(str(exc), field="tax_rate") from None
    if not Decimal(0) <= tax_rate <= HUNDRED or decimal_places(tax_rate) > 2:
        raise DomainError("A tax rate is a percentage from 0 to 100, with at most 2 decimals.", field="tax_rate")
    cost_center = values.get("cost_center")
    if cost_center is None or cost_center.organization_id != po.customer_id or not cost_center.is_active:
        raise DomainError("Choose one of your active cost centers.", field="cost_center")
    gl_account = values.get("gl_account")
    if gl_account is not None and (gl_account.organization_id != po.customer_id or not gl_account.is_active):
        raise DomainError("Choose one of your active GL accounts.", field="gl_account")
    clean.update(
        quantity=quantity,
        tax_rate=tax_rate,
        cost_center=cost_center,
        gl_account=gl_account,
        fund=_clean_text(values.get("fund", ""), "fund", limit=60),
        department=_clean_text(values.get("department", ""), "department", limit=60),
        program=_clean_text(values.get("program", ""), "program", limit=60),
        requested_date=_clean_date(values.get("requested_date"), "requested_date"),
    )
    clean["line_total"], clean["tax_amount"] = line_amounts(quantity, clean["unit_price"], tax_rate, po.currency)
    return clean


def _save_totals(po: PurchaseOrder, lines=None) -> None:
    lines = list(po.lines.all()) if lines is None else lines
    for name, value in order_totals(lines, po.discount, po.currency).items():
        setattr(po, name, value)
    po.save(update_fields=["subtotal", "discount", "tax_total", "total", "updated_at"])


def add_line(*, by: Membership, po: PurchaseOrder, values: dict) -> PurchaseOrderLine:
    """A listing line (``values["listing"]``) or a custom item, on a draft."""
    return add_lines(by=by, po=po, lines=[values])[0]


@transaction.atomic
def add_lines(*, by: Membership, po: PurchaseOrder, lines: list[dict]) -> list[PurchaseOrderLine]:
    """Several lines on a draft at once, all or none: one lock, one check of who may edit, the
    listings and the customer's prices read once, one insert. A problem on a line of several is
    reported as "Line n: …" with its field."""
    po = _lock_po(po, by)
    _require_draft_editor(by, po)
    _require_draft(po)
    if not lines:
        raise DomainError("Add at least one line.")
    wanted = {values["listing"].pk for values in lines if values.get("listing") is not None}
    listings = {
        listing.pk: listing for listing in Listing.objects.filter(pk__in=wanted).prefetch_related("price_breaks")
    }
    if len(listings) != len(wanted):
        raise DomainError("Choose an active listing of this supplier.", field="listing")
    prices = _customer_prices(list(listings), po.customer) if listings else {}
    existing = list(po.lines.all())
    position = max((line.position for line in existing), default=0)
    new = []
    for number, values in enumerate(lines, 1):
        try:
            clean = _check_line(po, values, listings=listings, customer_prices=prices)
        except DomainError as exc:
            if len(lines) == 1:
                raise
            raise DomainError(f"Line {number}: {exc.message}", field=exc.field) from None
        position += 1
        new.append(PurchaseOrderLine(purchase_order=po, position=position, **clean))
    PurchaseOrderLine.objects.bulk_create(new)
    _save_totals(po, existing + new)
    return new


@transaction.atomic
def update_line(*, by: Membership, po: PurchaseOrder, line: PurchaseOrderLine, values: dict) -> PurchaseOrderLine:
    po = _lock_po(po, by)
    _require_draft_editor(by, po)
    _require_draft(po)
    line = po.lines.get(pk=line.pk)
    if line.listing_id and "listing" not in values:
        values = {**values, "listing": line.listing}
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
    _require_draft_editor(by, po)
    _require_draft(po)
    po.lines.filter(pk=line.pk).delete()
    _save_totals(po)


def reprice_drafts(listings: list[Listing]) -> int:
    """Draft listing lines follow their listing's latest price (SPEC §3). Returns lines repriced."""
    lines = list(
        PurchaseOrderLine.objects.select_related("purchase_order", "listing")
        .prefetch_related("listing__price_breaks")
        .filter(listing__in=listings, purchase_order__status=PurchaseOrder.Status.DRAFT)
    )
    if not lines:
        return 0
    prices = {(p.listing_id, p.customer_id): p.unit_price for p in CustomerPrice.objects.filter(listing__in=listings)}
    changed, orders = [], {}
    for line in lines:
        po = line.purchase_order
        price = line.listing.price_for(
            quantity=line.quantity, customer_price=prices.get((line.listing_id, po.customer_id))
        )
        if line.listing.currency != po.currency or price == line.unit_price:
            continue
        line.unit_price = price
        line.line_total, line.tax_amount = line_amounts(line.quantity, price, line.tax_rate, po.currency)
        changed.append(line)
        orders[po.pk] = po
    PurchaseOrderLine.objects.bulk_update(changed, ["unit_price", "line_total", "tax_amount"])
    for po in orders.values():
        _save_totals(po)
    return len(changed)


def _snapshot(po: PurchaseOrder, lines: list[PurchaseOrderLine], kind: str, by: Membership) -> Revision:
    """Publish the order as it stands as its next revision (immutable)."""
    po.revision_number += 1
    header = {name: _jsonable(getattr(po, name)) for name in REVISION_HEADER_FIELDS}
    revision = Revision.objects.create(
        purchase_order=po,
        number=po.revision_number,
        kind=kind,
        header=header,
        subtotal=po.subtotal,
        discount=po.discount,
        tax_total=po.tax_total,
        total=po.total,
        created_by=by.user,
    )
    RevisionLine.objects.bulk_create(
        RevisionLine(revision=revision, **{name: getattr(line, name) for name in LINE_VALUE_FIELDS}) for line in lines
    )
    return revision


def _jsonable(value):
    if isinstance(value, date | Decimal):
        return str(value)
    return value


@transaction.atomic
def submit_purchase_order(*, po: PurchaseOrder, by: Membership) -> PurchaseOrder:
    """Freeze the prices and either start approval or send the order to the supplier."""
    po = _lock_po(po, by)
    require(by, "orders.submit_purchaseorder")
    _require_draft_editor(by, po)
    _require_draft(po)
    _require_active(po)
    lines = list(po.lines.select_related("listing").prefetch_related("listing__price_breaks"))
    if not lines:
        raise DomainError("Add at least one line before submitting.")
    prices = _customer_prices({line.listing_id for line in lines if line.listing_id}, po.customer)
    if po.valid_until and po.valid_until < timezone.localdate():
        raise DomainError(
            "The date the supplier must accept by is past: change it before submitting.", field="valid_until"
        )
    for line in lines:  # listing lines take the latest price, which is frozen from now on
        if line.listing_id is None:
            continue
        if line.listing is None or not line.listing.is_active:
            raise DomainError(f"Line {line.position} ({line.sku}) is no longer sold: remove it first.")
        line.unit_price = line.listing.price_for(quantity=line.quantity, customer_price=prices.get(line.listing_id))
        line.listing_price_at_add = line.unit_price
        line.line_total, line.tax_amount = line_amounts(line.quantity, line.unit_price, line.tax_rate, po.currency)
    PurchaseOrderLine.objects.bulk_update(lines, ["unit_price", "listing_price_at_add", "line_total", "tax_amount"])
    _save_totals(po, lines)
    po.order_date = timezone.localdate()
    plan = approvals.plan_approval(po, lines, by=by)  # refuses (writing nothing) when nobody could approve
    po.base_rate = plan.rate
    if plan.steps:
        _fsm(po, "send_for_approval", "submitted")
        po.save()
        record_event(po, OrderEvent.Kind.SUBMITTED, by=by, body=f"Submitted for approval ({_money(po)}).")
        approvals.start_request(po=po, by=by, plan=plan, kind="submission")
        return po
    _fsm(po, "release", "sent")
    po.save()
    approvals.start_request(po=po, by=by, plan=plan, kind="submission")  # recorded as approved at once
    release_to_supplier(po=po, lines=lines, by=by)
    return po


def release_to_supplier(*, po: PurchaseOrder, lines: list[PurchaseOrderLine], by: Membership) -> SalesOrder:
    """Create the supplier's sales order and publish revision 1 (inside the caller's lock)."""
    so = SalesOrder.objects.create(
        purchase_order=po,
        supplier=po.supplier,
        customer=po.customer,
        number=next_document_number(organization=po.supplier, kind="so"),
    )
    _snapshot(po, lines, Revision.Kind.SUBMITTED, by)
    po.save(update_fields=["revision_number", "updated_at"])
    record_event(po, OrderEvent.Kind.SENT, by=by, body=f"Sent to {po.supplier.name} as {so.number} ({_money(po)}).")
    notify(po, "order_sent", to_supplier=True, attach_pdf=True, line_count=len(lines))
    return so


def _money(po: PurchaseOrder) -> str:
    return format_money(po.total, po.currency)


# ----------------------------------------------------------------------- supplier's proposal

PROPOSAL_HEADER_FIELDS = (
    "accept_by",
    "confirm_ship_by",
    "invoice_due_date",
    "tax_rate",
    "discount",
    "supplier_contact",
    "ship_to_address",
    "payment_terms_days",
    "note",
)


def _require_supplier_open(po: PurchaseOrder, so: SalesOrder) -> None:
    if so.status not in SalesOrder.OPEN or po.status != PurchaseOrder.Status.SENT:
        raise DomainError(f"{so.number} is {so.get_status_display().lower()}: it cannot be changed now.")


def _check_proposal_line(po: PurchaseOrder, line: PurchaseOrderLine | None, values: dict) -> dict:
    """One line of the supplier's proposal: accept, change, backorder or reject (or an added line)."""
    action = values.get("action") or ProposalLine.Action.ACCEPT
    if action not in ProposalLine.Action.values or (line is None) != (action == ProposalLine.Action.ADD):
        raise DomainError("Choose what to do with the line.", field="action")
    if action == ProposalLine.Action.ACCEPT and _edited(line, values):
        action = ProposalLine.Action.CHANGE  # a new quantity or price typed on an accepted line changes it
    clean: dict = {"action": action}
    unit = line.unit if line else (values.get("unit") or "")
    if line is None:
        if unit not in UNITS:
            raise DomainError("Choose a unit of measure.", field="unit")
        clean.update(
            sku=_clean_text(values.get("sku", ""), "sku", limit=64),
            description=_clean_text(values.get("description", ""), "description", required=True, limit=500),
            unit=unit,
            listing=values.get("listing"),
        )
    if action in (ProposalLine.Action.CHANGE, ProposalLine.Action.ADD):
        quantity = values.get("quantity") or (line.quantity if line else "")
        price = values.get("unit_price") or (line.unit_price if line else "")
        try:
            clean["quantity"] = parse_decimal(quantity)
        except MoneyError as exc:
            raise DomainError(str(exc), field="quantity") from None
        problem = quantity_error(clean["quantity"], unit, what="The quantity")
        if problem:
            raise DomainError(problem, field="quantity")
        try:
            clean["unit_price"] = parse_price(price, po.currency)
        except MoneyError as exc:
            raise DomainError(str(exc), field="unit_price") from None
        tax_rate = line.tax_rate if line else HUNDRED  # an added line's rate is read below: the most it can be
        _line_fits(clean["quantity"], clean["unit_price"], tax_rate, po.currency, "quantity")
        clean["promised_date"] = _clean_date(values.get("promised_date"), "promised_date")
    elif action == ProposalLine.Action.BACKORDER:
        try:
            later = parse_decimal(values.get("backorder_quantity", ""))
        except MoneyError as exc:
            raise DomainError(str(exc), field="backorder_quantity") from None
        problem = quantity_error(later, unit, what="The backordered quantity")
        if problem:
            raise DomainError(problem, field="backorder_quantity")
        if later >= line.quantity:
            raise DomainError(
                "Backorder part of the quantity; to ship it all later, change the promised date.",
                field="backorder_quantity",
            )
        clean["backorder_quantity"] = later
        clean["backorder_date"] = _clean_date(values.get("backorder_date"), "backorder_date")
        if clean["backorder_date"] is None:
            raise DomainError("When will the rest come?", field="backorder_date")
        clean["promised_date"] = _clean_date(values.get("promised_date"), "promised_date")
    elif action == ProposalLine.Action.REJECT:
        clean["reject_reason"] = _clean_text(values.get("reject_reason", ""), "reject_reason", required=True, limit=500)
    else:
        clean["promised_date"] = _clean_date(values.get("promised_date"), "promised_date")
    if line is None:
        try:
            clean["tax_rate"] = parse_decimal(values.get("tax_rate") or "0")
        except MoneyError as exc:
            raise DomainError(str(exc), field="tax_rate") from None
    return clean


def _edited(line: PurchaseOrderLine, values: dict) -> bool:
    for name in ("quantity", "unit_price"):
        raw = values.get(name)
        if raw in (None, ""):
            continue
        try:
            if parse_decimal(raw) != getattr(line, name):
                return True
        except MoneyError:
            return True  # let the change's own checks say what is wrong
    return False


def _check_proposal_header(po: PurchaseOrder, header: dict) -> dict:
    clean: dict = {}
    for name in ("accept_by", "confirm_ship_by", "invoice_due_date"):
        clean[name] = _clean_date(header.get(name), name)
    for name in ("tax_rate", "discount"):
        raw = header.get(name)
        if raw in (None, ""):
            clean[name] = None
            continue
        try:
            value = parse_price(raw, po.currency) if name == "discount" else parse_decimal(raw)
        except MoneyError as exc:
            raise DomainError(str(exc), field=name) from None
        if name == "tax_rate" and not Decimal(0) <= value <= HUNDRED:
            raise DomainError("A tax rate is a percentage from 0 to 100.", field=name)
        clean[name] = value
    terms = header.get("payment_terms_days")
    if terms in (None, ""):
        clean["payment_terms_days"] = None
    else:
        clean["payment_terms_days"] = parse_integer(terms, minimum=0, maximum=365)
        if clean["payment_terms_days"] is None:
            raise DomainError("Payment terms are a number of days from 0 to 365.", field="payment_terms_days")
    clean["supplier_contact"] = _clean_text(header.get("supplier_contact", ""), "supplier_contact", limit=200)
    clean["ship_to_address"] = _clean_text(header.get("ship_to_address", ""), "ship_to_address", limit=1000)
    clean["note"] = _clean_text(header.get("note", ""), "note")
    return clean


@transaction.atomic
def save_proposal(
    *, so: SalesOrder, by: Membership, header: dict, lines: dict[int, dict], added: list[dict] | None = None
) -> Proposal:
    """The supplier's adjustments, kept apart until *Accept order* publishes them.

    ``lines`` maps each PO line's id to its action and values; lines left out are accepted.
    """
    require(by, "orders.change_salesorder")
    po, so = _lock_pair_for_supplier(so, by)
    _require_active(po)
    _require_supplier_open(po, so)
    po_lines = {line.pk: line for line in po.lines.all()}
    unknown = set(lines) - set(po_lines)
    if unknown:
        raise DomainError("A line of another order was sent.")
    clean_header = _check_proposal_header(po, header)
    clean_lines, clean_added = [], []
    for pk, values in lines.items():
        line = po_lines[pk]
        try:
            clean_lines.append((line, _check_proposal_line(po, line, values)))
        except DomainError as exc:  # name the line, and the input the message belongs to
            raise DomainError(f"Line {line.position}: {exc.message}", field=f"line-{pk}-{exc.field}") from None
    for i, values in enumerate(added or []):
        try:
            clean_added.append((None, _check_proposal_line(po, None, {**values, "action": "add"})))
        except DomainError as exc:
            raise DomainError(f"Added line {i + 1}: {exc.message}", field=f"add-{i}-{exc.field}") from None
    if so.status != SalesOrder.Status.IN_REVIEW:
        _fsm(so, "start_review", "reviewed")
        so.save()
    proposal, _ = Proposal.objects.update_or_create(sales_order=so, defaults={**clean_header, "updated_by": by.user})
    proposal.lines.all().delete()
    ProposalLine.objects.bulk_create(
        ProposalLine(proposal=proposal, po_line=line, **values) for line, values in clean_lines + clean_added
    )
    return proposal


def _apply_proposal(po: PurchaseOrder, proposal: Proposal | None) -> tuple[list[PurchaseOrderLine], dict]:
    """Write the proposal into the order's lines and header; return the lines and header changes."""
    lines = list(po.lines.all())
    if proposal is None:
        return lines, {}
    by_line = {p.po_line_id: p for p in proposal.lines.all() if p.po_line_id}
    header_changes = {}
    for name in (
        "accept_by",
        "confirm_ship_by",
        "invoice_due_date",
        "supplier_contact",
        "ship_to_address",
        "payment_terms_days",
        "discount",
    ):
        value = getattr(proposal, name)
        if value not in (None, "") and value != getattr(po, name):
            header_changes[name] = (_jsonable(getattr(po, name)), _jsonable(value))
            setattr(po, name, value)
    if proposal.note:
        po.supplier_note = proposal.note
    for line in lines:
        if proposal.tax_rate is not None:
            line.tax_rate = proposal.tax_rate
        change = by_line.get(line.pk)
        if change is None:
            pass  # left as it stands (the form defaults each line to its current state)
        elif change.action == ProposalLine.Action.REJECT:
            line.status, line.reject_reason = LineValues.Status.REJECTED, change.reject_reason
        else:  # accept, change or backorder: the line is supplied (again, if it was rejected)
            line.status, line.reject_reason = LineValues.Status.OPEN, ""
            line.promised_date = change.promised_date or line.promised_date
            if change.action == ProposalLine.Action.CHANGE:
                line.quantity, line.unit_price = change.quantity, change.unit_price
            if change.action == ProposalLine.Action.BACKORDER:
                line.backorder_quantity, line.backorder_date = change.backorder_quantity, change.backorder_date
            else:
                line.backorder_quantity = line.backorder_date = None
        line.line_total, line.tax_amount = line_amounts(line.quantity, line.unit_price, line.tax_rate, po.currency)
    PurchaseOrderLine.objects.bulk_update(
        lines,
        [
            "quantity",
            "unit_price",
            "tax_rate",
            "line_total",
            "tax_amount",
            "promised_date",
            "backorder_quantity",
            "backorder_date",
            "status",
            "reject_reason",
        ],
    )
    position = max((line.position for line in lines), default=0)
    template = lines[0] if lines else None
    for added in (p for p in proposal.lines.all() if p.action == ProposalLine.Action.ADD):
        position += 1
        tax_rate = proposal.tax_rate if proposal.tax_rate is not None else added.tax_rate or Decimal(0)
        line_total, tax_amount = line_amounts(added.quantity, added.unit_price, tax_rate, po.currency)
        lines.append(
            PurchaseOrderLine.objects.create(
                purchase_order=po,
                position=position,
                listing=added.listing,
                sku=added.sku,
                description=added.description,
                quantity=added.quantity,
                unit=added.unit,
                unit_price=added.unit_price,
                tax_rate=tax_rate,
                line_total=line_total,
                tax_amount=tax_amount,
                promised_date=added.promised_date,
                cost_center=template.cost_center,
                gl_account=template.gl_account,  # the customer's coding of line 1
            )
        )
    proposal.delete()
    return lines, header_changes


@transaction.atomic
def accept_sales_order(*, so: SalesOrder, by: Membership) -> SalesOrder:
    """*Accept order*: publish the proposal (if any) as the next revision for the customer."""
    require(by, "orders.accept_salesorder")
    po, so = _lock_pair_for_supplier(so, by)
    _require_active(po)
    _require_supplier_open(po, so)
    proposal = Proposal.objects.filter(sales_order=so).prefetch_related("lines").first()
    lines, header_changes = _apply_proposal(po, proposal)
    if not any(line.status != LineValues.Status.REJECTED for line in lines):
        raise DomainError("Every line is rejected: decline the order instead.")
    _fsm(so, "accept", "accepted")
    _fsm(po, "supplier_accept", "accepted")
    for name, value in order_totals(lines, po.discount, po.currency).items():
        setattr(po, name, value)
    previous = po.revisions.order_by("-number").first()
    revision = _snapshot(po, lines, Revision.Kind.ACCEPTED, by)
    po.save()
    so.save()
    changes = summarize_changes(previous, revision)
    record_event(
        po,
        OrderEvent.Kind.ACCEPTED,
        by=by,
        body=f"Accepted as revision {revision.number} ({_money(po)}): "
        + ("; ".join(changes) or "no changes").rstrip(".")
        + ".",
        data={"revision": revision.number, "changes": changes, "header": header_changes},
    )
    notify(po, "order_accepted", to_customer=True)
    return so


@transaction.atomic
def decline_sales_order(*, so: SalesOrder, by: Membership, reason: str) -> SalesOrder:
    require(by, "orders.decline_salesorder")
    po, so = _lock_pair_for_supplier(so, by)
    _require_active(po)
    reason = _clean_text(reason, "reason", required=True, limit=1000)
    _require_supplier_open(po, so)
    _fsm(so, "decline", "declined")
    _fsm(po, "supplier_decline", "declined", reason=reason)
    Proposal.objects.filter(sales_order=so).delete()
    po.save()
    so.save()
    record_event(po, OrderEvent.Kind.DECLINED, by=by, body=reason)
    notify(po, "order_declined", to_customer=True, reason=reason)
    return so


@transaction.atomic
def request_changes(*, po: PurchaseOrder, by: Membership, note: str) -> PurchaseOrder:
    """The customer sends the accepted revision back with a note; the negotiation goes on."""
    po = _lock_po(po, by)
    require(by, "orders.request_changes_purchaseorder")
    _require_active(po)
    note = _clean_text(note, "note", required=True)
    so = _lock_so_of(po)
    _fsm(po, "request_changes", "sent back")
    _fsm(so, "changes_requested", "sent back")
    approvals.withdraw_open_requests(po)  # a re-approval of the revision sent back is moot
    po.save()
    so.save()
    record_event(po, OrderEvent.Kind.CHANGES_REQUESTED, by=by, body=note)
    notify(po, "changes_requested", to_supplier=True, note=note)
    return po


@transaction.atomic
def confirm_purchase_order(*, po: PurchaseOrder, by: Membership) -> PurchaseOrder:
    """*Confirm order*: the customer takes the supplier-accepted revision as the order."""
    po = _lock_po(po, by)  # state is checked after taking the lock
    require(by, "orders.confirm_purchaseorder")
    _require_active(po)
    if po.status == PurchaseOrder.Status.SUPPLIER_ACCEPTED:
        lines = list(po.lines.all())
        if approvals.check_reapproval(po=po, by=by, lines=lines) is not None:
            return po  # sent for re-approval first: confirmed when approved
    so = _lock_so_of(po)
    _fsm(po, "confirm", "confirmed")
    _fsm(so, "confirm", "confirmed")
    po.save()
    so.save()
    record_event(
        po,
        OrderEvent.Kind.CONFIRMED,
        by=by,
        body=f"Confirmed at {_money(po)} (revision {po.revision_number}).",
    )
    notify(po, "order_confirmed", to_customer=True, to_supplier=True)
    # The invoice and the bill, by a Celery task after commit: a broker that is down never fails
    # the confirmation (the beat sweep queues it again; the task is idempotent).
    enqueue_on_commit(billing_tasks.issue_documents, po.pk)
    return po


@transaction.atomic
def revise_purchase_order(*, po: PurchaseOrder, by: Membership) -> PurchaseOrder:
    """A rejected order goes back to draft for its requester to change and submit again."""
    po = _lock_po(po, by)
    _require_draft_editor(by, po)
    _fsm(po, "revise", "reopened")
    po.save()
    record_event(po, OrderEvent.Kind.REVISED, by=by)
    return po


@transaction.atomic
def cancel_purchase_order(*, po: PurchaseOrder, by: Membership, reason: str) -> PurchaseOrder:
    """Cancel before confirmation (also while the connection is suspended)."""
    po = _lock_po(po, by)
    require(by, "orders.cancel_purchaseorder")
    if po.is_draft:
        _require_draft_editor(by, po)
    reason = _clean_text(reason, "reason", required=True, limit=1000)
    so = _lock_so_of(po)
    _fsm(po, "cancel", "cancelled", reason=reason)
    po.save()
    approvals.withdraw_open_requests(po)
    if so is not None:
        _fsm(so, "cancel", "cancelled")
        so.save()
        Proposal.objects.filter(sales_order=so).delete()
    record_event(po, OrderEvent.Kind.CANCELLED, by=by, body=reason)
    if so is not None:
        notify(po, "order_cancelled", to_supplier=True, reason=reason)
    return po


@transaction.atomic
def expire_purchase_order(*, po: PurchaseOrder) -> PurchaseOrder | None:
    """The system expires a sent order past its *valid until* date (Celery beat)."""
    po = PurchaseOrder.objects.select_for_update(of=("self",)).select_related("customer", "supplier").get(pk=po.pk)
    if po.status != PurchaseOrder.Status.SENT or not po.valid_until or po.valid_until >= timezone.localdate():
        return None  # accepted or changed meanwhile: nothing to do
    so = _lock_so_of(po)
    po.expire()
    so.expire()
    po.save()
    so.save()
    Proposal.objects.filter(sales_order=so).delete()
    record_event(po, OrderEvent.Kind.EXPIRED, body=f"Not accepted by {po.valid_until:%d %b %Y}.")
    notify(po, "order_expired", to_customer=True, to_supplier=True)
    return po


# ------------------------------------------------------------------------------ fulfilment


def _units(quantity: Decimal, unit: str) -> str:
    return f"{quantity.normalize():f} {unit}"


def _fulfilment_date(value, field: str, what: str) -> date:
    value = _clean_date(value, field)
    if value is None:
        raise DomainError(f"When {what}?", field=field)
    if value > timezone.localdate():
        raise DomainError("This date is in the future.", field=field)
    return value


def _line_fits(quantity: Decimal, price: Decimal, tax_rate: Decimal, currency: str, field: str, prefix="") -> None:
    """Refuse, naming ``field``, a line whose amount the money columns cannot hold."""
    try:
        line_amounts(quantity, price, tax_rate, currency)
    except DomainError as exc:
        raise DomainError(f"{prefix}{exc.message}", field=field) from None


def _typed_quantity(raw, line: PurchaseOrderLine, field: str, what: str) -> Decimal:
    """A quantity typed on a line of the shipment or receipt form; blank is zero."""
    if raw in (None, ""):
        return Decimal("0")
    try:
        quantity = parse_decimal(raw)
    except MoneyError as exc:
        raise DomainError(f"Line {line.position}: {exc}", field=field) from None
    if quantity < 0:
        raise DomainError(f"Line {line.position}: a quantity cannot be negative.", field=field)
    if quantity:
        problem = quantity_error(quantity, line.unit, what=what)
        if problem:
            raise DomainError(f"Line {line.position}: {problem}", field=field)
    return quantity


def _tolerance_words(tolerance: Decimal) -> str:
    if not tolerance:
        return "nothing may be received beyond the ordered quantity"
    return f"the over-receipt tolerance is {tolerance.normalize():f} %"


def require_shippable(po: PurchaseOrder, so: SalesOrder) -> None:
    """Goods ship on a confirmed order of an active connection (the *Record shipment* page asks too)."""
    _require_active(po)
    if so.status not in SalesOrder.SHIPPABLE:
        raise DomainError(
            f"{so.number} is {so.get_status_display().lower()}: goods are shipped once the customer confirms the order."
        )


def require_receivable(po: PurchaseOrder) -> None:
    """Goods are received on a confirmed order of an active connection (the page asks too)."""
    _require_active(po)
    if po.status not in PurchaseOrder.RECEIVABLE:
        raise DomainError(
            f"{po.number} is {po.get_status_display().lower()}: goods are received on confirmed orders only."
        )


def _next_number(documents) -> int:
    """1, 2, … within the order (read under the order's lock)."""
    return (documents.aggregate(last=Max("number"))["last"] or 0) + 1


@transaction.atomic
def record_shipment(
    *,
    so: SalesOrder,
    by: Membership,
    lines: dict[int, str | Decimal],
    shipped_on=None,
    carrier: str = "",
    tracking_number: str = "",
    note: str = "",
) -> Shipment:
    """Transition 11: the supplier sends some or all of the order (quantity per line id).

    A line may be shipped up to what is left of its ordered quantity, and again what the
    customer noted damaged or short; the SO becomes partially shipped or shipped. All of it or
    nothing is written."""
    require(by, "orders.add_shipment")
    po, so = _lock_pair_for_supplier(so, by)  # every shipment and receipt of the order waits here
    require_shippable(po, so)
    shipped_on = _fulfilment_date(shipped_on, "shipped_on", "did it ship")
    carrier = _clean_text(carrier, "carrier", limit=100)
    tracking_number = _clean_text(tracking_number, "tracking_number", limit=100)
    note = _clean_text(note, "note")
    po_lines = {line.pk: line for line in po.lines.all()}
    if set(lines) - set(po_lines):
        raise DomainError("A line of another order was sent.")
    shipped: list[tuple[PurchaseOrderLine, Decimal]] = []
    for pk, raw in lines.items():
        line = po_lines[pk]
        quantity = _typed_quantity(raw, line, f"line-{pk}", "The quantity shipped")
        if not quantity:
            continue
        if line.is_void:
            raise DomainError(
                f"Line {line.position} was {line.get_status_display().split()[0].lower()}: it is not shipped.",
                field=f"line-{pk}",
            )
        left = line.left_to_ship
        if quantity > left:
            replaced = line.quantity_damaged + line.quantity_short
            raise DomainError(
                f"Line {line.position}: {_units(quantity, line.unit)} is more than the "
                f"{_units(left, line.unit)} left to ship ({_units(line.quantity, line.unit)} ordered, "
                f"{_units(line.quantity_shipped, line.unit)} shipped"
                + (f", {_units(replaced, line.unit)} to send again" if replaced else "")
                + ").",
                field=f"line-{pk}",
            )
        shipped.append((line, quantity))
    if not shipped:
        raise DomainError("Enter the quantity shipped on at least one line.")
    number = _next_number(po.shipments)
    shipment = Shipment.objects.create(
        purchase_order=po,
        sales_order=so,
        supplier=po.supplier,
        customer=po.customer,
        number=number,
        shipped_on=shipped_on,
        carrier=carrier,
        tracking_number=tracking_number,
        note=note,
        created_by=by.user,
    )
    ShipmentLine.objects.bulk_create(ShipmentLine(shipment=shipment, po_line=line, quantity=q) for line, q in shipped)
    for line, quantity in shipped:
        line.quantity_shipped += quantity
    PurchaseOrderLine.objects.bulk_update([line for line, _ in shipped], ["quantity_shipped"])
    open_lines = [line for line in po_lines.values() if not line.is_void]
    if all(line.quantity_shipped >= line.quantity for line in open_lines):
        _fsm(so, "ship_all", "shipped")
    else:
        _fsm(so, "ship_part", "shipped")
    so.save()
    how = ", ".join(filter(None, [carrier and f"by {carrier}", tracking_number and f"tracking {tracking_number}"]))
    record_event(
        po,
        OrderEvent.Kind.SHIPPED,
        by=by,
        body=f"Shipment {number} sent {shipped_on:%d %b %Y}{f' ({how})' if how else ''}: "
        + "; ".join(f"{_units(q, line.unit)} {line.sku or line.description[:40]}" for line, q in shipped)
        + ".",
        data={"shipment": shipment.pk, "lines": {str(line.pk): str(q) for line, q in shipped}},
    )
    notify(
        po,
        "order_shipped",
        to_customer=True,
        customer_roles=("receiver",),
        shipment=shipment,
        shipped=[{"line": line, "quantity": q} for line, q in shipped],
    )
    return shipment


@transaction.atomic
def record_receipt(
    *,
    po: PurchaseOrder,
    by: Membership,
    lines: dict[int, dict],
    received_on=None,
    shipment: Shipment | None = None,
    note: str = "",
) -> Receipt:
    """Transition 12: the customer records what arrived (per line id: ``quantity`` in good
    condition, ``damaged``, and a ``reason`` for damaged or short units).

    Against a shipment, every line of the shipment is accounted for: what is neither received
    nor damaged is noted short. Received and damaged units together never exceed what is left
    of the line (the ordered quantity plus the organization's over-receipt tolerance). The PO
    becomes partially received or received, and closes when it is complete."""
    po = _lock_po(po, by)  # every shipment and receipt of the order waits here
    require(by, "orders.add_receipt")
    require_receivable(po)
    received_on = _fulfilment_date(received_on, "received_on", "did it arrive")
    note = _clean_text(note, "note")
    po_lines = {line.pk: line for line in po.lines.all()}
    if set(lines) - set(po_lines):
        raise DomainError("A line of another order was sent.")
    in_shipment: dict[int, Decimal] = {}
    if shipment is not None:
        shipment = Shipment.objects.filter(pk=shipment.pk, purchase_order=po).first()
        if shipment is None:
            raise DomainError("Choose a shipment of this order.", field="shipment")
        if Receipt.objects.filter(shipment=shipment).exists():
            raise DomainError(f"Shipment {shipment.number} is received already.", field="shipment")
        if received_on < shipment.shipped_on:
            raise DomainError(
                f"Shipment {shipment.number} left {po.supplier.name} on {shipment.shipped_on:%d %b %Y}: "
                "it cannot have arrived before.",
                field="received_on",
            )
        in_shipment = dict(shipment.lines.values_list("po_line_id", "quantity"))
    tolerance = tolerances_for(customer_id=po.customer_id, supplier_id=po.supplier_id).over_receipt_percent
    rows: list[tuple[PurchaseOrderLine, Decimal, Decimal, Decimal, str]] = []
    for pk, line in po_lines.items():
        values = lines.get(pk, {})
        quantity = _typed_quantity(values.get("quantity"), line, f"line-{pk}-quantity", "The quantity received")
        damaged = _typed_quantity(values.get("damaged"), line, f"line-{pk}-damaged", "The quantity damaged")
        short = Decimal("0")
        if shipment is not None:
            if (quantity or damaged) and pk not in in_shipment:
                raise DomainError(
                    f"Line {line.position} was not in shipment {shipment.number}: record it in a receipt of its own.",
                    field=f"line-{pk}-quantity",
                )
            expected = in_shipment.get(pk, Decimal("0"))
            if quantity + damaged > expected:
                raise DomainError(
                    f"Line {line.position}: shipment {shipment.number} held {_units(expected, line.unit)}; record "
                    "what came beyond it in a receipt of its own (without a shipment).",
                    field=f"line-{pk}-quantity",
                )
            short = expected - quantity - damaged
        if not (quantity or damaged or short):
            continue
        if line.is_void:
            raise DomainError(
                f"Line {line.position} was {line.get_status_display().split()[0].lower()}: it is not received.",
                field=f"line-{pk}-quantity",
            )
        left = line.left_to_receive(tolerance)
        if quantity + damaged > left:
            raise DomainError(
                f"Line {line.position}: {_units(quantity + damaged, line.unit)} is more than the "
                f"{_units(left, line.unit)} still to receive ({_units(line.quantity, line.unit)} ordered, "
                f"{_units(line.quantity_received, line.unit)} received; {_tolerance_words(tolerance)}).",
                field=f"line-{pk}-quantity",
            )
        reason = _clean_text(values.get("reason", ""), f"line-{pk}-reason", limit=500)
        if (damaged or short) and not reason:
            what = " and ".join(
                filter(
                    None,
                    [
                        damaged and f"{_units(damaged, line.unit)} damaged",
                        short and f"{_units(short, line.unit)} short",
                    ],
                )
            )
            raise DomainError(f"Line {line.position}: say why ({what}).", field=f"line-{pk}-reason")
        rows.append((line, quantity, damaged, short, reason if damaged or short else ""))
    if not rows:
        raise DomainError("Enter what arrived on at least one line.")
    number = _next_number(po.receipts)
    receipt = Receipt.objects.create(
        purchase_order=po,
        customer=po.customer,
        supplier=po.supplier,
        number=number,
        shipment=shipment,
        received_on=received_on,
        note=note,
        created_by=by.user,
    )
    ReceiptLine.objects.bulk_create(
        ReceiptLine(receipt=receipt, po_line=line, quantity=q, quantity_damaged=d, quantity_short=sh, reason=r)
        for line, q, d, sh, r in rows
    )
    for line, quantity, damaged, short, _ in rows:
        line.quantity_received += quantity
        line.quantity_damaged += damaged
        line.quantity_short += short
    PurchaseOrderLine.objects.bulk_update(
        [row[0] for row in rows], ["quantity_received", "quantity_damaged", "quantity_short"]
    )
    if all(line.is_fully_received for line in po_lines.values()):
        _fsm(po, "receive_all", "received")
    elif any(line.quantity_received for line in po_lines.values()):
        _fsm(po, "receive_part", "received")
    po.save()
    record_event(
        po,
        OrderEvent.Kind.RECEIVED,
        by=by,
        body=f"Receipt {number} of {received_on:%d %b %Y}"
        + (f" (shipment {shipment.number})" if shipment else "")
        + ": "
        + "; ".join(_receipt_words(line, q, d, sh, r) for line, q, d, sh, r in rows)
        + ".",
        data={"receipt": receipt.pk, "shipment": shipment.pk if shipment else None},
    )
    problems = [
        {"line": line, "quantity": q, "damaged": d, "short": sh, "reason": r} for line, q, d, sh, r in rows if d or sh
    ]
    if problems:
        notify(
            po,
            "receipt_discrepancy",
            to_supplier=True,
            supplier_roles=("sales", "fulfilment"),
            receipt=receipt,
            problems=problems,
        )
    _lapse_open_amendment(po, received={row[0].pk for row in rows})
    close_if_complete(po=po)
    from billing.fx import record_order_fx  # (billing imports this module)

    record_order_fx(po=po)  # the goods against the order's bill, if it exists yet
    return receipt


def _receipt_words(line: PurchaseOrderLine, quantity, damaged, short, reason) -> str:
    name = line.sku or line.description[:40]
    parts = [f"{_units(quantity, line.unit)} {name} received"]
    if damaged:
        parts.append(f"{_units(damaged, line.unit)} damaged")
    if short:
        parts.append(f"{_units(short, line.unit)} short")
    return ", ".join(parts) + (f" ({reason})" if reason else "")


@transaction.atomic
def _paid(po: PurchaseOrder) -> bool:
    """Paid and verified: the invoice is paid; or, when the customer cancelled the order's own
    bill, the bills matched to the order bill it and each is verified."""
    from billing.models import Bill, BillMatch, Invoice  # billing builds on orders

    if Invoice.objects.filter(purchase_order=po, status=Invoice.Status.PAID).exists():
        return True
    if po.billed_at is None or not Bill.objects.filter(purchase_order=po, status=Bill.Status.CANCELLED).exists():
        return False
    matched = BillMatch.objects.filter(purchase_order=po, unmatched_at__isnull=True)
    return matched.exists() and not matched.exclude(bill__status=Bill.Status.VERIFIED).exists()


def close_if_complete(*, po: PurchaseOrder) -> bool:
    """Transition 15, by the system: the order closes (its SO completes) once its goods are
    received (within the under-receipt tolerance) and its invoice is paid — verified payments
    cover it. Any service that may finish an order (a receipt, a verified payment) calls this
    again; it does nothing until every condition holds, and nothing twice."""
    po = PurchaseOrder.objects.select_for_update(of=("self",)).get(pk=po.pk)
    if po.status not in (PurchaseOrder.Status.RECEIVED, PurchaseOrder.Status.PARTIALLY_RECEIVED):
        return False
    if po.status == PurchaseOrder.Status.PARTIALLY_RECEIVED:
        under = tolerances_for(customer_id=po.customer_id, supplier_id=po.supplier_id).under_receipt_percent
        if not under or not all(line.is_received_within(under) for line in po.lines.all()):
            return False
    if not _paid(po):
        return False
    so = _lock_so_of(po)
    po.close()
    so.complete()
    po.save()
    so.save()
    _lapse_open_amendment(po)
    record_event(po, OrderEvent.Kind.CLOSED, body="Everything is received and paid: the order is complete.")
    return True


# ------------------------------------------------------------------------------ amendments

AMENDABLE = (PurchaseOrder.Status.CONFIRMED, PurchaseOrder.Status.PARTIALLY_RECEIVED)


def _has_receipts(line: PurchaseOrderLine) -> bool:
    """Anything received, damaged or short on it: a receipt line exists (never amended)."""
    return bool(line.quantity_received or line.quantity_damaged or line.quantity_short)


def amendable(line: PurchaseOrderLine) -> bool:
    """A line an amendment may raise (or, unshipped, cancel): open, and nothing received of it."""
    return not line.is_void and not _has_receipts(line)


def _amendable_line(line: PurchaseOrderLine, field: str) -> None:
    if line.is_void:
        raise DomainError(
            f"Line {line.position} is {line.get_status_display().lower()}: it cannot be amended.", field=field
        )
    if _has_receipts(line):
        raise DomainError(f"Line {line.position} has receipts: it cannot be amended.", field=field)


def _require_amendable(po: PurchaseOrder) -> None:
    if po.status not in AMENDABLE:
        raise DomainError(
            f"{po.number} is {po.get_status_display().lower()}: only a confirmed order, before everything "
            "is received, can be amended."
        )
    _require_active(po)


def _amended_lines(
    po: PurchaseOrder, lines: list[PurchaseOrderLine], quantities: dict, cancel: set
) -> list[tuple[PurchaseOrderLine, Decimal | None]]:
    """[(line, new quantity or None to cancel)] of the lines the amendment changes, checked."""
    by_pk = {line.pk: line for line in lines}
    unknown = (set(quantities) | set(cancel)) - set(by_pk)
    if unknown:
        raise DomainError("A line of another order was sent.")
    changes = []
    for line in lines:
        field = f"line-{line.pk}-quantity"
        raw = quantities.get(line.pk)
        typed = None if raw in (None, "") else _typed_quantity(raw, line, field, "The new quantity")
        if line.pk in cancel:
            if typed is not None and typed != line.quantity:
                raise DomainError(
                    f"Line {line.position}: cancel the line or raise its quantity, not both.", field=field
                )
            _amendable_line(line, f"line-{line.pk}-cancel")
            if line.quantity_shipped:
                raise DomainError(
                    f"Line {line.position} has been shipped: it cannot be cancelled (receive it when it arrives).",
                    field=f"line-{line.pk}-cancel",
                )
            changes.append((line, None))
        elif typed is not None and typed != line.quantity:
            _amendable_line(line, field)
            if typed < line.quantity:
                raise DomainError(
                    f"Line {line.position}: quantities can only be raised (it is "
                    f"{_units(line.quantity, line.unit)}); to order less, cancel the line.",
                    field=field,
                )
            _line_fits(typed, line.unit_price, line.tax_rate, po.currency, field, f"Line {line.position}: ")
            changes.append((line, typed))
    if not changes:
        raise DomainError("Raise a quantity or cancel a line: this amendment changes nothing.")
    cancelled = {line.pk for line, new in changes if new is None}
    if all(line.is_void or line.pk in cancelled for line in lines):
        raise DomainError("An amendment cannot cancel every line of the order.")
    return changes


def _apply_changes(po: PurchaseOrder, changes, note: str) -> list[PurchaseOrderLine]:
    """The lines (in memory) as the amendment makes them: raised, or cancelled with ``note``."""
    changed = []
    for line, new in changes:
        if new is None:
            line.status = LineValues.Status.CANCELLED
            line.reject_reason = note[:500]
        else:
            line.quantity = new
            line.line_total, line.tax_amount = line_amounts(new, line.unit_price, line.tax_rate, po.currency)
        changed.append(line)
    return changed


def _amendment_words(amendment: Amendment, lines: list[AmendmentLine]) -> str:
    parts = []
    for a in lines:
        name = a.sku or a.description[:40]
        if a.cancels:
            parts.append(f"{name} cancelled")
        else:
            parts.append(f"{name} {_units(a.old_quantity, a.unit)} → {_units(a.new_quantity, a.unit)}")
    cur = amendment.currency
    return (
        "; ".join(parts)
        + f". Total {format_money(amendment.old_total, cur)} → {format_money(amendment.new_total, cur)}."
    )


def _amended_totals(po: PurchaseOrder, lines: list[PurchaseOrderLine]) -> dict[str, Decimal]:
    """The order's totals with its lines as amended; a discount is never more than what is left."""
    totals = order_totals(lines, po.discount, po.currency)
    if totals["subtotal"] < totals["discount"]:
        raise DomainError(
            f"What would be left ({format_money(totals['subtotal'], po.currency)}) is less than the order's "
            f"discount of {format_money(totals['discount'], po.currency)}: cancel fewer lines."
        )
    return totals


def _bill_paid_beyond(po: PurchaseOrder, total: Decimal) -> None:
    """The order's bill never falls under what was paid on it, nor the order under the bills
    by hand matched to it (a cancelled line lowers the total)."""
    from billing.models import Bill, BillMatch  # billing builds on orders

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


@transaction.atomic
def request_amendment(
    *, po: PurchaseOrder, by: Membership, reason: str, quantities: dict | None = None, cancel=()
) -> Amendment:
    """Ask the supplier to change a confirmed order (SPEC §4): ``quantities`` {line pk: the new,
    higher quantity}, ``cancel`` the pks of lines to cancel. Lines with receipts, or already
    rejected or cancelled, are refused; so is lowering a quantity. When the new total crosses
    an approval threshold the old did not, it is approved internally first; then the supplier
    accepts or declines it. Nothing changes on the order until the supplier accepts."""
    require(by, "orders.add_amendment")
    po = _lock_po(po, by)
    _require_amendable(po)
    if po.amendments.filter(status__in=Amendment.OPEN).exists():
        raise DomainError("An amendment of this order is open already: wait for it, or withdraw it first.")
    reason = _clean_text(reason, "reason", required=True, limit=1000)
    lines = list(po.lines.select_related("cost_center").order_by("position", "pk"))
    old = {line.pk: (line.quantity, line.line_total) for line in lines}
    changes = _amended_lines(po, lines, dict(quantities or {}), set(cancel))
    changed = _apply_changes(po, changes, reason)  # in memory only, until the supplier accepts
    totals = _amended_totals(po, lines)
    _bill_paid_beyond(po, totals["total"])
    amended = copy.copy(po)  # the order as amended, for the approval (never saved)
    for name, value in totals.items():
        setattr(amended, name, value)
    plan = approvals.plan_amendment(po=amended, old_total=po.total, lines=lines, by=by)
    now = timezone.now()
    amendment = Amendment.objects.create(
        purchase_order=po,
        customer=po.customer,
        supplier=po.supplier,
        number=_next_number(po.amendments),
        status=Amendment.Status.PENDING_APPROVAL if plan else Amendment.Status.PROPOSED,
        reason=reason,
        currency=po.currency,
        old_total=po.total,
        new_total=totals["total"],
        reapproval_reason=plan.summary[:300] if plan else "",
        requested_by=by.user,
        created_at=now,
        proposed_at=None if plan else now,
    )
    amendment_lines = AmendmentLine.objects.bulk_create(
        AmendmentLine(
            amendment=amendment,
            po_line=line,
            position=line.position,
            sku=line.sku,
            description=line.description,
            unit=line.unit,
            unit_price=line.unit_price,
            old_quantity=old[line.pk][0],
            new_quantity=None if line.is_void else line.quantity,
            old_line_total=old[line.pk][1],
            new_line_total=Decimal("0") if line.is_void else line.line_total,
        )
        for line in changed
    )
    if plan:  # the supplier hears of it once it is approved (the approval panel tells the customer)
        approvals.start_amendment_request(po=amended, amendment=amendment, plan=plan, by=by)
    else:
        _ask_supplier(po, amendment, amendment_lines, by=by)
    return amendment


def _lapse_open_amendment(po: PurchaseOrder, *, received: set[int] | None = None) -> None:
    """The order moved on under its open amendment (inside the order's lock): a line it changes
    was received (``received``: the line pks of a receipt), or the order is complete (None).
    The amendment lapses — its approval ends, and the supplier hears of it if it was asked."""
    amendment = Amendment.objects.select_for_update().filter(purchase_order=po, status__in=Amendment.OPEN).first()
    if amendment is None:
        return
    if received is not None:
        hit = sorted(a.position for a in amendment.lines.all() if a.po_line_id in received)
        if not hit:
            return
        why = f"Line {', '.join(map(str, hit))} was received since: ask again for what is still open."
    else:
        why = "The order is complete."
    was_proposed = amendment.status == Amendment.Status.PROPOSED
    amendment.lapse(reason=why)
    amendment.save()
    approvals.withdraw_open_requests(po)
    if was_proposed:
        record_event(
            po,
            OrderEvent.Kind.AMENDMENT_WITHDRAWN,
            body=f"Amendment {amendment.number} lapsed: {why}",
            data={"amendment": amendment.pk},
        )
        notify(po, "amendment_withdrawn", to_supplier=True, amendment=amendment, lapsed=why)


def _ask_supplier(po: PurchaseOrder, amendment: Amendment, lines, *, by: Membership | None) -> None:
    """The amendment goes to the supplier: written into the shared thread and e-mailed."""
    record_event(
        po,
        OrderEvent.Kind.AMENDMENT,
        by=by,
        body=f"Amendment {amendment.number} requested by {amendment.requested_by.full_name}: "
        f"{_amendment_words(amendment, lines)} Reason: {amendment.reason}",
        data={"amendment": amendment.pk},
    )
    notify(
        po,
        "amendment_requested",
        to_supplier=True,
        amendment=amendment,
        amendment_lines=lines,
    )


def propose_amendment(*, amendment: Amendment, po: PurchaseOrder) -> Amendment:
    """The amendment was approved internally (the caller holds the order's lock): the
    supplier is asked now."""
    amendment = Amendment.objects.select_for_update().get(pk=amendment.pk, purchase_order=po)
    amendment.propose()
    amendment.save()
    _ask_supplier(po, amendment, list(amendment.lines.all()), by=None)
    return amendment


def _lock_amendment_for_supplier(amendment: Amendment, by: Membership) -> tuple[PurchaseOrder, SalesOrder, Amendment]:
    po = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("connection", "customer", "supplier", "requester")
        .get(amendments__pk=amendment.pk, supplier=by.organization)
    )
    so = SalesOrder.objects.select_for_update().get(purchase_order=po)
    return po, so, Amendment.objects.select_for_update().get(pk=amendment.pk, purchase_order=po)


@transaction.atomic
def accept_amendment(*, amendment: Amendment, by: Membership) -> Amendment:
    """The supplier accepts: the order publishes the amendment as its next revision, the sales
    order follows (more to ship, or everything shipped), and so do the invoice and the bill."""
    from billing import services as billing_services  # billing builds on orders

    require(by, "orders.accept_amendment")
    po, so, amendment = _lock_amendment_for_supplier(amendment, by)
    _fsm(
        amendment,
        "accept",
        "accepted",
        noun=f"Amendment {amendment.number}",
        by=by.user,
        revision_number=po.revision_number + 1,
    )
    _require_amendable(po)
    lines = list(po.lines.order_by("position", "pk"))
    by_pk = {line.pk: line for line in lines}
    asked = list(amendment.lines.all())
    for a in asked:  # the order may have moved since it was asked: check again, under the lock
        line = by_pk[a.po_line_id]
        _amendable_line(line, "amendment")
        if line.quantity != a.old_quantity:
            raise DomainError(f"Line {line.position} changed since the amendment was asked: it must be asked again.")
        if a.cancels and line.quantity_shipped:
            raise DomainError(f"Line {line.position} has been shipped since: it can no longer be cancelled.")
    changes = [(by_pk[a.po_line_id], a.new_quantity) for a in asked]
    changed = _apply_changes(po, changes, f"amendment {amendment.number} — {amendment.reason}")
    PurchaseOrderLine.objects.bulk_update(changed, ["quantity", "line_total", "tax_amount", "status", "reject_reason"])
    for name, value in _amended_totals(po, lines).items():
        setattr(po, name, value)
    _bill_paid_beyond(po, po.total)
    revision = _snapshot(po, lines, Revision.Kind.AMENDED, by)
    open_lines = [line for line in lines if not line.is_void]
    if all(line.is_fully_received for line in lines):  # what is left was cancelled
        _fsm(po, "receive_all", "received")
    if any(line.quantity_shipped for line in open_lines):
        if all(line.quantity_shipped >= line.quantity for line in open_lines):
            if so.status != SalesOrder.Status.SHIPPED:
                _fsm(so, "ship_all", "shipped")
        elif so.status == SalesOrder.Status.SHIPPED:
            _fsm(so, "ship_part", "shipped")  # more to ship now
    po.save()
    so.save()
    amendment.save()
    record_event(
        po,
        OrderEvent.Kind.AMENDMENT_ACCEPTED,
        by=by,
        body=f"Amendment {amendment.number} accepted by {po.supplier.name} as revision {revision.number}: "
        + _amendment_words(amendment, asked),
        data={"amendment": amendment.pk, "revision": revision.number},
    )
    billing_services.revise_documents(po=po, lines=lines)
    notify(
        po,
        "amendment_accepted",
        to_customer=True,
        customer_also=(amendment.requested_by.email,),
        amendment=amendment,
        amendment_lines=asked,
    )
    close_if_complete(po=po)
    return amendment


@transaction.atomic
def decline_amendment(*, amendment: Amendment, by: Membership, reason: str) -> Amendment:
    """The supplier declines (with a reason): the order stays as it was."""
    require(by, "orders.accept_amendment")
    po, _, amendment = _lock_amendment_for_supplier(amendment, by)
    _require_active(po)
    reason = _clean_text(reason, "reason", required=True, limit=1000)
    _fsm(amendment, "decline", "declined", noun=f"Amendment {amendment.number}", by=by.user, reason=reason)
    amendment.save()
    record_event(
        po,
        OrderEvent.Kind.AMENDMENT_DECLINED,
        by=by,
        body=f"Amendment {amendment.number} declined by {po.supplier.name}: {reason}",
        data={"amendment": amendment.pk},
    )
    notify(
        po,
        "amendment_declined",
        to_customer=True,
        customer_also=(amendment.requested_by.email,),
        amendment=amendment,
        reason=reason,
    )
    return amendment


@transaction.atomic
def withdraw_amendment(*, amendment: Amendment, by: Membership) -> Amendment:
    """The customer takes back an open amendment (and ends its approval, if one runs)."""
    require(by, "orders.add_amendment")
    po = (
        PurchaseOrder.objects.select_for_update(of=("self",))
        .select_related("connection", "customer", "supplier")
        .get(amendments__pk=amendment.pk, customer=by.organization)
    )
    amendment = Amendment.objects.select_for_update().get(pk=amendment.pk, purchase_order=po)
    was_proposed = amendment.status == Amendment.Status.PROPOSED
    _fsm(amendment, "withdraw", "withdrawn", noun=f"Amendment {amendment.number}", by=by.user)
    amendment.save()
    approvals.withdraw_open_requests(po)
    if was_proposed:  # before, only the customer knew of it (its approval panel says it ended)
        record_event(
            po,
            OrderEvent.Kind.AMENDMENT_WITHDRAWN,
            by=by,
            body=f"Amendment {amendment.number} withdrawn by {by.user.full_name}.",
            data={"amendment": amendment.pk},
        )
        notify(po, "amendment_withdrawn", to_supplier=True, amendment=amendment)
    return amendment


# ------------------------------------------------------------------ thread and internal notes


def _side(by: Membership, po: PurchaseOrder) -> str:
    if by.organization_id == po.customer_id:
        require(by, "orders.view_purchaseorder")
        return "customer"
    if by.organization_id == po.supplier_id and hasattr(po, "sales_order"):
        require(by, "orders.view_salesorder")
        return "supplier"
    raise NotAllowed("This order is not yours.")


@transaction.atomic
def post_message(*, po: PurchaseOrder, by: Membership, body: str) -> OrderEvent:
    """A message in the shared thread, which both organizations read."""
    _side(by, po)
    if po.is_draft:
        raise DomainError("The supplier sees the thread once the order is sent; use an internal note for now.")
    return record_event(po, OrderEvent.Kind.MESSAGE, by=by, body=_clean_text(body, "body", required=True))


@transaction.atomic
def add_internal_note(*, po: PurchaseOrder, by: Membership, body: str) -> InternalNote:
    """A note only the author's organization sees."""
    _side(by, po)
    return InternalNote.objects.create(
        purchase_order=po,
        organization=by.organization,
        author=by.user,
        body=_clean_text(body, "body", required=True),
    )


# ---------------------------------------------------------------------------- revisions diff


def diff_revisions(old: Revision | None, new: Revision) -> list[dict]:
    """Line by line, what ``new`` changed against ``old``: added, removed, changed, same."""
    old_lines = {line.key: line for line in old.lines.all()} if old else {}
    rows = []
    for line in new.lines.all():
        before = old_lines.pop(line.key, None)
        if before is None:
            rows.append({"kind": "added" if old else "same", "line": line, "before": None, "fields": []})
            continue
        fields = [
            name
            for name in (
                "description",
                "quantity",
                "unit_price",
                "tax_rate",
                "line_total",
                "promised_date",
                "backorder_quantity",
                "backorder_date",
                "status",
                "reject_reason",
            )
            if getattr(before, name) != getattr(line, name)
        ]
        voided = line.is_void and line.status != before.status
        kind = line.status if voided else ("changed" if fields else "same")  # "rejected" / "cancelled"
        rows.append({"kind": kind, "line": line, "before": before, "fields": fields})
    rows += [{"kind": "removed", "line": line, "before": line, "fields": []} for line in old_lines.values()]
    return rows


HEADER_LABELS = {
    "expected_delivery_date": "delivery by",
    "valid_until": "answer by",
    "ship_to_address": "ship-to address",
    "payment_terms_days": "payment terms (days)",
    "accept_by": "confirm by",
    "confirm_ship_by": "ships by",
    "invoice_due_date": "invoice due",
    "supplier_contact": "supplier contact",
}


def diff_headers(old: Revision | None, new: Revision) -> list[tuple[str, str, str]]:
    """(label, before, after) of each header field ``new`` changed, the discount included."""
    if old is None:
        return []
    rows = [
        (label, str(old.header.get(name) or "—"), str(new.header.get(name) or "—"))
        for name, label in HEADER_LABELS.items()
        if old.header.get(name) != new.header.get(name)
    ]
    if old.discount != new.discount:
        rows.append(("discount", f"{old.discount.normalize():f}", f"{new.discount.normalize():f}"))
    return rows


def summarize_changes(old: Revision | None, new: Revision) -> list[str]:
    """The diff in words, for the thread and the e-mail."""
    words = [f"{label} {before} → {after}" for label, before, after in diff_headers(old, new)]
    for row in diff_revisions(old, new):
        line, before = row["line"], row["before"]
        name = line.sku or line.description[:40]
        if row["kind"] == "added":
            words.append(f"added {name} ({line.quantity.normalize():f} {line.unit})")
        elif row["kind"] in ("rejected", "cancelled"):
            words.append(f"{row['kind']} {name}: {line.reject_reason}")
        elif row["kind"] == "changed":
            parts = []
            if "quantity" in row["fields"]:
                parts.append(f"quantity {before.quantity.normalize():f} → {line.quantity.normalize():f}")
            if "unit_price" in row["fields"]:
                parts.append(f"price {before.unit_price.normalize():f} → {line.unit_price.normalize():f}")
            if "backorder_quantity" in row["fields"] and line.backorder_quantity:
                parts.append(f"{line.backorder_quantity.normalize():f} backordered to {line.backorder_date}")
            if "promised_date" in row["fields"]:
                parts.append(f"promised {line.promised_date}")
            if parts:
                words.append(f"{name}: " + ", ".join(parts))
    return words


# -------------------------------------------------------------------------------- e-mails


def emails_of(org: Organization, *roles: str) -> list[str]:
    emails = [m.user.email for m in org.memberships.select_related("user") if set(m.roles) & {"admin", *roles}]
    if org.notification_email:
        emails.append(org.notification_email)
    return emails


def notify(
    po: PurchaseOrder,
    template: str,
    *,
    to_customer=False,
    to_supplier=False,
    attach_pdf=False,
    customer_roles: tuple[str, ...] = (),
    customer_also: tuple[str, ...] = (),
    supplier_roles: tuple[str, ...] = ("sales",),
    **context,
) -> None:
    """Queue the e-mail of an event to each side, linking straight to that side's page: the
    customer's requester and admins (and ``customer_roles``), the supplier's admins and
    ``supplier_roles``, and each organization's notification address."""
    so = getattr(po, "sales_order", None)
    event_id = po.events.order_by("-pk").values_list("pk", flat=True).first()
    sides = []
    if to_customer:
        url = reverse("orders:po-detail", kwargs={"org_slug": po.customer.slug, "number": po.number})
        to = [po.requester.email, *customer_also, *emails_of(po.customer, *customer_roles)]
        sides.append(("customer", po.customer, list(dict.fromkeys(to)), url))
    if to_supplier and so is not None:
        url = reverse("orders:so-detail", kwargs={"org_slug": po.supplier.slug, "number": so.number})
        sides.append(("supplier", po.supplier, emails_of(po.supplier, *supplier_roles), url))
    for side, org, to, url in sides:
        attachments = []
        if attach_pdf:
            attachments.append({"renderer": "purchase_order_pdf", "pk": po.pk, "revision": po.revision_number})
        queue_email(
            key=f"{template}:{po.pk}:{event_id}:{side}",
            to=to,
            template=template,
            organization=org,
            attachments=attachments,
            context={"po": po, "so": so, "side": side, "url": absolute_url(url), **context},
        )


# --------------------------------------------------------------------- sharing one order


@transaction.atomic
def share_purchase_order(*, po: PurchaseOrder, by: Membership, member: Membership) -> None:
    """An admin lets one colleague whose roles do not show purchase orders see this one
    (a django-guardian object permission)."""
    require(by, "accounts.manage_members")
    po = _lock_po(po, by)
    if member.organization_id != po.customer_id:
        raise DomainError(f"Choose a member of {po.customer.name}.", field="member")
    if member.has_perm("orders.view_purchaseorder"):
        raise DomainError(f"{member.user} sees every purchase order already.", field="member")
    assign_perm("orders.view_purchaseorder", member.user, po)
    note = InternalNote.objects.create(
        purchase_order=po, organization=po.customer, author=by.user, body=f"Shared with {member.user}."
    )
    url = reverse("orders:po-detail", kwargs={"org_slug": po.customer.slug, "number": po.number})
    queue_email(
        key=f"po_shared:{po.pk}:{note.pk}",
        to=[member.user.email],
        template="po_shared",
        organization=po.customer,
        context={"po": po, "by": by.user, "url": absolute_url(url)},
    )


@transaction.atomic
def unshare_purchase_order(*, po: PurchaseOrder, by: Membership, member: Membership) -> None:
    require(by, "accounts.manage_members")
    po = _lock_po(po, by)
    if member.organization_id != po.customer_id:
        raise DomainError(f"Choose a member of {po.customer.name}.", field="member")
    remove_perm("orders.view_purchaseorder", member.user, po)
    InternalNote.objects.create(
        purchase_order=po, organization=po.customer, author=by.user, body=f"No longer shared with {member.user}."
    )


# ------------------------------------------------------------------------ accounting codes

ACCOUNTING_MODELS = {"cost-centers": CostCenter, "gl-accounts": GLAccount}


@transaction.atomic
def save_accounting_code(*, by: Membership, kind: str, code: str, name: str) -> CostCenter | GLAccount:
    """A cost center or GL account of the organization (the lists order lines are coded with)."""
    require(by, "accounts.change_organization")
    model = ACCOUNTING_MODELS[kind]
    code = _clean_text(code, "code", required=True, limit=30)
    name = _clean_text(name, "name", required=True, limit=120)
    if model.objects.filter(organization=by.organization, code__iexact=code).exists():
        raise DomainError(f"You have a {model._meta.verbose_name} with code “{code}” already.", field="code")
    return model.objects.create(organization=by.organization, code=code, name=name)


@transaction.atomic
def set_accounting_code_active(*, by: Membership, obj: CostCenter | GLAccount, active: bool) -> None:
    """Deactivated codes stay on the lines that use them but cannot be chosen any more."""
    require(by, "accounts.change_organization")
    type(obj).objects.filter(pk=obj.pk, organization=by.organization).update(is_active=active)
