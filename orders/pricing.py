"""The price of a line: what a customer pays per unit of a listing.

One rule for every place a price is shown or stored: the live preview of a line being typed,
a line added or changed on a draft, the prices frozen on submission, and the drafts repriced
when a listing changes all ask ``unit_price``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from .models import CustomerPrice, Listing

CustomerPrices = dict[tuple[int, int], Decimal]  # (listing id, customer id) -> the customer's own price


def customer_prices(listings: Iterable[Listing | int], customer_id: int | None = None) -> CustomerPrices:
    """The customers' own prices of these listings (only ``customer_id``'s when given), read in one query."""
    rows = CustomerPrice.objects.filter(listing__in=listings)
    if customer_id is not None:
        rows = rows.filter(customer_id=customer_id)
    return {
        (listing_id, customer): price
        for listing_id, customer, price in rows.values_list("listing_id", "customer_id", "unit_price")
    }


def unit_price(
    listing: Listing, *, quantity: Decimal, customer_id: int, prices: CustomerPrices | None = None
) -> Decimal:
    """The unit price the customer pays for ``quantity``: the lowest of the list price, the
    customer's own price (if any) and the price breaks the quantity reaches. Uses the
    listing's prefetched breaks; ``prices`` are the customer prices a caller read for a batch
    of lines (``customer_prices``) — without them, this listing's is read."""
    if prices is None:
        prices = customer_prices([listing], customer_id)
    candidates = [listing.unit_price]
    own = prices.get((listing.pk, customer_id))
    if own is not None:
        candidates.append(own)
    candidates += [b.unit_price for b in listing.price_breaks.all() if quantity >= b.min_quantity]
    return min(candidates)
