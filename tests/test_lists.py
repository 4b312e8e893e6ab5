"""procurement.lists: the base list view (filter bar, sorting, pagination, the guarded CSV) and
its helpers, on a form and rows of their own (no app)."""

from datetime import date
from types import SimpleNamespace

import pytest
from django import forms
from django.http import HttpResponse, QueryDict
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from procurement import lists
from procurement.lists import PAGE_SIZE, FilteredListView, apply_filters, query_without

NOTHING = {"q": "", "status": "", "date_from": None, "date_to": None, "sort": "-created"}


class FilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100)
    status = forms.ChoiceField(required=False, choices=[("", "All"), ("open", "Open")])
    counterparty = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, choices=[("", "All"), (7, "Acme")]
    )
    date_from = forms.DateField(required=False)
    date_to = forms.DateField(required=False)
    sort = forms.CharField(required=False)


class ReceivedFilterForm(FilterForm):
    received = forms.ChoiceField(required=False, choices=[("", "All"), ("full", "Fully received")])


def search(**filters) -> dict:
    return filters


def test_the_filter_bar_is_passed_to_the_search():
    form = FilterForm(
        {
            "q": " bolts ",
            "status": "open",
            "counterparty": "7",
            "date_from": "2026-01-02",
            "date_to": "2026-02-03",
            "sort": "number",
        }
    )
    assert apply_filters(form, search, counterparty="supplier") == {
        "q": "bolts",
        "status": "open",
        "date_from": date(2026, 1, 2),
        "date_to": date(2026, 2, 3),
        "sort": "number",
        "supplier": 7,
    }


def test_an_empty_filter_bar_gives_everything_newest_first_and_received_only_when_the_form_has_it():
    assert apply_filters(FilterForm({}), search, counterparty="customer") == {**NOTHING, "customer": None}
    assert apply_filters(ReceivedFilterForm({}), search, counterparty="supplier") == {
        **NOTHING,
        "supplier": None,
        "received": "",
    }
    received = ReceivedFilterForm({"received": "full"})
    assert apply_filters(received, search, counterparty="supplier")["received"] == "full"


def test_an_invalid_filter_bar_filters_nothing():
    form = FilterForm({"q": "bolts", "status": "nonsense", "counterparty": "7", "sort": "number"})
    assert apply_filters(form, search, counterparty="supplier") == {**NOTHING, "supplier": None}


def test_query_without_drops_one_key_and_leaves_the_query_as_it_was():
    query = QueryDict("q=a+b&sort=number&page=2", mutable=True)
    assert query_without(query, "sort") == "q=a+b&page=2"
    assert query_without(query, "absent") == "q=a+b&sort=number&page=2"
    assert query.urlencode() == "q=a+b&sort=number&page=2"


# ------------------------------------------------------------------------------ the view


class Rows(list):
    """Rows that answer ``only()`` as a queryset does, and remember the columns asked for."""

    columns: tuple[str, ...] = ()

    def only(self, *columns):
        self.columns = columns
        return self


class ThingListView(FilteredListView):
    template_name = "things.html"
    partial_name = "_thing_table.html"
    columns = ("number", "note")
    rows: Rows = Rows()
    searched: dict | None = None

    def filter_form(self):
        return FilterForm(self.request.GET)

    def search(self, form):
        self.searched = apply_filters(form, search, counterparty="supplier")
        return self.rows

    def export(self, rows):
        return self.csv_response("things", ["number", "note"], rows)


@pytest.fixture
def rendered(monkeypatch):
    """What the view would render: (template, context) of each call."""
    calls = []

    def render(request, template, context):
        calls.append((template, context))
        return HttpResponse()

    monkeypatch.setattr(lists, "render", render)
    return calls


def get(query: str = "", *, headers=None, **initkwargs):
    request = RequestFactory().get(f"/o/acme/things/?{query}", headers=headers or {})
    request.htmx = HtmxDetails(request)
    request.organization = SimpleNamespace(slug="acme")
    request.membership = None
    return ThingListView.as_view(**initkwargs)(request, org_slug="acme")


def test_the_sort_and_the_query_strings_the_links_build_on(rendered):
    get("q=bolts&sort=-number&page=2")
    _, context = rendered[-1]
    assert context["sort"] == "-number"
    assert context["query"] == "q=bolts&sort=-number"  # the pagination adds its own page
    assert context["sort_query"] == "q=bolts"  # the sort links add their own sort
    assert context["form"].is_valid()

    get("q=bolts")
    assert rendered[-1][1]["sort"] == "-created"  # newest first by default
    get("status=nonsense&sort=number")
    assert rendered[-1][1]["sort"] == "-created"  # an invalid filter bar sorts by nothing it says
    assert rendered[-1][1]["sort_query"] == "status=nonsense"


def test_pages_of_page_size_rows_reading_the_columns_only(rendered):
    rows = Rows(range(2 * PAGE_SIZE + 3))
    get(rows=rows)
    page = rendered[-1][1]["page"]
    assert (list(page), page.paginator.num_pages) == (list(range(PAGE_SIZE)), 3)
    assert rows.columns == ("number", "note")
    get("page=3", rows=rows)
    assert list(rendered[-1][1]["page"]) == list(range(2 * PAGE_SIZE, 2 * PAGE_SIZE + 3))
    get("page=99", rows=rows)  # past the end: the last page
    assert rendered[-1][1]["page"].number == 3
    get("page=nonsense", rows=rows)
    assert rendered[-1][1]["page"].number == 1


def test_htmx_gets_the_table_alone_unless_boosted(rendered):
    get()
    get(headers={"HX-Request": "true"})
    get(headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert [template for template, _ in rendered] == ["things.html", "_thing_table.html", "things.html"]


def test_the_csv_streams_every_filtered_row_with_formulas_guarded(rendered):
    rows = Rows([("PO-1", "=cmd|' /C calc'!A0"), ("PO-2", "+1"), ("PO-3", 5), ("PO-4", "a, b")])
    response = get("q=po", csv=True, rows=rows)
    assert rendered == []  # no page: the whole rows, not a page of them
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="acme-things.csv"'
    body = b"".join(response.streaming_content).decode()
    assert body == "number,note\r\nPO-1,'=cmd|' /C calc'!A0\r\nPO-2,'+1\r\nPO-3,5\r\nPO-4,\"a, b\"\r\n"
    assert rows.columns == ()  # the CSV reads whole rows


def test_the_view_searches_with_the_filter_bar(rendered):
    view = ThingListView()
    request = RequestFactory().get("/?q=bolts&counterparty=7")
    request.htmx = HtmxDetails(request)
    request.organization, request.membership = SimpleNamespace(slug="acme"), None
    view.setup(request, org_slug="acme")
    view.dispatch(request, org_slug="acme")
    assert view.searched == {**NOTHING, "q": "bolts", "supplier": 7}
