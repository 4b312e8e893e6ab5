"""Every write of the orders app. For now: supplier listings and their CSV import."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Organization
from accounts.permissions import require
from accounts.selectors import active_customers_of
from billing.money import CURRENCIES, MoneyError, parse_decimal, parse_price
from procurement.errors import DomainError
from procurement.validators import no_markup

from .models import CustomerPrice, Listing, PriceBreak
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
MAX_IMPORT_ROWS = 20_000


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
        PriceBreak(listing=lst, min_quantity=q, unit_price=p)
        for lst, v in with_breaks
        for q, p in v.price_breaks
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
    return listing


@transaction.atomic
def set_listing_active(*, by: Membership, listing: Listing, active: bool) -> Listing:
    require(by, "orders.change_listing")
    listing = Listing.objects.select_for_update().get(pk=listing.pk, supplier=by.organization)
    if listing.is_active != active:
        listing.is_active = active
        listing.save(update_fields=["is_active", "updated_at"])
    return listing


# ------------------------------------------------------------------------------- CSV import

CSV_COLUMNS = [
    "sku",
    "name",
    "description",
    "unit",
    "unit_price",
    "currency",
    "min_order_qty",
    "active",
    "price_breaks",
]
REQUIRED_COLUMNS = {"sku", "name", "unit", "unit_price"}
_TRUE = {"", "1", "true", "yes", "y", "active"}
_FALSE = {"0", "false", "no", "n", "inactive"}


@dataclass
class RowError:
    row: int  # the line number in the file, the header being line 1
    column: str
    message: str


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)


class ImportRefused(DomainError):
    def __init__(self, errors: list[RowError]):
        count = len(errors)
        super().__init__(f"The file has {count} problem{'s' if count != 1 else ''}; nothing was imported.")
        self.errors = errors


def _parse_breaks(raw: str) -> list[tuple[str, str]]:
    """``"10=9.50; 50=9.00"``: from 10 units 9.50, from 50 units 9.00."""
    pairs = []
    for part in raw.replace("\n", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ValueError(f"“{part}” is not “quantity=price”.")
        quantity, price = (p.strip() for p in part.split("=", 1))
        pairs.append((quantity, price))
    return pairs


def read_listing_rows(data: bytes, *, supplier: Organization) -> tuple[list[ListingValues], list[RowError]]:
    """Parse and validate a whole file; return the clean rows or every problem found."""
    errors: list[RowError] = []
    if not data.strip():
        return [], [RowError(1, "", "The file is empty.")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [RowError(1, "", "The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.")]
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = REQUIRED_COLUMNS - set(header)
    if missing:
        return [], [
            RowError(1, "", f"Missing column{'s' if len(missing) > 1 else ''}: {', '.join(sorted(missing))}.")
        ]
    unknown = set(header) - set(CSV_COLUMNS)
    if unknown:
        return [], [
            RowError(1, "", f"Unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(sorted(unknown))}.")
        ]
    reader.fieldnames = header
    rows: list[ListingValues] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        if number - 1 > MAX_IMPORT_ROWS:
            errors.append(RowError(number, "", f"At most {MAX_IMPORT_ROWS} rows per file."))
            break
        if None in raw:
            errors.append(RowError(number, "", "This row has more cells than the header."))
            continue
        values = {k: (v or "").strip() for k, v in raw.items()}
        if not any(values.values()):
            continue  # blank line
        active = values.get("active", "").lower()
        if active not in _TRUE | _FALSE:
            errors.append(RowError(number, "active", f"“{values['active']}” is not yes or no."))
        values["is_active"] = active not in _FALSE
        if "price_breaks" in header:
            try:
                values["price_breaks"] = _parse_breaks(values["price_breaks"])
            except ValueError as exc:
                errors.append(RowError(number, "price_breaks", str(exc)))
                values["price_breaks"] = None
        else:
            values["price_breaks"] = None
        clean, problems = check_listing(values, supplier=supplier)
        errors += [RowError(number, column, message) for column, message in problems.items()]
        key = values.get("sku", "").lower()
        if key:
            if key in seen:
                errors.append(
                    RowError(number, "sku", f"SKU “{values['sku']}” is on line {seen[key]} already.")
                )
            else:
                seen[key] = number
        if clean:
            rows.append(clean)
    if not rows and not errors:
        errors.append(RowError(1, "", "The file has a header but no listings."))
    return rows, errors


@transaction.atomic
def import_listings(*, by: Membership, data: bytes) -> ImportResult:
    """Create or update (by SKU) the organization's listings from a CSV file: all rows or none."""
    require(by, "orders.add_listing")
    require(by, "orders.change_listing")
    supplier = by.organization
    if len(data) > settings.LISTING_IMPORT_MAX_BYTES:
        limit = settings.LISTING_IMPORT_MAX_BYTES // (1024 * 1024)
        raise ImportRefused(
            [RowError(1, "", f"The file is larger than {limit} MB. Split it and import the parts.")]
        )
    rows, errors = read_listing_rows(data, supplier=supplier)
    if errors:
        raise ImportRefused(errors)
    existing = {
        listing.sku.lower(): listing
        for listing in Listing.objects.select_for_update().filter(supplier=supplier)
    }
    to_create, to_update = [], []
    for values in rows:
        listing = existing.get(values.sku.lower())
        if listing is None:
            listing = Listing(supplier=supplier)
            to_create.append((listing, values))
        else:
            to_update.append((listing, values))
        _apply(listing, values)
    Listing.objects.bulk_create([lst for lst, _ in to_create], batch_size=1000)
    now = timezone.now()
    for listing, _ in to_update:
        listing.updated_at = now
    Listing.objects.bulk_update(
        [lst for lst, _ in to_update],
        [*(f for f in LISTING_FIELDS if f != "sku"), "sku", "updated_at", "price_updated_at"],
        batch_size=1000,
    )
    _replace_breaks(to_create + to_update)
    return ImportResult(created=len(to_create), updated=len(to_update))
