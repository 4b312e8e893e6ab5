"""Every tenant-scoped read of the orders app."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from accounts.models import Organization

from .models import Listing

SORT_LABELS = {"sku": "SKU", "name": "name", "price": "unit price", "updated": "last update"}
LISTING_SORTS = {
    "sku": ("sku", "pk"),
    "-sku": ("-sku", "-pk"),
    "name": ("name", "pk"),
    "-name": ("-name", "-pk"),
    "price": ("unit_price", "pk"),
    "-price": ("-unit_price", "-pk"),
    "updated": ("updated_at", "pk"),
    "-updated": ("-updated_at", "-pk"),
}


def listings_of(supplier: Organization) -> QuerySet[Listing]:
    return Listing.objects.filter(supplier=supplier)


def listing_for(*, supplier: Organization, pk: int) -> Listing:
    listing = (
        listings_of(supplier)
        .prefetch_related("price_breaks", "customer_prices__customer")
        .filter(pk=pk)
        .first()
    )
    if listing is None:
        raise Http404("No such listing.")
    return listing


def search_listings(
    supplier: Organization, *, q: str = "", status: str = "", unit: str = "", sort: str = "sku"
) -> QuerySet[Listing]:
    listings = listings_of(supplier).annotate(break_count=Count("price_breaks"))
    for term in q.split()[:8]:  # every word must match, in any of the text fields
        listings = listings.filter(
            Q(sku__icontains=term) | Q(name__icontains=term) | Q(description__icontains=term)
        )
    if status == "active":
        listings = listings.filter(is_active=True)
    elif status == "inactive":
        listings = listings.filter(is_active=False)
    if unit:
        listings = listings.filter(unit=unit)
    return listings.order_by(*LISTING_SORTS.get(sort, LISTING_SORTS["sku"]))


def listing_counts(supplier: Organization) -> dict[str, int]:
    return listings_of(supplier).aggregate(total=Count("pk"), active=Count("pk", filter=Q(is_active=True)))
