"""Listing CSV import: cells no import can store, the export → import round trip, and imports
queued as a ListingImport and run by their task (its page, progress, retries, permissions)."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from accounts import services as account_services
from accounts.roles import Role
from orders import listing_csv, tasks
from orders.models import Listing, ListingImport
from orders.services import listings
from procurement.errors import NotAllowed
from tests.factories import SupplierFactory, member
from tests.factories import listing_values as typed_listing

HEADER = "sku,name,description,unit,unit_price,currency,min_order_qty,active,price_breaks\n"
GOOD = "OK-1,Fine,,ea,1.00,USD,1,yes,\n"


@pytest.fixture
def supplier(db):
    return SupplierFactory(base_currency="USD")


@pytest.fixture
def sales(supplier):
    return member(supplier, Role.SALES)


def refused(by, text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(listing_csv.ImportRefused) as raised:
        listing_csv.import_listings(by=by, data=text.encode())
    assert not Listing.objects.exists()
    return [(e.row, e.column, e.message) for e in raised.value.errors]


# --- cells no import can store ------------------------------------------------------------


def test_an_over_long_cell_is_an_error_of_its_row_and_the_rest_is_still_checked(sales):
    errors = refused(
        sales, HEADER + GOOD + f"X-1,Bolt,{'d' * 140_000},ea,1,USD,1,yes,\n" + "Y-2,Nut,,ea,one,USD,1,yes,\n"
    )
    assert (3, "description", "The cell has 140,000 characters; a cell holds at most 131,072.") in errors
    assert (4, "unit_price", "“one” is not a number.") in errors  # the row after it is read too


def test_an_over_long_cell_in_any_column_is_refused_before_its_value_is_read(sales):
    errors = refused(sales, HEADER + f"X-1,Bolt,,ea,1,USD,1,yes,{'1=0.5;' * 30_000}\n")
    assert errors == [(2, "price_breaks", "The cell has 180,000 characters; a cell holds at most 131,072.")]


def test_a_nul_character_is_an_error_of_its_row(sales):
    # Stored as it was on SQLite before; PostgreSQL refused it with an error (a 500).
    errors = refused(sales, HEADER + GOOD + "X-1,Bo\x00lt,,ea,1,USD,1,yes,\n")
    assert errors == [(3, "name", "The cell has a NUL character (a zero byte), which text cannot hold.")]


def test_a_file_with_bare_cr_line_ends_imports(sales):
    text = HEADER.replace("\n", "\r") + 'A-1,Alpha,,ea,1,USD,1,yes,\rB-2,Beta,"two\rlines",ea,2,USD,1,no,\r'
    result = listing_csv.import_listings(by=sales, data=text.encode())
    assert (result.created, result.updated) == (2, 0)
    assert Listing.objects.get(sku="B-2").description == "two\nlines"  # a CR inside a cell is a line end too


def test_a_bare_cr_inside_an_unquoted_cell_ends_its_row_and_the_halves_are_reported(sales):
    errors = refused(sales, HEADER + GOOD + "X-1,Bolt\rmore,,ea,1,USD,1,yes,\n")
    assert (3, "unit_price", "This field is required.") in errors  # "X-1,Bolt" alone
    assert (4, "name", "This field is required.") in errors  # "more,,ea,1,…": the cells moved left


def test_rows_are_numbered_as_a_spreadsheet_shows_them(sales):
    errors = refused(sales, HEADER + '\nA-1,"Two\nlines",,ea,1,USD,1,yes,\nB-2,Bolt,,ea,1.999,USD,1,yes,\n')
    assert errors == [(4, "unit_price", "USD amounts have at most 2 decimals; “1.999” has more.")]


def test_the_import_page_lists_an_over_long_cell_by_its_row(client, sales, django_capture_on_commit_callbacks):
    client.force_login(sales.user)
    upload = SimpleUploadedFile("big.csv", (HEADER + GOOD + f"X-1,{'n' * 131_073},,ea,1,USD,1,yes,\n").encode())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("orders:listings-import", args=[sales.organization.slug]), {"file": upload})
    page = client.get(response["Location"]).content.decode()
    assert "The file has 1 problem; nothing was imported." in page
    assert "<td>3</td><td>name</td><td>The cell has 131,073 characters; a cell holds at most 131,072.</td>" in page
    assert not Listing.objects.exists()


# --- export → import ------------------------------------------------------------------------

AWKWARD = [
    {"sku": "-2+3", "name": "=SUM(A1)", "description": "@x"},
    {"sku": "@x", "name": 'Say "hi", then go', "description": "line one\nline two\r\nline three\rfour"},
    {"sku": "=1+1", "name": "+44 20 7946 0000", "description": "-minus first"},
    {"sku": "'=x", "name": "'plain", "description": "''twice"},
    {"sku": "Ünïcødé-ß-東京", "name": "Café ☕ — “quoted”, with commas", "description": "tab\tinside; semi"},
    {"sku": "KWD-1", "name": "Dinar", "currency": "KWD", "unit_price": "1234567.891", "unit": "kg"},
    {"sku": "JPY-1", "name": "Yen", "currency": "JPY", "unit_price": "1500", "price_breaks": [("10", "1400")]},
    {"sku": "OFF", "name": "Inactive", "is_active": False, "description": "x" * 5000},
]


def save(by, **values):
    base = {"unit": "ea", "unit_price": "9.99", "currency": "USD", "min_order_qty": "1", "description": ""}
    return listings.save_listing(by=by, values=typed_listing(by, {**base, **values}))


def snapshot(supplier) -> list[tuple]:
    return [
        (
            x.pk,
            *(getattr(x, f) for f in listings.LISTING_FIELDS),
            x.price_updated_at,
            [(b.min_quantity, b.unit_price) for b in x.price_breaks.all()],
        )
        for x in Listing.objects.filter(supplier=supplier).prefetch_related("price_breaks").order_by("pk")
    ]


def test_a_listing_export_imported_again_changes_nothing(client, sales, django_capture_on_commit_callbacks):
    for values in AWKWARD:
        save(sales, **values)
    save(sales, sku="KG-1", name="Half kilos", unit="kg", min_order_qty="0.5", price_breaks=[("5", "9.5")])
    before = snapshot(sales.organization)
    client.force_login(sales.user)
    exported = b"".join(client.get(reverse("orders:listings-export", args=[sales.organization.slug])).streaming_content)
    assert b"'-2+3" in exported and b"'=SUM(A1)" in exported and b"''=x" in exported  # still guarded
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("orders:listings-import", args=[sales.organization.slug]),
            {"file": SimpleUploadedFile("listings.csv", exported)},
        )
    page = client.get(response["Location"]).content.decode()
    assert "Imported: 0 new, 0 updated, 9 unchanged." in page
    assert snapshot(sales.organization) == before


# Any text the input rules accept (no markup, no control character but tab, CR and LF).
PLAIN = st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="<") | st.sampled_from("\t\r\n")
text_cell = st.text(PLAIN, min_size=1, max_size=30)


@st.composite
def listing_values(draw, index: int) -> dict:
    currency, places = draw(st.sampled_from([("USD", 2), ("JPY", 0), ("KWD", 3)]))
    minor = Decimal(1).scaleb(-places)
    price = draw(st.integers(3, 10**9)) * minor
    breaks = [(str(10 * k), str(price - k * minor)) for k in range(1, draw(st.integers(0, 2)) + 1)]
    return {
        # A leading formula character, quotes, line breaks, any text; a suffix keeps SKUs distinct.
        "sku": draw(st.sampled_from(["", "'", "=", "-", "+", "@", "''"])) + draw(text_cell) + f"#{index}",
        "name": draw(text_cell),
        "description": draw(st.text(PLAIN)),
        "unit": "ea",
        "unit_price": str(price),
        "currency": currency,
        "min_order_qty": str(draw(st.integers(1, 1000))),
        "is_active": draw(st.booleans()),
        "price_breaks": breaks,
    }


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_export_then_import_is_lossless_for_any_values(data):
    sales = member(SupplierFactory(base_currency="USD"), Role.SALES)
    for index in range(data.draw(st.integers(1, 3))):
        values = data.draw(listing_values(index))
        try:
            typed = typed_listing(sales, values)
        except listings.ListingRefused:
            typed = None
        assume(typed is not None)
        clean, errors = listings.check_listing(typed, supplier=sales.organization)
        assume(not errors)
        listings.save_listing(by=sales, values=typed)
    before = snapshot(sales.organization)
    out = io.StringIO()
    csv.writer(out).writerows(  # as the export view writes them
        listing_csv.export_rows(Listing.objects.filter(supplier=sales.organization).prefetch_related("price_breaks"))
    )
    result = listing_csv.import_listings(by=sales, data=out.getvalue().encode())
    assert (result.created, result.updated, result.unchanged) == (0, 0, len(before))
    assert snapshot(sales.organization) == before


# --- imports in the background ------------------------------------------------------------


def rows(count: int, *, bad: dict[int, str] | None = None) -> bytes:
    lines = [f"S-{i:05d},Thing {i},,ea,{bad.get(i, '1.50') if bad else '1.50'},USD,1,yes," for i in range(count)]
    return (HEADER + "\n".join(lines) + "\n").encode()


def test_progress_is_reported_every_500_rows_and_at_the_end(sales):
    calls = []
    listing_csv.read_listing_rows(rows(1200), supplier=sales.organization, progress=lambda *a: calls.append(a))
    assert calls == [(0, 1200), (500, 1200), (1000, 1200), (1200, 1200)]


def test_an_import_is_queued_then_imported_by_its_task(client, sales, django_capture_on_commit_callbacks):
    client.force_login(sales.user)
    url = reverse("orders:listings-import", args=[sales.organization.slug])
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url, {"file": SimpleUploadedFile("two.csv", rows(2))})
    job = ListingImport.objects.get()
    assert response["Location"] == reverse("orders:listing-import", args=[sales.organization.slug, job.pk])
    assert (job.status, job.file_name, job.created_by, bytes(job.data)) == ("queued", "two.csv", sales.user, rows(2))
    waiting = client.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 2s"' in waiting and "waiting for a worker" in waiting
    assert f'<a href="{response["Location"]}">Refresh</a>' in waiting  # without JavaScript
    assert not Listing.objects.exists()

    assert len(callbacks) == 1
    callbacks[0]()  # the task, as the broker would deliver it
    job.refresh_from_db()
    assert (job.status, job.listings_created, job.listings_updated, job.rows_done, job.rows_total) == (
        "done",
        2,
        0,
        2,
        2,
    )
    assert bytes(job.data) == b""  # the file is dropped once imported
    assert job.started_at <= job.finished_at
    done = client.get(response["Location"]).content.decode()
    assert "Imported: 2 new, 0 updated." in done and "hx-trigger" not in done and "Refresh" not in done
    assert "two.csv" in client.get(url).content.decode()  # among the recent imports


def test_the_page_shows_progress_while_running_and_htmx_gets_the_partial(client, sales):
    job = listing_csv.queue_listing_import(by=sales, data=rows(1200), file_name="many.csv")
    ListingImport.objects.filter(pk=job.pk).update(status="running", rows_done=500, rows_total=1200)
    client.force_login(sales.user)
    url = reverse("orders:listing-import", args=[sales.organization.slug, job.pk])
    page = client.get(url).content.decode()
    assert "Checked 500 of 1,200 rows (41 %)." in page
    assert '<progress class="w-100" aria-label="Rows checked" value="500" max="1200">' in page
    partial = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and 'hx-trigger="every 2s"' in partial and "Checked 500 of 1,200" in partial
    ListingImport.objects.filter(pk=job.pk).update(rows_done=1200)
    assert "saving 1,200 listings" in client.get(url).content.decode()


def test_a_bad_file_lists_every_problem_and_writes_nothing(client, sales):
    job = listing_csv.queue_listing_import(by=sales, data=rows(600, bad={3: "1.999", 599: "x"}), file_name="b.csv")
    assert tasks.import_listings(job.pk) == "failed: 2 problems"
    job.refresh_from_db()
    assert job.status == "failed" and not Listing.objects.exists()
    assert job.errors == [
        {"row": 5, "column": "unit_price", "message": "USD amounts have at most 2 decimals; “1.999” has more."},
        {"row": 601, "column": "unit_price", "message": "“x” is not a number."},
    ]
    client.force_login(sales.user)
    page = client.get(reverse("orders:listing-import", args=[sales.organization.slug, job.pk])).content.decode()
    assert "The file has 2 problems; nothing was imported." in page
    assert "<td>601</td><td>unit_price</td>" in page and "hx-trigger" not in page


def test_a_page_lists_the_first_200_problems_and_counts_the_rest(client, sales):
    job = listing_csv.queue_listing_import(
        by=sales, data=rows(250, bad=dict.fromkeys(range(250), "x")), file_name="bad.csv"
    )
    tasks.import_listings(job.pk)
    client.force_login(sales.user)
    page = client.get(reverse("orders:listing-import", args=[sales.organization.slug, job.pk])).content.decode()
    assert "The file has 250 problems" in page and page.count("is not a number") == 200
    assert "… and 50 more." in page


def values_of(listing: Listing) -> dict:
    return {f: getattr(listing, f) for f in listings.LISTING_FIELDS} | {"unit_price": str(listing.unit_price)}


def test_a_retry_of_a_finished_import_does_nothing(sales):
    job = listing_csv.queue_listing_import(by=sales, data=rows(2), file_name="two.csv")
    assert tasks.import_listings(job.pk) == "done: 2 new, 0 updated"
    listing = Listing.objects.get(sku="S-00000")
    listings.save_listing(
        by=sales, values=typed_listing(sales, {**values_of(listing), "name": "Renamed"}), listing=listing
    )
    assert tasks.import_listings(job.pk) == "nothing to do"
    assert listing_csv.run_listing_import(pk=job.pk) is None
    assert Listing.objects.get(sku="S-00000").name == "Renamed"  # not written again
    job.refresh_from_db()
    assert (job.listings_created, job.listings_updated) == (2, 0)
    assert tasks.import_listings(job.pk + 1000) == "nothing to do"  # gone


def test_an_import_left_running_by_a_dead_worker_runs_again(sales):
    job = listing_csv.queue_listing_import(by=sales, data=rows(3), file_name="three.csv")
    ListingImport.objects.filter(pk=job.pk).update(status="running", rows_done=2, rows_total=3)
    assert tasks.import_listings(job.pk) == "done: 3 new, 0 updated"


def test_only_roles_that_manage_listings_may_import(client, db):
    supplier = SupplierFactory(buys=True)
    buyer = member(supplier, Role.BUYER, Role.APPROVER)
    with pytest.raises(NotAllowed):
        listing_csv.queue_listing_import(by=buyer, data=rows(1), file_name="x.csv")
    assert not ListingImport.objects.exists()
    job = listing_csv.queue_listing_import(by=member(supplier, Role.FULFILMENT), data=rows(1), file_name="f.csv")
    client.force_login(buyer.user)
    assert client.get(reverse("orders:listings-import", args=[supplier.slug])).status_code == 403
    assert client.get(reverse("orders:listing-import", args=[supplier.slug, job.pk])).status_code == 403


def test_an_uploader_who_lost_the_role_before_the_task_ran_imports_nothing(db):
    supplier = SupplierFactory(buys=True)
    sales = member(supplier, Role.SALES)
    job = listing_csv.queue_listing_import(by=sales, data=rows(2), file_name="two.csv")
    account_services.change_member_roles(by=member(supplier, Role.ADMIN), member=sales, roles=["buyer"])
    assert tasks.import_listings(job.pk) == "failed: 1 problem"
    job.refresh_from_db()
    assert "does not allow this" in job.errors[0]["message"] and not Listing.objects.exists()


def test_a_file_over_the_limit_is_not_kept(sales, settings):
    settings.LISTING_IMPORT_MAX_BYTES = 1000
    with pytest.raises(listing_csv.ImportRefused, match="1 problem"):
        listing_csv.queue_listing_import(by=sales, data=rows(100), file_name="big.csv")
    assert not ListingImport.objects.exists()


def test_the_import_pages_have_no_inline_script_or_style():
    """A strict Content-Security-Policy is coming: no inline JS or CSS, no on*= handlers."""
    for name in ("listing_import.html", "listing_import_detail.html", "_listing_import_status.html"):
        text = (Path(django_settings.BASE_DIR) / "templates" / "orders" / name).read_text()
        assert not re.search(r"<script|<style|\sstyle=|\son[a-z]+=", text), name


def test_an_upload_while_the_broker_is_down_is_kept_and_the_sweep_imports_it_later(
    sales, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from tests.test_broker_outage import broker, free_port

    with broker(f"redis://127.0.0.1:{free_port()}/0"), django_capture_on_commit_callbacks(execute=True) as queued:
        job = listing_csv.queue_listing_import(by=sales, data=rows(3), file_name="later.csv")
    assert len(queued) == 1  # its task was sent to a broker that is down: logged, not raised
    job.refresh_from_db()
    assert job.status == "queued" and not Listing.objects.exists()  # the upload stands, its task was lost
    assert tasks.resume_listing_imports() == 0  # a fresh upload may still be on its way to a worker
    ListingImport.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    assert tasks.resume_listing_imports() == 1  # tasks run in-process here, as a worker would
    job.refresh_from_db()
    assert (job.status, job.listings_created) == ("done", 3)
    assert tasks.resume_listing_imports() == 0


def test_an_import_left_running_when_its_task_ended_is_started_again_by_the_sweep(sales):
    from datetime import timedelta

    from django.utils import timezone

    job = listing_csv.queue_listing_import(by=sales, data=rows(2), file_name="stuck.csv")
    # Its task marked it running, then ended without finishing it (the database went away).
    ListingImport.objects.filter(pk=job.pk).update(status="running", started_at=timezone.now() - timedelta(minutes=30))
    assert tasks.resume_listing_imports() == 0  # it may still be running
    ListingImport.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=2))
    assert tasks.resume_listing_imports() == 1
    job.refresh_from_db()
    assert (job.status, job.listings_created) == ("done", 2)


@pytest.mark.parametrize("count", [2, 12])
def test_the_import_pages_read_a_bounded_number_of_queries(client, sales, count, django_assert_max_num_queries):
    for number in range(count):
        listing_csv.queue_listing_import(by=sales, data=rows(2), file_name=f"f{number}.csv")
    job = ListingImport.objects.first()
    client.force_login(sales.user)
    slug = sales.organization.slug
    with django_assert_max_num_queries(8):
        assert client.get(reverse("orders:listings-import", args=[slug])).status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(reverse("orders:listing-import", args=[slug, job.pk])).status_code == 200


def test_a_file_imported_again_unchanged_counts_its_rows_unchanged_and_writes_none(
    client, sales, django_capture_on_commit_callbacks
):
    """Rows identical to the stored listings are "unchanged": not counted as updated, not written
    (their ``updated_at`` stays), and the import's page and task say so."""
    data = (HEADER + "A-1,Alpha,,ea,2.50,USD,1,yes,10=2.40; 50=2.20\nB-2,Beta,Nice,kg,3.10,USD,0.5,no,\n").encode()
    assert (listing_csv.import_listings(by=sales, data=data).created, Listing.objects.count()) == (2, 2)
    stamps = dict(Listing.objects.values_list("sku", "updated_at"))
    again = listing_csv.import_listings(by=sales, data=data.replace(b"2.50", b"2.5"))  # the same number
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert dict(Listing.objects.values_list("sku", "updated_at")) == stamps  # nothing written

    changed = data.replace(b"Nice", b"Nicer").replace(b"50=2.20", b"50=2.10")
    result = listing_csv.import_listings(by=sales, data=changed)
    assert (result.created, result.updated, result.unchanged) == (0, 2, 0)  # a break is a change too

    job = listing_csv.queue_listing_import(by=sales, data=changed + b"C-3,Gamma,,ea,1,USD,1,yes,\n", file_name="x.csv")
    assert tasks.import_listings(job.pk) == "done: 1 new, 0 updated, 2 unchanged"
    client.force_login(sales.user)
    page = client.get(reverse("orders:listing-import", args=[sales.organization.slug, job.pk])).content.decode()
    assert "Imported: 1 new, 0 updated, 2 unchanged." in page
