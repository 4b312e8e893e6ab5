"""Exchange rates and FX gain/loss (SPEC §6, multi-currency): the services module of both.

- **Rates.** Each organization keeps its own table of rates per day (``ExchangeRate``; the lookup
  rule is ``accounts.selectors.exchange_rate``). ``import_exchange_rates`` reads a CSV
  (``date,from,to,rate``) and writes all of its rows or none: every bad row is reported with its
  row number, and an existing rate of the same pair and day is updated. The Django admin's
  *Import CSV* page and ``manage.py import_exchange_rates`` both call it. These writes take the
  acting *user* (or none, from the command line) rather than a membership: the admin is open to
  platform staff and organization admins, and checks which organizations they may change; the
  command is run by whoever runs the server.
- **FX gain/loss on bills**, customer side, in the customer's base currency. The returns of a bill
  (its debit notes) are valued like the invoice they reduce, at the bill date's rate: they make no
  figure of their own, and the bill's *Exchange* section says so in a sentence (``returns_words``). ``record_fx`` keeps
  a bill's figures (``FxDifference``): *receipt → invoice* per receipt of the order's goods
  (valued at the receipt date's rate and at the bill date's) and *invoice → payment* per payment
  that is not disputed (at the bill date's rate and at the payment date's). The bill is a
  liability, so a dearer base value later is a loss: ``gain = from_base − to_base``. Each figure
  is recorded once, when both its rates exist: a rate corrected afterwards does not change it,
  but a change of what it measures (a bill by hand re-dated, a payment disputed, a bill
  cancelled) rebuilds or removes it. The billing and order services call it at each event;
  ``record_missing_fx`` catches up after rates arrive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import transaction

from accounts import selectors as account_selectors
from accounts.models import ExchangeRate, Organization, User
from orders.models import PurchaseOrder, Receipt
from procurement import csvio
from procurement.errors import DomainError
from procurement.money import (
    CURRENCIES,
    RATE_DECIMAL_PLACES,
    RATE_MAX_DIGITS,
    MoneyError,
    decimal_places,
    format_money,
    format_rate,
    parse_decimal,
    round_money,
)
from procurement.validators import business_date_problem

from . import selectors
from .models import Bill, FxDifference, Payment

# ------------------------------------------------------------------------------ rate import

MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 10_000
COLUMNS = ("date", "from", "to", "rate")
_LABELS = {"date": "date", "from": "“from” currency", "to": "“to” currency", "rate": "rate"}
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class RateImportError(DomainError):
    """A file of rates that cannot be imported: every problem, one sentence each; nothing is written."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        count = len(errors)
        super().__init__(f"Nothing was imported: {count} problem{'s' if count != 1 else ''} in the file.")


@dataclass(frozen=True)
class RateRow:
    row: int  # as a spreadsheet numbers it: the header is row 1
    day: date
    from_currency: str
    to_currency: str
    rate: Decimal


@dataclass(frozen=True)
class RateImport:
    organization: Organization
    added: int
    updated: int
    unchanged: int
    fx_recorded: int

    @property
    def summary(self) -> str:
        parts = [f"{self.added} added", f"{self.updated} updated"]
        if self.unchanged:
            parts.append(f"{self.unchanged} unchanged")
        text = f"Exchange rates of {self.organization.name}: {', '.join(parts)}."
        if self.fx_recorded:
            text += f" {self.fx_recorded} FX figure{'s' if self.fx_recorded != 1 else ''} of bills recorded."
        return text


def read_rates_csv(data: bytes | str) -> tuple[list[RateRow], list[str]]:
    """The rows of a rate file and every problem in it (row number and a sentence each)."""
    if isinstance(data, bytes):
        if len(data) > MAX_IMPORT_BYTES:
            return [], [f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB: split it."]
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return [], ["The file is not UTF-8 text: save it as “CSV UTF-8”."]
    if not data.strip():
        return [], ["The file is empty."]
    records = csvio.read_records(data)  # bare CRs end rows; NUL and over-long cells are row problems
    header = [cell.strip().lower() for cell in next(records).cells]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        return [], [
            f"Row 1: the header names the columns {','.join(COLUMNS)}; {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing."
        ]
    where = {column: header.index(column) for column in COLUMNS}
    rows: list[RateRow] = []
    errors: list[str] = []
    seen: dict[tuple[date, str, str], int] = {}
    count = 0
    for record in records:
        if record.blank:
            continue
        count += 1
        if count > MAX_IMPORT_ROWS:
            return [], [f"The file has more than {MAX_IMPORT_ROWS:,} rates: split it."]
        number, cells = record.number, record.cells
        unreadable = [
            f"Row {number}: the {_LABELS[c]} {record.problems[i]}" for c, i in where.items() if i in record.problems
        ]
        if unreadable:
            errors += unreadable
            continue
        row, problems = _read_row(number, {c: cells[i].strip() if i < len(cells) else "" for c, i in where.items()})
        errors += [f"Row {number}: {problem}" for problem in problems]
        if row is None:
            continue
        key = (row.day, row.from_currency, row.to_currency)
        if key in seen:
            errors.append(
                f"Row {number}: {row.from_currency} → {row.to_currency} on {row.day.isoformat()} "
                f"is given in row {seen[key]} already."
            )
            continue
        seen[key] = number
        rows.append(row)
    if not rows and not errors:
        return [], ["The file has a header but no rates."]
    return rows, errors


def _read_row(number: int, values: dict[str, str]) -> tuple[RateRow | None, list[str]]:
    problems = [f"the {_LABELS[column]} is missing." for column in COLUMNS if not values[column]]
    day = None
    if values["date"]:
        try:
            if not _ISO_DATE.match(values["date"]):
                raise ValueError
            day = date.fromisoformat(values["date"])
        except ValueError:
            problems.append(f"“{values['date']}” is not a date: write it as YYYY-MM-DD, e.g. 2026-11-12.")
        else:
            problem = business_date_problem(day)
            if problem:
                problems.append(f"the date {values['date']} is out of range. {problem}")
                day = None
    currencies = []
    for column in ("from", "to"):
        code = values[column].upper()
        if code and code not in CURRENCIES:
            problems.append(f"“{values[column]}” is not a currency Tandem knows (ISO codes such as EUR, USD, JPY).")
        currencies.append(code)
    from_currency, to_currency = currencies
    if from_currency and from_currency == to_currency:
        problems.append(f"the rate is from {from_currency} to {to_currency}: the two currencies must differ.")
    rate = None
    if values["rate"]:
        try:
            rate = parse_decimal(values["rate"])
        except MoneyError as exc:
            problems.append(f"the rate {exc}")
        else:
            if rate <= 0:
                problems.append(f"the rate {values['rate']} is not greater than zero.")
            elif decimal_places(rate) > RATE_DECIMAL_PLACES:
                problems.append(f"the rate {values['rate']} has more than {RATE_DECIMAL_PLACES} decimals.")
            elif rate >= Decimal(10) ** (RATE_MAX_DIGITS - RATE_DECIMAL_PLACES):
                problems.append(f"the rate {values['rate']} is too large.")
    if problems:
        return None, problems
    return RateRow(number, day, from_currency, to_currency, rate), []


@transaction.atomic
def import_exchange_rates(*, organization: Organization, data: bytes | str, by: User | None = None) -> RateImport:
    """Import a CSV of rates for ``organization``: all rows in one transaction, or nothing when a
    row is bad (``RateImportError`` lists every problem). A rate of a pair and day the table has
    already is updated. Then the organization's bills that miss FX figures get those whose rates
    now exist."""
    rows, errors = read_rates_csv(data)
    if errors:
        raise RateImportError(errors)
    existing = {
        (r.day, r.from_currency, r.to_currency): r.rate
        for r in ExchangeRate.objects.filter(
            organization=organization,
            day__gte=min(row.day for row in rows),
            day__lte=max(row.day for row in rows),
        ).only("day", "from_currency", "to_currency", "rate")
    }
    writes = []
    added = updated = unchanged = 0
    for row in rows:
        before = existing.get((row.day, row.from_currency, row.to_currency))
        if before is None:
            added += 1
        elif before == row.rate:
            unchanged += 1
            continue
        else:
            updated += 1
        writes.append(
            ExchangeRate(
                organization=organization,
                day=row.day,
                from_currency=row.from_currency,
                to_currency=row.to_currency,
                rate=row.rate,
                updated_by=by,
            )
        )
    # An upsert: the unique constraint decides, so a rate written meanwhile is updated, not doubled.
    ExchangeRate.objects.bulk_create(
        writes,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["organization", "from_currency", "to_currency", "day"],
        update_fields=["rate", "updated_by", "updated_at"],
    )
    recorded = record_missing_fx(organization=organization, since=min(row.day for row in rows))
    return RateImport(organization, added, updated, unchanged, recorded)


# ------------------------------------------------------------------------------ FX gain/loss


@dataclass(frozen=True)
class Figure:
    """An FX figure a bill should have (recorded once both its rates exist)."""

    kind: str
    receipt: Receipt | None
    payment: Payment | None
    day: date
    amount: Decimal
    from_date: date
    to_date: date

    @property
    def key(self) -> tuple[str, int]:
        return ("receipt", self.receipt.pk) if self.receipt is not None else ("payment", self.payment.pk)


def _key(row: FxDifference) -> tuple[str, int]:
    return ("receipt", row.receipt_id) if row.receipt_id else ("payment", row.payment_id)


def receipt_value(receipt: Receipt, currency: str) -> Decimal:
    """What a receipt's goods are worth at the order's prices, before tax: each line's quantity
    in good condition × its unit price, rounded per line (damaged and short units do not count)."""
    return sum(
        (round_money(line.quantity * line.po_line.unit_price, currency) for line in receipt.lines.all()),
        Decimal("0"),
    )


def figures_of(bill: Bill, receipts: list[Receipt], payments: list[Payment]) -> list[Figure]:
    """The figures ``bill`` should have: one per receipt of goods (receipt → invoice, dated the
    later of the receipt and the bill) and one per payment not disputed (invoice → payment,
    dated the payment)."""
    figures = []
    for receipt in receipts:
        value = receipt_value(receipt, bill.currency)
        if value:
            figures.append(
                Figure(
                    FxDifference.Kind.RECEIPT_INVOICE,
                    receipt,
                    None,
                    max(receipt.received_on, bill.bill_date),
                    value,
                    receipt.received_on,
                    bill.bill_date,
                )
            )
    for payment in payments:
        if payment.status != Payment.Status.DISPUTED:
            # What settled the bill: a payment verified short settled what arrived (the rest is owed again).
            settled = payment.amount_received if payment.status == Payment.Status.VERIFIED else payment.amount
            if settled:
                figures.append(
                    Figure(
                        FxDifference.Kind.INVOICE_PAYMENT,
                        None,
                        payment,
                        payment.paid_on,
                        settled,
                        bill.bill_date,
                        payment.paid_on,
                    )
                )
    return figures


def _measures(row: FxDifference, figure: Figure, bill: Bill, base: str) -> bool:
    """Does the recorded ``row`` still measure what ``figure`` is? (If not, it is rebuilt.)"""
    return (row.currency, row.base_currency, row.amount, row.from_date, row.to_date, row.day) == (
        bill.currency,
        base,
        figure.amount,
        figure.from_date,
        figure.to_date,
        figure.day,
    )


def measure(amount: Decimal, from_rate: Decimal, to_rate: Decimal, base: str) -> tuple[Decimal, Decimal, Decimal]:
    """(from_base, to_base, gain) of an amount owed: each value rounded once to the base
    currency's minor unit, the gain their difference (a dearer value later is a loss)."""
    from_base, to_base = round_money(amount * from_rate, base), round_money(amount * to_rate, base)
    return from_base, to_base, from_base - to_base


def _later_rate(row: FxDifference, rates: dict) -> bool:
    """A rate of a later day (on or before the date measured) than the one the figure used
    arrived: the figure was made before its own day's rate was in the table."""
    return any(
        used is not None and rates.get(on) is not None and rates[on].day > used
        for on, used in ((row.from_date, row.from_rate_day), (row.to_date, row.to_rate_day))
    )


@dataclass(frozen=True)
class FxRecorded:
    created: int = 0
    deleted: int = 0
    waiting: int = 0  # figures whose rates do not exist yet


@transaction.atomic
def record_fx(*, bill: Bill) -> FxRecorded:
    """Bring the bill's FX figures up to date; idempotent (a second run writes nothing).

    Creates the figures that are missing and whose two rates exist; deletes those of payments
    disputed since, of a bill cancelled, and those whose basis changed (a bill by hand re-dated:
    they are made again at the new date's rate). A bill in the base currency has none. Works
    under the order's and the bill's row locks (the billing services' lock order)."""
    if bill.currency == bill.customer.base_currency and not FxDifference.objects.filter(bill_id=bill.pk).exists():
        return FxRecorded()  # the usual case: nothing in another currency, nothing to do
    if bill.purchase_order_id:
        PurchaseOrder.objects.select_for_update(of=("self",)).filter(pk=bill.purchase_order_id).first()
    bill = Bill.objects.select_for_update(of=("self",)).select_related("customer").get(pk=bill.pk)
    base = bill.customer.base_currency
    recorded = {_key(row): row for row in FxDifference.objects.filter(bill=bill)}
    wanted: dict[tuple[str, int], Figure] = {}
    if bill.status != Bill.Status.CANCELLED and bill.currency != base:
        payments = list(bill.payments.exclude(status=Payment.Status.DISPUTED))
        wanted = {f.key: f for f in figures_of(bill, selectors.goods_receipts_of(bill), payments)}
    rates = account_selectors.rates_with_days(
        organization=bill.customer_id,
        currency=bill.currency,
        base_currency=base,
        days={day for f in wanted.values() for day in (f.from_date, f.to_date)},
    )
    stale = [
        key
        for key, row in recorded.items()
        if key not in wanted or not _measures(row, wanted[key], bill, base) or _later_rate(row, rates)
    ]
    if stale:
        FxDifference.objects.filter(pk__in=[recorded[key].pk for key in stale]).delete()
    todo = [figure for key, figure in wanted.items() if key not in recorded or key in stale]
    rows = []
    for figure in todo:
        from_rate, to_rate = rates[figure.from_date], rates[figure.to_date]
        if from_rate is None or to_rate is None:
            continue
        from_base, to_base, gain = measure(figure.amount, from_rate.value, to_rate.value, base)
        rows.append(
            FxDifference(
                organization_id=bill.customer_id,
                supplier_id=bill.supplier_id,
                bill=bill,
                kind=figure.kind,
                receipt=figure.receipt,
                payment=figure.payment,
                day=figure.day,
                currency=bill.currency,
                amount=figure.amount,
                base_currency=base,
                from_date=figure.from_date,
                to_date=figure.to_date,
                from_rate=from_rate.shown,
                to_rate=to_rate.shown,
                from_rate_day=from_rate.day,
                to_rate_day=to_rate.day,
                from_base=from_base,
                to_base=to_base,
                gain=gain,
            )
        )
    FxDifference.objects.bulk_create(rows)
    return FxRecorded(created=len(rows), deleted=len(stale), waiting=len(todo) - len(rows))


def record_order_fx(*, po: PurchaseOrder) -> FxRecorded:
    """After a receipt: the FX figures of the order's own bill, if it has one yet."""
    bill = selectors.bill_of(po)
    return record_fx(bill=bill) if bill is not None else FxRecorded()


def record_missing_fx(*, organization: Organization, since: date | None = None) -> int:
    """After rates arrive (an import or a rate saved in the admin, from the day ``since``; and
    each night, for what a race left behind): the figures of the organization's live bills in
    another currency that miss some, or that were measured at an earlier day's rate than the
    new ones. Returns how many figures were made."""
    return sum(record_fx(bill=bill).created for bill in selectors.bills_missing_fx(organization, since=since))


# --------------------------------------------------------------------------------- in words


def _day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def outcome(gain: Decimal, currency: str) -> str:
    """``Decimal("-20")`` → ``"a loss of 20.00 USD"``."""
    if gain > 0:
        return f"a gain of {format_money(gain, currency)}"
    if gain < 0:
        return f"a loss of {format_money(-gain, currency)}"
    return "neither a gain nor a loss"


def explain(row: FxDifference) -> str:
    """One plain sentence of what a figure measured."""
    base = row.base_currency
    if row.kind == FxDifference.Kind.RECEIPT_INVOICE:
        text = (
            f"Goods received on {_day(row.from_date)} were worth {format_money(row.from_base, base)} at "
            f"{format_rate(row.from_rate)}; at the bill date's {format_rate(row.to_rate)} they cost "
            f"{format_money(row.to_base, base)}"
        )
    else:
        text = (
            f"The payment of {format_money(row.amount, row.currency)} on {_day(row.to_date)} cost "
            f"{format_money(row.to_base, base)} at {format_rate(row.to_rate)}; at the bill date's "
            f"{format_rate(row.from_rate)} it stood at {format_money(row.from_base, base)}"
        )
    earlier = sorted(
        {
            used
            for on, used in ((row.from_date, row.from_rate_day), (row.to_date, row.to_rate_day))
            if used and used < on
        }
    )
    if earlier:  # remade when the day's own rate arrives
        text += f" (at the rate of {' and '.join(map(_day, earlier))}, the latest in the table)"
    return f"{text}: {outcome(row.gain, base)}."


@dataclass
class Part:
    """One of the two figures of a bill, summed, in words."""

    label: str
    total: Decimal
    count: int
    na: str = ""  # why there is no figure, when there is none

    @property
    def word(self) -> str:
        return "Gain" if self.total > 0 else "Loss" if self.total < 0 else "No gain or loss"

    @property
    def size(self) -> Decimal:
        return abs(self.total)


@dataclass
class BillFx:
    """What the bill page shows under *Exchange*."""

    currency: str
    base_currency: str
    bill_date: date
    bill_rate: Decimal | None
    manual: bool
    receipt_invoice: Part
    invoice_payment: Part
    net: Part
    sentences: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    returns: str = ""  # how the returns credited are valued, when there are any

    @property
    def bill_rate_text(self) -> str:
        return format_rate(self.bill_rate)

    @property
    def parts(self) -> list[Part]:
        return [self.receipt_invoice, self.invoice_payment, self.net]


def returns_words(bill: Bill, base: str, bill_rate: Decimal | None) -> str:
    """One sentence on the bill's returns in a foreign currency: a credit is valued like the
    invoice it reduces, at the bill date's rate, so it makes no FX gain or loss of its own ("" when
    the bill has no returns)."""
    if not bill.credited_total or bill.currency == base:
        return ""
    credited = format_money(bill.credited_total, bill.currency)
    if bill_rate is None:
        return (
            f"Returns of {credited} are valued like the invoice they reduce, at the rate of the bill date "
            f"({_day(bill.bill_date)}), which is not known yet; they make no FX gain or loss of their own."
        )
    return (
        f"Returns of {credited} are valued like the invoice they reduce, at the rate of the bill date "
        f"({_day(bill.bill_date)}): 1 {bill.currency} = {format_rate(bill_rate)} {base}, so "
        f"{format_money(round_money(bill.credited_total * bill_rate, base), base)}; they make no FX gain or loss "
        f"of their own."
    )


def describe(
    bill: Bill, base: str, rows: list[FxDifference], receipts: list[Receipt], payments: list[Payment], rates: dict
) -> BillFx:
    """The *Exchange* section of a bill from what was read (no query here): the figures summed
    and explained, and in words each figure that cannot be measured yet and the rate it lacks."""
    kind = FxDifference.Kind
    parts = {
        k: Part(label, sum((r.gain for r in rows if r.kind == k), Decimal("0")), sum(r.kind == k for r in rows))
        for k, label in kind.choices
    }
    net = sum((r.gain for r in rows), Decimal("0"))
    section = BillFx(
        currency=bill.currency,
        base_currency=base,
        bill_date=bill.bill_date,
        bill_rate=rates.get(bill.bill_date),
        manual=bill.is_manual,
        receipt_invoice=parts[kind.RECEIPT_INVOICE],
        invoice_payment=parts[kind.INVOICE_PAYMENT],
        net=Part("Net", net, len(rows)),
        sentences=[explain(row) for row in rows],
        returns=returns_words(bill, base, rates.get(bill.bill_date)),
    )
    if bill.is_manual:
        section.receipt_invoice.na = "None: a bill entered by hand has no receipts"
    if bill.status == Bill.Status.CANCELLED:
        for part in section.parts:
            part.na = "None: the bill is cancelled"
        return section
    done = {_key(row) for row in rows}
    pair = f"{bill.currency} → {base} rate (nor {base} → {bill.currency})"

    def why(what: str, *dated: tuple[date, str]) -> str:
        gone = [f"{_day(day)} ({label})" for day, label in dated if rates.get(day) is None]
        if not gone:
            return f"{what} is not recorded yet."
        return f"{what} cannot be measured yet: there is no {pair} dated on or before {' nor '.join(gone)}."

    for receipt in receipts:
        if ("receipt", receipt.pk) not in done:
            section.missing.append(
                why(
                    f"The receipt → invoice figure of receipt {receipt.number} (goods received on "
                    f"{_day(receipt.received_on)})",
                    (receipt.received_on, "the receipt date"),
                    (bill.bill_date, "the bill date"),
                )
            )
    for payment in payments:
        if payment.status != Payment.Status.DISPUTED and ("payment", payment.pk) not in done:
            section.missing.append(
                why(
                    f"The invoice → payment figure of the payment of "
                    f"{format_money(payment.amount, payment.currency)} on {_day(payment.paid_on)}",
                    (bill.bill_date, "the bill date"),
                    (payment.paid_on, "the payment date"),
                )
            )
    waiting = "Not measured yet (see below)"
    ri, ip, net = section.receipt_invoice, section.invoice_payment, section.net
    if not ri.count and not ri.na:
        ri.na = waiting if any(("receipt", r.pk) not in done for r in receipts) else "No goods received yet"
    if not ip.count:
        ip.na = (
            waiting
            if any(p.status != Payment.Status.DISPUTED and ("payment", p.pk) not in done for p in payments)
            else "No payment yet"
        )
    if not net.count:
        net.na = waiting if section.missing else "Nothing measured yet"
    return section


def days_to_explain(bill: Bill, rows: list[FxDifference], receipts: list[Receipt], payments: list[Payment]) -> set:
    """The days whose rates the *Exchange* section needs: the bill date's, and those of the
    figures not recorded."""
    done = {_key(row) for row in rows}
    days = {bill.bill_date}
    days |= {r.received_on for r in receipts if ("receipt", r.pk) not in done}
    days |= {p.paid_on for p in payments if p.status != Payment.Status.DISPUTED and ("payment", p.pk) not in done}
    return days
