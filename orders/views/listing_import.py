"""Importing listings from a CSV file, and the page of each import."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import redirect, render

from procurement.errors import DomainError
from procurement.views import OrgView

from .. import listing_csv, selectors
from ..forms import ListingImportForm
from ..units import UNITS

ERRORS_SHOWN = 200  # the problems of a failed import listed on its page


class ListingImportView(OrgView):
    """Upload a CSV file of listings: it is kept and imported by a Celery task; the import's own
    page (``ListingImportDetailView``) follows its progress."""

    permission = "orders.add_listing"
    template_name = "orders/listing_import.html"

    def show(self, form):
        context = {
            "form": form,
            "columns": listing_csv.CSV_COLUMNS,
            "units": UNITS,
            "recent": selectors.recent_listing_imports(self.org),
        }
        return render(self.request, self.template_name, context)

    def get(self, request, org_slug):
        return self.show(ListingImportForm(max_bytes=settings.LISTING_IMPORT_MAX_BYTES))

    def post(self, request, org_slug):
        form = ListingImportForm(request.POST, request.FILES, max_bytes=settings.LISTING_IMPORT_MAX_BYTES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = listing_csv.queue_listing_import(by=self.membership, data=upload.read(), file_name=upload.name)
            except DomainError as exc:
                form.add_error("file", exc.message)
            else:
                return redirect(self.org_url("orders:listing-import", pk=job.pk))
        return self.show(form)


class ListingImportDetailView(OrgView):
    """One import: its progress while it runs (the htmx partial polls itself), then its counts or
    every problem by row. Without JavaScript, a link reloads the page."""

    permission = "orders.add_listing"

    def get(self, request, org_slug, pk):
        job = selectors.listing_import_for(organization=self.org, pk=pk)
        context = {"job": job, "errors": job.errors[:ERRORS_SHOWN], "more_errors": len(job.errors) - ERRORS_SHOWN}
        if request.htmx and not request.htmx.boosted:
            return render(request, "orders/_listing_import_status.html", context)
        return render(request, "orders/listing_import_detail.html", context)
