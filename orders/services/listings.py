"""Supplier listings: checking and saving them (their CSV import is ``orders.listing_csv``), and
the draft lines that follow a listing's price."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Organization
from accounts.permissions import require
from accounts.selectors import active_customers_of
from procurement.errors import DomainError
from procurement.money import CURRENCIES, MoneyError, parse_price
from procurement.transactions import require_atomic
from procurement.validators import clean_text

from ..models import CustomerPrice, Listing, PriceBreak, PurchaseOrder, PurchaseOrderLine
from ..pricing import customer_prices, unit_price
from ..totals import line_amounts
from ..units import UNITS, quantity_error
from .drafts import _save_totals

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


@dataclass(frozen=True)
class ListingValues:
    """A listing as typed in its form or read from a CSV row (``orders.forms.ListingForm``,
    ``ListingRowForm``): plain text, a known unit and currency, Decimals."""

    sku: str
    name: str
    description: str
    unit: str
    unit_price: Decimal
    currency: str
    min_order_qty: Decimal = Decimal(1)
    is_active: bool = True
    price_breaks: list[tuple[Decimal, Decimal]] | None = None  # None: leave as they are
    customer_prices: list[tuple[Organization, Decimal]] | None = None


def check_listing(values: ListingValues, *, supplier: Organization) -> tuple[ListingValues | None, dict[str, str]]:
    """Check a listing against the rules of its currency and unit: prices within the currency's
    decimals and the money columns, quantities in the unit, price breaks that lower the price,
    customer prices for connected customers only.

    Returns the clean values (prices rounded, breaks sorted), or a message per field; writes nothing.
    """
    errors: dict[str, str] = {}
    text = {}
    for name, limit in (("sku", 64), ("name", 200), ("description", 5000)):  # the form's rules, again
        raw = getattr(values, name) or ""
        try:
            text[name] = clean_text(raw, name, required=name != "description", limit=limit)
        except DomainError as exc:
            errors[name] = exc.message
    currency, unit = values.currency, values.unit
    if currency not in CURRENCIES:
        errors["currency"] = f"“{currency}” is not a currency Tandem knows."
    if unit not in UNITS:
        errors["unit"] = f"“{unit}” is not a unit Tandem knows (use one of: {', '.join(UNITS)})."
    price = None
    if "currency" not in errors:
        try:
            price = parse_price(values.unit_price, currency)
        except MoneyError as exc:
            errors["unit_price"] = str(exc)
    if "unit" not in errors:
        problem = quantity_error(values.min_order_qty, unit, what="The minimum order quantity")
        if problem:
            errors["min_order_qty"] = problem
    breaks = values.price_breaks
    if breaks is not None and "unit" not in errors and "currency" not in errors:
        seen: set[Decimal] = set()
        cleaned_breaks = []
        for quantity, break_price in breaks:
            problem = quantity_error(quantity, unit, what="A price break's quantity")
            if not problem and quantity in seen:
                problem = f"Two price breaks start at {quantity}."
            if not problem:
                seen.add(quantity)
                try:
                    cleaned_breaks.append((quantity, parse_price(break_price, currency)))
                except MoneyError as exc:
                    problem = str(exc)
            if problem:
                errors["price_breaks"] = problem
                break
        else:
            breaks = sorted(cleaned_breaks)
            problem = _break_problem(breaks, price)
            if problem:
                errors["price_breaks"] = problem
    customer_prices = values.customer_prices
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
    return replace(values, **text, unit_price=price, price_breaks=breaks, customer_prices=customer_prices), {}


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
    require_atomic()
    with_breaks = [(lst, v) for lst, v in listings_and_values if v.price_breaks is not None]
    if not with_breaks:
        return
    PriceBreak.objects.filter(listing__in=[lst for lst, _ in with_breaks]).delete()
    PriceBreak.objects.bulk_create(
        PriceBreak(listing=lst, min_quantity=q, unit_price=p) for lst, v in with_breaks for q, p in v.price_breaks
    )


@transaction.atomic
def save_listing(*, by: Membership, values: ListingValues, listing: Listing | None = None) -> Listing:
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


@transaction.atomic
def reprice_drafts(listings: list[Listing]) -> int:
    """Draft listing lines follow their listing's latest price (SPEC §3). Returns lines repriced."""
    lines = list(
        PurchaseOrderLine.objects.select_related("purchase_order", "listing")
        .prefetch_related("listing__price_breaks")
        .filter(listing__in=listings, purchase_order__status=PurchaseOrder.Status.DRAFT)
    )
    if not lines:
        return 0
    prices = customer_prices(listings)
    changed, orders = [], {}
    for line in lines:
        po = line.purchase_order
        price = unit_price(line.listing, quantity=line.quantity, customer_id=po.customer_id, prices=prices)
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
