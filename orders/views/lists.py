"""The list pages' shared machinery: filtering, sorting, pagination and CSV export."""

from __future__ import annotations

import csv

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render

from accounts.views import OrgView
from procurement.csvio import guard_formula

PAGE_SIZE = 25


def _without(query, key: str) -> str:
    query = query.copy()
    query.pop(key, None)
    return query.urlencode()


def _filter(request, form, search, **extra):
    filters = form.cleaned_data if form.is_valid() else {}
    more = {"received": filters.get("received") or ""} if "received" in form.fields else {}
    return search(
        q=filters.get("q") or "",
        status=filters.get("status") or "",
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
        sort=filters.get("sort") or "-created",
        **{extra["counterparty"]: filters.get("counterparty")},
        **more,
    )


class _OrderListView(OrgView):
    """The shared shape of the PO and SO lists: filter bar, sorting, pagination, CSV.
    Subclasses give ``filter_form()``, ``search(form)`` and ``export(orders)``, and the
    ``columns`` a page of the list reads (the CSV reads whole rows)."""

    template_name = ""
    partial_name = ""
    csv = False
    columns: tuple[str, ...] = ()

    def get(self, request, org_slug):
        form = self.filter_form()
        orders = self.search(form)
        if self.csv:
            return self.export(orders)
        sort = (form.cleaned_data.get("sort") if form.is_valid() else "") or "-created"
        page = Paginator(orders.only(*self.columns), PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            "form": form,
            "page": page,
            "sort": sort,
            "query": query.urlencode(),
            "sort_query": _without(query, "sort"),
        }
        template = self.partial_name if request.htmx and not request.htmx.boosted else self.template_name
        return render(request, template, context)

    def csv_response(self, name, header, rows):
        writer = csv.writer(_Echo())

        def lines():
            yield writer.writerow(header)
            for row in rows:
                yield writer.writerow([guard_formula(str(cell)) for cell in row])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.org.slug}-{name}.csv"'
        return response


class _Echo:
    def write(self, value):
        return value
