"""Supplier listings: rules, refusals, CSV import (all or nothing), pages and query counts."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.roles import Role
from orders import listing_csv
from orders.models import Listing, PriceBreak
from orders.pricing import unit_price
from orders.services import listings
from tests.factories import (
    ConnectionFactory,
    ListingFactory,
    OrganizationFactory,
    SupplierFactory,
    listing_values,
    member,
)

VALUES = {"sku": "BOLT-1", "name": "Bolt", "unit": "ea", "unit_price": "0.25", "currency": "USD"}


@pytest.fixture
def supplier(db):
    return SupplierFactory(base_currency="USD")


@pytest.fixture
def sales(supplier):
    return member(supplier, Role.SALES)


def test_create_listing_with_breaks_and_a_customer_price(sales):
    customer = ConnectionFactory(supplier=sales.organization).customer
    listing = listings.save_listing(
        by=sales,
        values=listing_values(
            sales,
            {
                **VALUES,
                "price_breaks": [("100", "0.20"), ("10", "0.22")],
                "customer_prices": [(customer, "0.21")],
            },
        ),
    )
    assert listing.unit_price == Decimal("0.25")
    assert [(b.min_quantity, b.unit_price) for b in listing.price_breaks.all()] == [
        (Decimal("10"), Decimal("0.22")),
        (Decimal("100"), Decimal("0.20")),
    ]
    assert unit_price(listing, quantity=Decimal("50"), customer_id=sales.organization_id) == Decimal("0.22")
    assert unit_price(listing, quantity=Decimal("5"), customer_id=customer.pk) == Decimal("0.21")
    assert listing.customer_prices.get().customer == customer


@pytest.mark.parametrize(
    "change,field,message",
    [
        ({"unit_price": "1.234"}, "unit_price", "at most 2 decimals"),
        ({"unit_price": "12.5", "currency": "JPY"}, "unit_price", "no decimals"),
        ({"unit_price": "-1"}, "unit_price", "negative"),
        ({"unit_price": "abc"}, "unit_price", "not a number"),
        ({"unit_price": "NaN"}, "unit_price", "not a number"),
        ({"unit": "furlong"}, "unit", "not a unit"),
        ({"currency": "ZZZ"}, "currency", "not a currency"),
        ({"min_order_qty": "1.5"}, "min_order_qty", "whole numbers"),
        ({"min_order_qty": "0"}, "min_order_qty", "more than zero"),
        ({"name": "<script>alert(1)</script>"}, "name", "HTML tags"),
        ({"sku": ""}, "sku", "required"),
        ({"price_breaks": [("10", "1"), ("10", "2")]}, "price_breaks", "Two price breaks"),
        ({"price_breaks": [("0.5", "1")]}, "price_breaks", "whole numbers"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(sales, change, field, message):
    with pytest.raises(listings.ListingRefused) as refused:
        listings.save_listing(by=sales, values=listing_values(sales, {**VALUES, **change}))
    assert message in refused.value.errors[field]
    assert not Listing.objects.exists()


def test_kwd_takes_three_decimals_and_kg_takes_grams(sales):
    listing = listings.save_listing(
        by=sales,
        values=listing_values(
            sales, {**VALUES, "currency": "KWD", "unit_price": "1.125", "unit": "kg", "min_order_qty": "0.250"}
        ),
    )
    assert (listing.unit_price, listing.min_order_qty) == (Decimal("1.125"), Decimal("0.25"))


def test_duplicate_sku_is_refused_whatever_its_case(sales):
    listings.save_listing(by=sales, values=listing_values(sales, VALUES))
    with pytest.raises(listings.ListingRefused, match="already"):
        listings.save_listing(by=sales, values=listing_values(sales, {**VALUES, "sku": "bolt-1"}))


def test_the_same_sku_is_fine_at_another_supplier(sales):
    ListingFactory(sku="BOLT-1")
    assert listings.save_listing(by=sales, values=listing_values(sales, VALUES)).pk


def test_a_price_for_an_unconnected_customer_is_refused(sales):
    stranger = OrganizationFactory()
    with pytest.raises(listings.ListingRefused, match="not a connected customer"):
        listings.save_listing(
            by=sales, values=listing_values(sales, {**VALUES, "customer_prices": [(stranger, "0.2")]})
        )
    assert not Listing.objects.exists()


def test_editing_a_listing_of_another_supplier_is_impossible(sales):
    foreign = ListingFactory()
    with pytest.raises(Listing.DoesNotExist):
        listings.save_listing(by=sales, values=listing_values(sales, VALUES), listing=foreign)
    foreign.refresh_from_db()
    assert foreign.sku != "BOLT-1"


def test_a_price_change_is_dated(sales):
    listing = listings.save_listing(by=sales, values=listing_values(sales, VALUES))
    first = listing.price_updated_at
    listing = listings.save_listing(
        by=sales, values=listing_values(sales, {**VALUES, "name": "Bolt, zinc"}), listing=listing
    )
    assert listing.price_updated_at == first
    listing = listings.save_listing(
        by=sales, values=listing_values(sales, {**VALUES, "unit_price": "0.30"}), listing=listing
    )
    assert listing.price_updated_at > first


def test_deactivate_and_activate(sales):
    listing = ListingFactory(supplier=sales.organization)
    assert not listings.set_listing_active(by=sales, listing=listing, active=False).is_active
    assert listings.set_listing_active(by=sales, listing=listing, active=True).is_active


# --- CSV import --------------------------------------------------------------------------

HEADER = "sku,name,description,unit,unit_price,currency,min_order_qty,active,price_breaks\n"


def _import(by, text: str | bytes):
    return listing_csv.import_listings(by=by, data=text.encode() if isinstance(text, str) else text)


def test_import_creates_and_updates_by_sku(sales):
    existing = ListingFactory(supplier=sales.organization, sku="A-1", unit_price=Decimal("1.00"))
    PriceBreak.objects.create(listing=existing, min_quantity=5, unit_price=Decimal("0.90"))
    result = _import(sales, HEADER + "a-1,Alpha,,ea,2.50,USD,1,yes,\nB-2,Beta,Nice,kg,3.10,,0.5,no,10=3.00; 50=2.80\n")
    assert (result.created, result.updated) == (1, 1)
    existing.refresh_from_db()
    assert existing.unit_price == Decimal("2.50") and not existing.price_breaks.exists()
    beta = Listing.objects.get(sku="B-2")
    assert (beta.currency, beta.min_order_qty, beta.is_active) == ("USD", Decimal("0.5"), False)
    assert beta.price_breaks.count() == 2


def test_import_without_the_breaks_column_keeps_breaks(sales):
    existing = ListingFactory(supplier=sales.organization, sku="A-1")
    PriceBreak.objects.create(listing=existing, min_quantity=5, unit_price=Decimal("0.90"))
    _import(sales, "sku,name,unit,unit_price\nA-1,Alpha,ea,2.50\n")
    assert existing.price_breaks.count() == 1


@pytest.mark.parametrize(
    "rows,line,column,message",
    [
        ("X-1,Bolt,,ea,1.999,USD,1,yes,\n", 2, "unit_price", "at most 2 decimals"),
        ("X-1,Bolt,,parsec,1,USD,1,yes,\n", 2, "unit", "not a unit"),
        ("X-1,Bolt,,ea,1,USD,1,yes,\nx-1,Bolt 2,,ea,1,USD,1,yes,\n", 3, "sku", "on line 3 already"),
        ("X-1,<b>Bolt</b>,,ea,1,USD,1,yes,\n", 2, "name", "HTML tags"),
        ("X-1,Bolt,<img src=x onerror=alert(1)>,ea,1,USD,1,yes,\n", 2, "description", "HTML tags"),
        ("X-1,Bolt,,ea,1,USD,1,maybe,\n", 2, "active", "yes or no"),
        ("X-1,Bolt,,ea,1,USD,1,yes,10:2\n", 2, "price_breaks", "quantity=price"),
        ("X-1,Bolt,,ea,one,USD,1,yes,\n", 2, "unit_price", "not a number"),
    ],
)
def test_import_reports_each_bad_row_and_writes_nothing(sales, rows, line, column, message):
    good = "OK-1,Fine,,ea,1.00,USD,1,yes,\n"
    with pytest.raises(listing_csv.ImportRefused) as refused:
        _import(sales, HEADER + good + rows)  # the good row is line 2
    errors = [(e.row, e.column) for e in refused.value.errors]
    assert (line + 1, column) in errors
    assert any(message in e.message for e in refused.value.errors)
    assert not Listing.objects.exists()


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (HEADER.encode(), "no listings"),
        (b"sku,name\nA,B\n", "Missing columns: unit, unit_price"),
        (b"sku,name,unit,unit_price,colour\nA,B,ea,1,red\n", "Unknown column: colour"),
        ("sku,name,unit,unit_price\nA,Caf\u00e9,ea,1\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_import_refuses_bad_files(sales, data, message):
    with pytest.raises(listing_csv.ImportRefused) as refused:
        _import(sales, data)
    assert message in refused.value.errors[0].message
    assert not Listing.objects.exists()


def test_import_refuses_a_10_mb_file(sales):
    data = (HEADER + "X-1,Bolt,,ea,1,USD,1,yes,\n" * 400_000).encode()
    assert len(data) > 10_000_000
    with pytest.raises(listing_csv.ImportRefused, match="1 problem") as refused:
        _import(sales, data)
    assert "larger than 5 MB" in refused.value.errors[0].message
    assert not Listing.objects.exists()


def test_import_page_shows_every_problem_by_line(client, sales, django_capture_on_commit_callbacks):
    client.force_login(sales.user)
    upload = SimpleUploadedFile("l.csv", (HEADER + "X-1,Bolt,,ea,1.999,USD,1,yes,\nY-2,,,zz,1,USD,1,yes,\n").encode())
    with django_capture_on_commit_callbacks(execute=True):  # the import's task runs in-process
        response = client.post(reverse("orders:listings-import", args=[sales.organization.slug]), {"file": upload})
    page = client.get(response["Location"]).content.decode()
    assert "nothing was imported" in page
    assert "at most 2 decimals" in page and "not a unit" in page and "This field is required." in page
    assert not Listing.objects.exists()


def test_import_page_refuses_a_large_upload_before_reading_it(client, sales, settings):
    settings.LISTING_IMPORT_MAX_BYTES = 1000
    client.force_login(sales.user)
    upload = SimpleUploadedFile("l.csv", (HEADER + "X-1,Bolt,,ea,1,USD,1,yes,\n" * 100).encode())
    response = client.post(reverse("orders:listings-import", args=[sales.organization.slug]), {"file": upload})
    assert "larger than" in response.content.decode()
    assert not Listing.objects.exists()


def test_import_page_success(client, sales, django_capture_on_commit_callbacks):
    client.force_login(sales.user)
    upload = SimpleUploadedFile("l.csv", (HEADER + "X-1,Bolt,,ea,1.50,USD,1,yes,\n").encode())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("orders:listings-import", args=[sales.organization.slug]), {"file": upload})
    response = client.get(response["Location"])
    assert "Imported: 1 new, 0 updated." in response.content.decode()


# --- pages -------------------------------------------------------------------------------


def test_listing_form_errors_show_next_to_fields_and_keep_input(client, sales):
    client.force_login(sales.user)
    url = reverse("orders:listing-new", args=[sales.organization.slug])
    response = client.post(
        url,
        {
            "sku": "N-1",
            "name": "Nut",
            "unit": "ea",
            "unit_price": "1.001",
            "currency": "USD",
            "min_order_qty": "1",
            "is_active": "on",
            "breaks-TOTAL_FORMS": "1",
            "breaks-INITIAL_FORMS": "0",
            "breaks-0-min_quantity": "10",
            "breaks-0-unit_price": "",
            "prices-TOTAL_FORMS": "0",
            "prices-INITIAL_FORMS": "0",
        },
    )
    page = response.content.decode()
    assert "Give both the quantity and its price" in page
    assert 'value="1.001"' in page and 'value="N-1"' in page
    response = client.post(
        url,
        {
            "sku": "N-1",
            "name": "Nut",
            "unit": "ea",
            "unit_price": "1.001",
            "currency": "USD",
            "min_order_qty": "1",
            "breaks-TOTAL_FORMS": "0",
            "breaks-INITIAL_FORMS": "0",
            "prices-TOTAL_FORMS": "0",
            "prices-INITIAL_FORMS": "0",
        },
    )
    page = response.content.decode()
    assert "USD amounts have at most 2 decimals" in page and 'id="id_unit_price-error"' in page
    assert not Listing.objects.exists()


def test_listing_form_saves_breaks(client, sales):
    client.force_login(sales.user)
    response = client.post(
        reverse("orders:listing-new", args=[sales.organization.slug]),
        {
            "sku": "N-1",
            "name": "Nut",
            "unit": "ea",
            "unit_price": "1.00",
            "currency": "USD",
            "min_order_qty": "1",
            "is_active": "on",
            "breaks-TOTAL_FORMS": "2",
            "breaks-INITIAL_FORMS": "0",
            "breaks-0-min_quantity": "10",
            "breaks-0-unit_price": "0.90",
            "breaks-1-min_quantity": "",
            "breaks-1-unit_price": "",
            "prices-TOTAL_FORMS": "0",
            "prices-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert Listing.objects.get().price_breaks.get().unit_price == Decimal("0.90")


def test_list_filters_searches_sorts_and_paginates(client, sales):
    for i in range(30):
        ListingFactory(
            supplier=sales.organization,
            sku=f"S-{i:02d}",
            name=f"Thing {i}",
            is_active=i % 3 != 0,
            unit_price=Decimal(100 - i),
        )
    client.force_login(sales.user)
    url = reverse("orders:listings", args=[sales.organization.slug])
    page = client.get(url).content.decode()
    assert "30 listings" in page and "Page 1 of 2" in page
    assert "10 listings" in client.get(url, {"status": "inactive"}).content.decode()
    assert "1 listing" in client.get(url, {"q": "s-07"}).content.decode()
    cheap_first = client.get(url, {"sort": "price"}).content.decode()
    assert cheap_first.index("S-29") < cheap_first.index("S-28")
    partial = client.get(url, {"q": "Thing"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "30 listings" in partial


def test_export_is_the_import_format_and_defuses_formulas(client, sales):
    ListingFactory(supplier=sales.organization, sku="E-1", name="=HYPERLINK(1)")
    client.force_login(sales.user)
    response = client.get(reverse("orders:listings-export", args=[sales.organization.slug]))
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0] == ",".join(listing_csv.CSV_COLUMNS)
    assert "'=HYPERLINK(1)" in text


@pytest.mark.parametrize("count", [5, 50])
def test_listing_list_query_count_does_not_grow(client, sales, django_assert_max_num_queries, count):
    for _ in range(count):
        listing = ListingFactory(supplier=sales.organization)
        PriceBreak.objects.create(listing=listing, min_quantity=10, unit_price=Decimal("1"))
    client.force_login(sales.user)
    url = reverse("orders:listings", args=[sales.organization.slug])
    client.get(url)
    with django_assert_max_num_queries(6):
        assert client.get(url).status_code == 200


def test_listing_page_query_count_is_bounded(client, sales, django_assert_max_num_queries):
    listing = ListingFactory(supplier=sales.organization)
    for i in range(10):
        PriceBreak.objects.create(listing=listing, min_quantity=10 + i, unit_price=Decimal("1"))
        ConnectionFactory(supplier=sales.organization)
    client.force_login(sales.user)
    url = reverse("orders:listing-edit", args=[sales.organization.slug, listing.pk])
    client.get(url)
    with django_assert_max_num_queries(9):
        assert client.get(url).status_code == 200


def test_a_listing_with_a_customer_price_saves_unchanged(client, sales):
    customer = ConnectionFactory(supplier=sales.organization).customer
    listing = listings.save_listing(
        by=sales, values=listing_values(sales, {**VALUES, "customer_prices": [(customer, "0.21")]})
    )
    client.force_login(sales.user)
    url = reverse("orders:listing-edit", args=[sales.organization.slug, listing.pk])
    page = client.get(url).content.decode()
    assert f'<option value="{customer.pk}" selected>' in page
    form = {
        "sku": "BOLT-1",
        "name": "Bolt",
        "unit": "ea",
        "unit_price": "0.25",
        "currency": "USD",
        "min_order_qty": "1",
        "is_active": "on",
        "breaks-TOTAL_FORMS": "0",
        "breaks-INITIAL_FORMS": "0",
        "prices-TOTAL_FORMS": "1",
        "prices-INITIAL_FORMS": "1",
        "prices-0-customer": str(customer.pk),
        "prices-0-unit_price": "0.21",
    }
    assert client.post(url, form).status_code == 302
    assert listing.customer_prices.get().unit_price == Decimal("0.21")


@pytest.mark.parametrize("raw", ["1,50", "1e3", "1_000", " ", "Infinity"])
def test_ambiguous_or_odd_numbers_are_refused(sales, raw):
    with pytest.raises(listings.ListingRefused) as refused:
        listings.save_listing(by=sales, values=listing_values(sales, {**VALUES, "unit_price": raw}))
    assert "unit_price" in refused.value.errors
    with pytest.raises(listing_csv.ImportRefused):
        _import(sales, f'sku,name,unit,unit_price\nA,B,ea,"{raw}"\n')
    assert not Listing.objects.exists()


@pytest.mark.parametrize(
    "breaks,message",
    [
        ([("10", "0.25")], "not below the unit price"),
        ([("10", "0.20"), ("50", "0.22")], "more than for fewer"),
    ],
)
def test_price_breaks_lower_the_price(sales, breaks, message):
    with pytest.raises(listings.ListingRefused, match=message):
        listings.save_listing(by=sales, values=listing_values(sales, {**VALUES, "price_breaks": breaks}))


def test_search_matches_every_word_anywhere(client, sales):
    ListingFactory(supplier=sales.organization, sku="G-M", name="Nitrile gloves, size M")
    ListingFactory(supplier=sales.organization, sku="G-L", name="Nitrile gloves, size L")
    client.force_login(sales.user)
    url = reverse("orders:listings", args=[sales.organization.slug])
    page = client.get(url, {"q": "gloves M"}).content.decode()
    assert "1 listing" in page and "G-M" in page and "G-L" not in page


def test_opening_an_action_url_leads_back_to_its_page_and_changes_nothing(client, sales):
    listing = ListingFactory(supplier=sales.organization)
    client.force_login(sales.user)
    response = client.get(reverse("orders:listing-deactivate", args=[sales.organization.slug, listing.pk]))
    assert response["Location"] == reverse("orders:listing-edit", args=[sales.organization.slug, listing.pk])
    listing.refresh_from_db()
    assert listing.is_active


def test_a_csv_row_is_read_by_the_listing_forms_rules(sales):
    """The import reads each row with the page's fields: any case of a unit or currency, yes or
    no, price breaks as Decimals; a blank currency is the supplier's."""
    from orders.forms import ListingRowForm

    row = {"sku": "B-1", "name": "Bolt", "unit": "EA", "unit_price": "0.25", "currency": "", "active": "No"}
    form = ListingRowForm({**row, "price_breaks": "10=0.22; 100=0.20"}, supplier=sales.organization)
    assert form.is_valid(), form.errors
    values = form.listing_values(has_breaks=True)
    assert (values.unit, values.currency, values.is_active, values.min_order_qty) == ("ea", "USD", False, 1)
    assert values.price_breaks == [(Decimal("10"), Decimal("0.22")), (Decimal("100"), Decimal("0.20"))]
    bad = ListingRowForm({**row, "unit_price": "+1", "price_breaks": "10=٥"}, supplier=sales.organization)
    assert not bad.is_valid()
    assert bad.errors["unit_price"] == ["“+1”: type the number without a “+”."]
    assert bad.errors["price_breaks"] == ["“٥”: type the number with the digits 0–9."]
