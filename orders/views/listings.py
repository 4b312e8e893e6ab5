"""Supplier listings: list, create, edit, (de)activate and export."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render

from accounts.selectors import active_customers_of
from procurement.errors import DomainError
from procurement.lists import PAGE_SIZE, query_without
from procurement.money import money_input
from procurement.views import OrgView, PostOnlyView

from .. import listing_csv, selectors
from ..forms import CustomerPriceFormSet, ListingFilterForm, ListingForm, PriceBreakFormSet
from ..services.listings import ListingRefused, save_listing, set_listing_active
from ..units import UNITS


class ListingListView(OrgView):
    permission = "orders.view_listing"

    def get(self, request, org_slug):
        form = ListingFilterForm(request.GET)
        filters = form.cleaned_data if form.is_valid() else {}
        sort = filters.get("sort") or "sku"
        listings = selectors.search_listings(
            self.org,
            q=filters.get("q", ""),
            status=filters.get("status", ""),
            unit=filters.get("unit", ""),
            sort=sort,
        )
        page = Paginator(listings, PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        key = sort.lstrip("-")
        context = {
            "form": form,
            "page": page,
            "sort": sort,
            "sort_label": f"{selectors.SORT_LABELS.get(key, 'SKU')}, "
            f"{'descending' if sort.startswith('-') else 'ascending'}",
            "query": query.urlencode(),
            "sort_query": query_without(query, "sort"),
        }
        template = "orders/_listing_table.html" if request.htmx and not request.htmx.boosted else "orders/listings.html"
        return render(request, template, context)


class ListingExportView(OrgView):
    permission = "orders.view_listing"

    def get(self, request, org_slug):
        form = ListingFilterForm(request.GET)
        filters = form.cleaned_data if form.is_valid() else {}
        listings = selectors.search_listings(
            self.org,
            q=filters.get("q", ""),
            status=filters.get("status", ""),
            unit=filters.get("unit", ""),
            sort=filters.get("sort") or "sku",
        ).prefetch_related("price_breaks")

        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())
        rows = (writer.writerow(row) for row in listing_csv.export_rows(listings.iterator(chunk_size=1000)))
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.org.slug}-listings.csv"'
        return response


class ListingEditView(OrgView):
    """Create (no ``pk``) or edit a listing, with its price breaks and customer prices."""

    template_name = "orders/listing_form.html"

    def dispatch(self, request, *args, **kwargs):
        self.permission = "orders.change_listing" if kwargs.get("pk") else "orders.add_listing"
        return super().dispatch(request, *args, **kwargs)

    def get_listing(self):
        pk = self.kwargs.get("pk")
        return selectors.listing_for(supplier=self.org, pk=pk) if pk else None

    def forms(self, listing, data=None):
        customers = list(active_customers_of(self.org))
        if data is not None:
            return (
                ListingForm(data, supplier=self.org),
                PriceBreakFormSet(data, prefix="breaks"),
                CustomerPriceFormSet(data, prefix="prices", form_kwargs={"customers": customers}),
            )
        if listing is None:
            initial = {
                "currency": self.org.base_currency,
                "is_active": True,
                "unit": "ea",
                "min_order_qty": "1",
            }
            breaks, prices = [], []
        else:
            initial = {
                "sku": listing.sku,
                "name": listing.name,
                "description": listing.description,
                "unit": listing.unit,
                "unit_price": money_input(listing.unit_price, listing.currency),
                "currency": listing.currency,
                "min_order_qty": f"{listing.min_order_qty.normalize():f}",
                "is_active": listing.is_active,
            }
            breaks = [
                {
                    "min_quantity": f"{b.min_quantity.normalize():f}",
                    "unit_price": money_input(b.unit_price, listing.currency),
                }
                for b in listing.price_breaks.all()
            ]
            prices = [
                {"customer": p.customer_id, "unit_price": money_input(p.unit_price, listing.currency)}
                for p in listing.customer_prices.all()
            ]
        return (
            ListingForm(initial=initial, supplier=self.org),
            PriceBreakFormSet(initial=breaks, prefix="breaks"),
            CustomerPriceFormSet(initial=prices, prefix="prices", form_kwargs={"customers": customers}),
        )

    def show(self, listing, form, breaks, prices, errors=None):
        errors = errors or {}
        return render(
            self.request,
            self.template_name,
            {
                "listing": listing,
                "form": form,
                "breaks": breaks,
                "prices": prices,
                "breaks_error": errors.get("price_breaks"),
                "prices_error": errors.get("customer_prices"),
                "units": UNITS,
                "has_customers": bool(prices.forms and prices.forms[0].customers),
            },
        )

    def get(self, request, org_slug, pk=None):
        listing = self.get_listing()
        return self.show(listing, *self.forms(listing))

    def post(self, request, org_slug, pk=None):
        listing = self.get_listing()
        form, breaks, prices = self.forms(listing, request.POST)
        if not (form.is_valid() and breaks.is_valid() and prices.is_valid()):
            return self.show(listing, form, breaks, prices)
        values = form.listing_values(
            price_breaks=[
                (f.cleaned_data["min_quantity"], f.cleaned_data["unit_price"])
                for f in breaks
                if f.cleaned_data.get("min_quantity") is not None
            ],
            customer_prices=[
                (f.cleaned_data["customer"], f.cleaned_data["unit_price"])
                for f in prices
                if f.cleaned_data.get("customer")
            ],
        )
        try:
            saved = save_listing(by=self.membership, values=values, listing=listing)
        except ListingRefused as exc:
            for field, message in exc.errors.items():
                if field in form.fields:
                    form.add_error(field, message)
            return self.show(listing, form, breaks, prices, exc.errors)
        except DomainError as exc:
            form.add_error(None, exc.message)
            return self.show(listing, form, breaks, prices)
        messages.success(request, f"Listing {saved.sku} saved.")
        return redirect(self.org_url("orders:listings"))


class ListingActiveView(PostOnlyView):
    permission = "orders.change_listing"
    active = True

    def get_object(self):
        return selectors.listing_for(supplier=self.org, pk=self.kwargs["pk"])

    def done_url(self):
        return self.org_url("orders:listing-edit", pk=self.kwargs["pk"])

    def post(self, request, org_slug, pk):
        listing = self.get_object()
        try:
            set_listing_active(by=self.membership, listing=listing, active=self.active)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            state = "active" if self.active else "inactive: customers can no longer order it"
            messages.success(request, f"Listing {listing.sku} is {state}.")
        return redirect(self.done_url())
