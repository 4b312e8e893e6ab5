"""Supplier listings to and from CSV: the import's services, and the export's rows.

- **Reading** (``read_listing_rows``): the whole file is read and every row parsed by
  ``forms.ListingRowForm`` (the listing form's fields and rules) and checked
  (``services.check_listing``) before anything is written; every problem is reported with its
  row number (the header is row 1). A cell that no import can store (a NUL character, more
  than 131,072 characters) is a problem of its row (``procurement.csvio``).
- **Writing** (``write_listings``): all rows in one transaction, or none — created or updated
  by SKU (whatever its case); a row identical to the stored listing is *unchanged* and not written.
- **Large files** go to a Celery task: ``queue_listing_import`` keeps the upload as a
  ``ListingImport`` and schedules ``orders.tasks.import_listings`` after the commit;
  ``run_listing_import`` (the task's body) checks every row, publishing its progress every
  ``PROGRESS_EVERY`` rows in short updates of its own, then writes. A retry of a finished
  import does nothing. ``import_listings`` does the same at once, in the caller's process.
- **Round trip**: the export guards cells that a spreadsheet would run as formulas with a
  leading ``'`` and the import takes exactly that ``'`` off, so a file exported and imported
  again changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Organization
from accounts.permissions import require
from procurement import csvio
from procurement.background import enqueue_on_commit
from procurement.errors import DomainError
from procurement.transactions import require_atomic

from . import tasks
from .forms import ListingRowForm
from .models import Listing, ListingImport
from .services.listings import LISTING_FIELDS, ListingValues, _apply, _replace_breaks, check_listing, reprice_drafts

log = logging.getLogger(__name__)

CSV_COLUMNS = [
    "sku",
    "name",
    "description",
    "unit",
    "unit_price",
    "currency",
    "min_order_qty",
    "active",
    "price_breaks",
]
REQUIRED_COLUMNS = {"sku", "name", "unit", "unit_price"}
MAX_IMPORT_ROWS = 20_000
PROGRESS_EVERY = 500  # rows checked between two progress updates of a ListingImport


@dataclass
class RowError:
    row: int  # the row in the file as a spreadsheet numbers it, the header being row 1
    column: str
    message: str


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)


def problems_sentence(count: int) -> str:
    return f"The file has {count} problem{'s' if count != 1 else ''}; nothing was imported."


class ImportRefused(DomainError):
    def __init__(self, errors: list[RowError]):
        super().__init__(problems_sentence(len(errors)))
        self.errors = errors


def _size_problem(data: bytes) -> RowError | None:
    if len(data) > settings.LISTING_IMPORT_MAX_BYTES:
        limit = settings.LISTING_IMPORT_MAX_BYTES // (1024 * 1024)
        return RowError(1, "", f"The file is larger than {limit} MB. Split it and import the parts.")
    return None


def read_listing_rows(
    data: bytes, *, supplier: Organization, progress: Callable[[int, int], None] | None = None
) -> tuple[list[ListingValues], list[RowError]]:
    """Parse and validate a whole file; return the clean rows or every problem found.

    ``progress(rows checked, rows in the file)`` is called before the first row, every
    ``PROGRESS_EVERY`` rows and after the last. Writes nothing.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [RowError(1, "", "The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.")]
    if not text.strip():
        return [], [RowError(1, "", "The file is empty.")]
    records = csvio.read_records(text)
    first = next(records)
    if first.problems:
        return [], [RowError(1, "", f"A cell of the header {problem}") for problem in first.problems.values()]
    header = [h.strip().lower() for h in first.cells]
    missing = REQUIRED_COLUMNS - set(header)
    if missing:
        return [], [RowError(1, "", f"Missing column{'s' if len(missing) > 1 else ''}: {', '.join(sorted(missing))}.")]
    unknown = set(header) - set(CSV_COLUMNS)
    if unknown:
        return [], [RowError(1, "", f"Unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(sorted(unknown))}.")]
    lines = [record for record in records if not record.blank]
    if len(lines) > MAX_IMPORT_ROWS:
        return [], [RowError(lines[MAX_IMPORT_ROWS].number, "", f"At most {MAX_IMPORT_ROWS:,} rows per file.")]
    total = len(lines)
    if progress:
        progress(0, total)
    errors: list[RowError] = []
    rows: list[ListingValues] = []
    seen: dict[str, int] = {}
    has_breaks = "price_breaks" in header
    for done, record in enumerate(lines, start=1):
        if progress and done % PROGRESS_EVERY == 0:
            progress(done, total)
        number = record.number
        if record.problems:  # not stored, not checked further: its cells are no text to quote
            errors += [
                RowError(number, header[i] if i < len(header) else "", f"The cell {problem}")
                for i, problem in record.problems.items()
            ]
            continue
        if len(record.cells) > len(header):
            errors.append(RowError(number, "", "This row has more cells than the header."))
            continue
        values = dict.fromkeys(header, "")
        values.update((h, csvio.unguard_formula(cell).strip()) for h, cell in zip(header, record.cells, strict=False))
        form = ListingRowForm(values, supplier=supplier)  # the listing form's fields and rules
        clean = None
        if form.is_valid():
            clean, problems = check_listing(form.listing_values(has_breaks=has_breaks), supplier=supplier)
        else:
            problems = {column: messages[0] for column, messages in form.errors.items()}
        errors += [RowError(number, column, message) for column, message in problems.items()]
        key = values.get("sku", "").lower()
        if key:
            if key in seen:
                errors.append(RowError(number, "sku", f"SKU “{values['sku']}” is on line {seen[key]} already."))
            else:
                seen[key] = number
        if clean:
            rows.append(clean)
    if progress and total % PROGRESS_EVERY:
        progress(total, total)
    if not rows and not errors:
        errors.append(RowError(1, "", "The file has a header but no listings."))
    return rows, errors


@transaction.atomic
def write_listings(*, supplier: Organization, rows: list[ListingValues]) -> ImportResult:
    """Create or update (by SKU) the supplier's listings from rows already checked; a row that
    is the stored listing already (every field, and the price breaks when the file has them) is
    counted unchanged and not written."""
    existing = {
        listing.sku.lower(): listing
        for listing in Listing.objects.select_for_update().filter(supplier=supplier).prefetch_related("price_breaks")
    }
    to_create, to_update = [], []
    unchanged = 0
    for values in rows:
        listing = existing.get(values.sku.lower())
        if listing is None:
            listing = Listing(supplier=supplier)
            to_create.append((listing, values))
        elif _same(listing, values):
            unchanged += 1
            continue
        else:
            to_update.append((listing, values))
        _apply(listing, values)
    Listing.objects.bulk_create([lst for lst, _ in to_create], batch_size=1000)
    now = timezone.now()
    for listing, _ in to_update:
        listing.updated_at = now
    Listing.objects.bulk_update(
        [lst for lst, _ in to_update],
        [*(f for f in LISTING_FIELDS if f != "sku"), "sku", "updated_at", "price_updated_at"],
        batch_size=1000,
    )
    _replace_breaks(to_create + to_update)
    reprice_drafts([listing for listing, _ in to_update])
    return ImportResult(created=len(to_create), updated=len(to_update), unchanged=unchanged)


def _same(listing: Listing, values: ListingValues) -> bool:
    """The stored listing (its breaks prefetched) is what the checked row says already."""
    if any(getattr(listing, name) != getattr(values, name) for name in LISTING_FIELDS):
        return False
    if values.price_breaks is None:  # the file has no price_breaks column: they stay as they are
        return True
    return [(b.min_quantity, b.unit_price) for b in listing.price_breaks.all()] == list(values.price_breaks)


def _require_import(by: Membership) -> None:
    require(by, "orders.add_listing")
    require(by, "orders.change_listing")


@transaction.atomic
def import_listings(*, by: Membership, data: bytes) -> ImportResult:
    """Create or update (by SKU) the organization's listings from a CSV file at once: all rows or
    none (``ImportRefused`` lists every problem)."""
    _require_import(by)
    too_large = _size_problem(data)
    if too_large:
        raise ImportRefused([too_large])
    rows, errors = read_listing_rows(data, supplier=by.organization)
    if errors:
        raise ImportRefused(errors)
    return write_listings(supplier=by.organization, rows=rows)


# ------------------------------------------------------------------------ in the background


@transaction.atomic
def queue_listing_import(*, by: Membership, data: bytes, file_name: str) -> ListingImport:
    """Keep an uploaded file as a ListingImport and schedule its task after the commit."""
    _require_import(by)
    too_large = _size_problem(data)
    if too_large:
        raise ImportRefused([too_large])
    job = ListingImport.objects.create(
        organization=by.organization,
        created_by=by.user,
        file_name=file_name.replace("\x00", "")[:255],
        data=data,
    )
    enqueue_on_commit(tasks.import_listings, job.pk)  # a broker that is down: the beat sweep queues it
    return job


def _publish_progress(pk: int, done: int, total: int) -> None:
    """A short update of its own (outside any transaction), so the import's page sees it."""
    ListingImport.objects.filter(pk=pk).update(rows_done=done, rows_total=total)


def _stored(errors: Iterable[RowError]) -> list[dict]:
    # PostgreSQL's jsonb holds no NUL character either: none may reach it through a message.
    return [{**asdict(e), "message": e.message.replace("\x00", "\ufffd")} for e in errors]


def _locked(pk: int) -> ListingImport | None:
    """The import under its row lock, or None when it is gone or finished (a retry, a duplicate)."""
    require_atomic()
    job = ListingImport.objects.select_for_update().defer("data").filter(pk=pk).first()
    return None if job is None or job.finished else job


def run_listing_import(*, pk: int) -> ListingImport | None:
    """The body of ``orders.tasks.import_listings``: check every row of the file, then write them
    all in one transaction, or none and every problem. Returns the finished import, or None when
    there was nothing to do (it was finished already, or is gone).

    An import found *running* is one whose worker died (its transaction rolled back): it starts
    again. Two deliveries running at once both check the file; the second to reach the write
    finds the import finished under its row lock and writes nothing.
    """
    with transaction.atomic():
        job = _locked(pk)
        if job is None:
            return None
        job.status = ListingImport.Status.RUNNING
        job.started_at = timezone.now()
        job.rows_done = 0
        job.save(update_fields=["status", "started_at", "rows_done"])
    data = bytes(ListingImport.objects.values_list("data", flat=True).get(pk=pk))
    membership = Membership.objects.filter(organization_id=job.organization_id, user_id=job.created_by_id).first()
    try:
        if membership is None:
            raise ImportRefused([RowError(1, "", "Whoever uploaded the file is no longer a member here.")])
        _require_import(membership)  # the role may have changed since the upload
        rows, errors = read_listing_rows(data, supplier=job.organization, progress=partial(_publish_progress, pk))
        if errors:
            raise ImportRefused(errors)
        with transaction.atomic():
            job = _locked(pk)
            if job is None:
                return None
            result = write_listings(supplier=job.organization, rows=rows)
            job.status = ListingImport.Status.DONE
            job.listings_created, job.listings_updated = result.created, result.updated
            return _finish(job, errors=[])
    except DomainError as exc:
        with transaction.atomic():
            job = _locked(pk)
            if job is None:
                return None
            job.status = ListingImport.Status.FAILED
            return _finish(job, errors=getattr(exc, "errors", None) or [RowError(1, "", exc.message)])


def _finish(job: ListingImport, *, errors: list[RowError]) -> ListingImport:
    require_atomic()
    job.errors = _stored(errors)
    job.rows_done = job.rows_total
    job.finished_at = timezone.now()
    job.data = b""  # the file is not needed any more
    job.save(
        update_fields=[
            "status",
            "listings_created",
            "listings_updated",
            "errors",
            "rows_done",
            "finished_at",
            "data",
        ]
    )
    return job


def fail_listing_import(*, pk: int, message: str) -> ListingImport | None:
    """Mark an import that broke off unexpectedly failed (nothing of it was written), so that its
    page stops waiting; None if it had finished."""
    with transaction.atomic():
        job = _locked(pk)
        if job is None:
            return None
        job.status = ListingImport.Status.FAILED
        return _finish(job, errors=[RowError(1, "", message)])


# ------------------------------------------------------------------------------ export


def export_rows(listings: Iterable[Listing]) -> Iterator[list[str]]:
    """The header and one row per listing (price breaks prefetched), in the import's format."""
    yield CSV_COLUMNS
    for listing in listings:
        breaks = "; ".join(
            f"{b.min_quantity.normalize():f}={b.unit_price.normalize():f}" for b in listing.price_breaks.all()
        )
        yield [
            csvio.guard_formula(listing.sku),
            csvio.guard_formula(listing.name),
            csvio.guard_formula(listing.description),
            listing.unit,
            f"{listing.unit_price.normalize():f}",
            listing.currency,
            f"{listing.min_order_qty.normalize():f}",
            "yes" if listing.is_active else "no",
            breaks,
        ]
