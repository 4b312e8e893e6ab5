"""List pages of an organization (a kernel module: it imports no app): the filter bar, sorting,
pagination and a streaming CSV export whose cells a spreadsheet never runs as formulas.

Shared by the lists of orders (``orders``) and of bills and invoices (``billing``):

- ``FilteredListView`` is the base view of such a list. A subclass gives ``filter_form()``
  (a bound form of the request's GET), ``search(form)`` (the rows, usually through
  ``apply_filters``) and ``export(rows)`` (the CSV, usually through ``csv_response``), the
  ``columns`` a page of the list reads, its ``template_name`` and ``partial_name`` (the table
  alone, answered to an htmx request that is not boosted), and ``csv = True`` for the export.
- ``apply_filters`` calls a search with what the filter bar holds.
- ``query_without`` is the query string of the page without one key (the sort links add their
  own ``sort``; the pagination adds its own ``page``).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable

from django.core.paginator import Paginator
from django.http import QueryDict, StreamingHttpResponse
from django.shortcuts import render

from .csvio import guard_formula
from .views import OrgView

PAGE_SIZE = 25  # the rows on one page of a list
DEFAULT_SORT = "-created"  # the newest first, when the filter bar says nothing (or nothing valid)


def query_without(query: QueryDict, key: str) -> str:
    """``query`` URL-encoded without ``key`` (``query`` itself is left as it is)."""
    query = query.copy()
    query.pop(key, None)
    return query.urlencode()


def apply_filters(form, search: Callable, *, counterparty: str):
    """``search`` called with the values of the filter bar ``form``: ``q``, ``status``,
    ``date_from``, ``date_to``, ``sort`` (``"-created"`` when none), the counterparty chosen
    passed as the keyword ``counterparty`` names (``supplier=`` or ``customer=``), and
    ``received`` when the form has that field. An invalid form filters nothing: every value
    is empty and the newest come first."""
    filters = form.cleaned_data if form.is_valid() else {}
    more = {"received": filters.get("received") or ""} if "received" in form.fields else {}
    return search(
        q=filters.get("q") or "",
        status=filters.get("status") or "",
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
        sort=filters.get("sort") or DEFAULT_SORT,
        **{counterparty: filters.get("counterparty")},
        **more,
    )


class FilteredListView(OrgView):
    """The shared shape of a list page: filter bar, sorting, pagination, CSV.

    Subclasses give ``filter_form()``, ``search(form)`` and ``export(rows)``, and the
    ``columns`` a page of the list reads (the CSV reads whole rows). The template receives
    ``form``, ``page`` (of ``PAGE_SIZE`` rows; ``?page=`` picks it, a wrong one gives the
    nearest), ``sort`` (the sort applied), ``query`` (the query string without ``page``) and
    ``sort_query`` (without ``page`` and ``sort``)."""

    template_name = ""
    partial_name = ""
    csv = False
    columns: tuple[str, ...] = ()

    def get(self, request, org_slug):
        form = self.filter_form()
        rows = self.search(form)
        if self.csv:
            return self.export(rows)
        sort = (form.cleaned_data.get("sort") if form.is_valid() else "") or DEFAULT_SORT
        page = Paginator(rows.only(*self.columns), PAGE_SIZE).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            "form": form,
            "page": page,
            "sort": sort,
            "query": query.urlencode(),
            "sort_query": query_without(query, "sort"),
        }
        template = self.partial_name if request.htmx and not request.htmx.boosted else self.template_name
        return render(request, template, context)

    def csv_response(self, name: str, header: list[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
        """The CSV download ``<organization>-<name>.csv``, written row by row as it is sent:
        the ``header``, then each row with every cell as text, guarded so that a spreadsheet
        shows a cell such as ``=cmd`` as text instead of running it (``guard_formula``)."""
        writer = csv.writer(_Echo())

        def lines():
            yield writer.writerow(header)
            for row in rows:
                yield writer.writerow([guard_formula(str(cell)) for cell in row])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.org.slug}-{name}.csv"'
        return response


class _Echo:
    """A file that hands back what is written to it: ``csv.writer`` then returns each line."""

    def write(self, value):
        return value
