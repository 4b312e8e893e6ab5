"""Listing imports through a real Redis broker and a real worker: a 15,500-row file (like the
4.9 MB one that held a web worker for 21 s) is imported out of band while its page shows progress;
a bad file lists its problems and writes nothing; a retry does nothing."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction
from django.urls import reverse

from accounts.roles import Role
from orders import listing_csv, tasks
from orders.models import Listing, ListingImport
from procurement.celery import app
from tests.factories import SupplierFactory, member

# The production shape: the test reads the import while the worker writes it. SQLite's in-memory
# test database, shared between the threads, refuses that ("database table is locked").
pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HEADER = "sku,name,description,unit,unit_price,currency,min_order_qty,active,price_breaks\n"


@pytest.fixture
def worker(settings):
    keys = ("task_always_eager", "broker_url", "result_backend", "task_ignore_result", "broker_transport_options")
    saved = {k: app.conf[k] for k in keys}
    app.conf.update(
        task_always_eager=False,
        broker_url=settings.REDIS_URL,
        result_backend=settings.REDIS_URL,
        task_ignore_result=False,
        broker_transport_options={**saved["broker_transport_options"], "polling_interval": 0.1},
    )
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield
    app.conf.update(saved)


def catalogue(count: int, *, bad: dict[int, str] | None = None) -> bytes:
    """``count`` listings of about 300 bytes each, as a supplier's catalogue looks."""
    bad = bad or {}
    words = (
        "a description that says a few words about the thing and then some more of them, as catalogues do: "
        "its size, its material, what it fits, how it is packed and how long it keeps in a dry store room"
    )
    return (
        HEADER
        + "".join(
            f'CAT-{i:06d},Widget {i} in stainless steel,"{words}, {i}",ea,{bad.get(i, f"{i % 997 + 1}.25")},USD,1,'
            f"yes,10={i % 997 + 1}.10; 50={i % 997 + 1}.05\n"
            for i in range(count)
        )
    ).encode()


def queue(by, data: bytes) -> ListingImport:
    with transaction.atomic():  # the task is sent to the broker when this commits
        return listing_csv.queue_listing_import(by=by, data=data, file_name="catalogue.csv")


def wait_for(job: ListingImport, seen: list, *, timeout: float = 120) -> ListingImport:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        seen.append((job.status, job.rows_done, job.rows_total))
        if job.finished:
            return job
        time.sleep(0.02)
    raise AssertionError(f"the import did not finish: {seen[-3:]}")


def test_a_15500_row_file_is_imported_by_the_worker_with_progress_on_its_page(worker, client):
    sales = member(SupplierFactory(base_currency="USD"), Role.SALES)
    client.force_login(sales.user)
    data = catalogue(15_500)
    assert len(data) > 4_400_000  # about 4.4 MB
    job = queue(sales, data)
    url = reverse("orders:listing-import", args=[sales.organization.slug, job.pk])
    seen, progress_page = [], None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        seen.append((job.status, job.rows_done, job.rows_total))
        if job.finished:
            break
        if progress_page is None and job.status == "running" and 0 < job.rows_done < job.rows_total:
            progress_page = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        time.sleep(0.02)
    assert job.status == "done", seen[-3:]
    # Progress was committed while the worker ran, and the page polling itself showed it.
    assert any(s == "running" and 0 < done < total == 15_500 for s, done, total in seen)
    assert progress_page is not None
    assert 'hx-trigger="every 2s"' in progress_page and "of 15,500 rows" in progress_page
    assert (job.listings_created, job.listings_updated, job.rows_done) == (15_500, 0, 15_500)
    assert Listing.objects.filter(supplier=sales.organization).count() == 15_500
    assert "Imported: 15,500 new, 0 updated." in client.get(url).content.decode()

    # The same task again (a retry, a second delivery) finds it done and writes nothing.
    Listing.objects.filter(sku="CAT-000001").update(name="Renamed meanwhile")
    result = tasks.import_listings.apply_async(args=[job.pk], ignore_result=False)
    assert result.get(timeout=30) == "nothing to do"
    assert Listing.objects.get(sku="CAT-000001").name == "Renamed meanwhile"
    job.refresh_from_db()
    assert (job.status, job.listings_created) == ("done", 15_500)


def test_a_bad_file_is_refused_by_the_worker_with_every_problem_and_nothing_written(worker):
    sales = member(SupplierFactory(base_currency="USD"), Role.SALES)
    job = wait_for(queue(sales, catalogue(3_000, bad={10: "1.999", 2_999: "free"})), [])
    assert job.status == "failed"
    assert [(e["row"], e["column"]) for e in job.errors] == [(12, "unit_price"), (3001, "unit_price")]
    assert not Listing.objects.exists()
    result = tasks.import_listings.apply_async(args=[job.pk], ignore_result=False)
    assert result.get(timeout=30) == "nothing to do"
    assert not Listing.objects.exists()
