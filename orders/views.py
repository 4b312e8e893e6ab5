"""Supplier listings: list, create, edit, (de)activate, import and export."""

from __future__ import annotations

import csv

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render

from accounts.selectors import active_customers_of
from accounts.views import OrgView, PostOnlyView
from procurement.errors import DomainError

from . import selectors, services
from .forms import CustomerPriceFormSet, ListingFilterForm, ListingForm, ListingImportForm, PriceBreakFormSet
from .units import UNITS

PAGE_SIZE = 25


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
            "sort_query": _without(query, "sort"),
        }
        template = (
            "orders/_listing_table.html"
            if request.htmx and not request.htmx.boosted
            else "orders/listings.html"
        )
        return render(request, template, context)


def _without(query, key: str) -> str:
    query = query.copy()
    query.pop(key, None)
    return query.urlencode()


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

        def rows():
            yield writer.writerow(services.CSV_COLUMNS)
            for listing in listings.iterator(chunk_size=1000):
                breaks = "; ".join(
                    f"{b.min_quantity.normalize():f}={b.unit_price.normalize():f}"
                    for b in listing.price_breaks.all()
                )
                yield writer.writerow(
                    [
                        _csv_safe(listing.sku),
                        _csv_safe(listing.name),
                        _csv_safe(listing.description),
                        listing.unit,
                        f"{listing.unit_price.normalize():f}",
                        listing.currency,
                        f"{listing.min_order_qty.normalize():f}",
                        "yes" if listing.is_active else "no",
                        breaks,
                    ]
                )

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.org.slug}-listings.csv"'
        return response


def _csv_safe(value: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (CSV injection)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


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
                ListingForm(data),
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
                "unit_price": f"{listing.unit_price.normalize():f}",
                "currency": listing.currency,
                "min_order_qty": f"{listing.min_order_qty.normalize():f}",
                "is_active": listing.is_active,
            }
            breaks = [
                {
                    "min_quantity": f"{b.min_quantity.normalize():f}",
                    "unit_price": f"{b.unit_price.normalize():f}",
                }
                for b in listing.price_breaks.all()
            ]
            prices = [
                {"customer": p.customer_id, "unit_price": f"{p.unit_price.normalize():f}"}
                for p in listing.customer_prices.all()
            ]
        return (
            ListingForm(initial=initial),
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
        values = dict(form.cleaned_data)
        values["price_breaks"] = [
            (f.cleaned_data["min_quantity"], f.cleaned_data["unit_price"])
            for f in breaks
            if f.cleaned_data.get("min_quantity")
        ]
        values["customer_prices"] = [
            (f.cleaned_data["customer"], f.cleaned_data["unit_price"])
            for f in prices
            if f.cleaned_data.get("customer")
        ]
        try:
            saved = services.save_listing(by=self.membership, values=values, listing=listing)
        except services.ListingRefused as exc:
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
            services.set_listing_active(by=self.membership, listing=listing, active=self.active)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            state = "active" if self.active else "inactive: customers can no longer order it"
            messages.success(request, f"Listing {listing.sku} is {state}.")
        return redirect(self.done_url())


class ListingImportView(OrgView):
    permission = "orders.add_listing"
    template_name = "orders/listing_import.html"

    def get(self, request, org_slug):
        form = ListingImportForm(max_bytes=settings.LISTING_IMPORT_MAX_BYTES)
        return render(
            request, self.template_name, {"form": form, "columns": services.CSV_COLUMNS, "units": UNITS}
        )

    def post(self, request, org_slug):
        form = ListingImportForm(request.POST, request.FILES, max_bytes=settings.LISTING_IMPORT_MAX_BYTES)
        context = {"form": form, "columns": services.CSV_COLUMNS, "units": UNITS}
        if form.is_valid():
            try:
                result = services.import_listings(by=self.membership, data=form.cleaned_data["file"].read())
            except services.ImportRefused as exc:
                context.update(row_errors=exc.errors, summary=exc.message)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Imported: {result.created} new, {result.updated} updated.")
                return redirect(self.org_url("orders:listings"))
        return render(request, self.template_name, context)
