"""The figures Home draws (a kernel module: it imports no app): amounts gathered in an
organization's base currency, with the amounts that could not be converted counted by currency.

The selectors of the owning apps fill them (``orders``, ``billing``, ``approvals``); ``home``
draws them. Amounts here are ``Decimal``, never rounded: the template rounds as it shows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

ZERO = Decimal("0")
MONTHS = 12  # the months a chart by month shows, this one included
TOP = 8  # the counterparties a chart by counterparty names; the rest are added up


def months_back(today: date, count: int = MONTHS) -> list[date]:
    """The first days of the ``count`` months up to ``today``'s, oldest first."""
    firsts = []
    year, month = today.year, today.month
    for _ in range(count):
        firsts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return firsts[::-1]


def month_end(first: date) -> date:
    """The last day of the month that starts on ``first``."""
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@dataclass
class Unconverted:
    """``count`` amounts in ``currency`` that no recorded rate converts to the base currency."""

    currency: str
    count: int


@dataclass
class Gathered:
    """Amounts added up by key in the base currency; what could not be converted is counted."""

    currency: str
    totals: dict = field(default_factory=dict)
    missing: Counter = field(default_factory=Counter)

    def add(self, key, amount: Decimal) -> None:
        self.totals[key] = self.totals.get(key, ZERO) + amount

    def miss(self, currency: str, count: int = 1) -> None:
        if count:
            self.missing[currency] += count

    def get(self, key) -> Decimal:
        return self.totals.get(key, ZERO)

    @property
    def unconverted(self) -> list[Unconverted]:
        return [Unconverted(currency, count) for currency, count in sorted(self.missing.items())]


@dataclass
class Series:
    """One kind of amount of a chart (``key`` "committed", ``label`` "Committed"): a value per bar."""

    key: str
    label: str
    values: list[Decimal]


@dataclass
class ByMonth:
    """A chart by month: ``months`` (first days, oldest first) and a value per month for each
    series, in ``currency``."""

    currency: str
    months: list[date]
    series: list[Series]
    unconverted: list[Unconverted]

    @property
    def empty(self) -> bool:
        return not any(v for s in self.series for v in s.values)


@dataclass
class Party:
    pk: int
    name: str
    amount: Decimal


@dataclass
class ByParty:
    """A chart by counterparty over ``start``–``end``: the ``TOP`` largest, then the rest
    added up (``rest_count`` counterparties)."""

    currency: str
    start: date
    end: date
    parties: list[Party]
    rest: Decimal
    rest_count: int
    unconverted: list[Unconverted]

    @property
    def empty(self) -> bool:
        return not self.parties


def by_party(gathered: Gathered, names: dict[int, str], *, start: date, end: date) -> ByParty:
    """The ``TOP`` largest of ``gathered`` (keyed by counterparty id), then the rest."""
    ranked = sorted(
        (Party(pk, names.get(pk, ""), amount) for pk, amount in gathered.totals.items() if amount),
        key=lambda p: (-p.amount, p.name, p.pk),
    )
    rest = ranked[TOP:]
    return ByParty(
        currency=gathered.currency,
        start=start,
        end=end,
        parties=ranked[:TOP],
        rest=sum((p.amount for p in rest), ZERO),
        rest_count=len(rest),
        unconverted=gathered.unconverted,
    )


@dataclass
class Budgeted:
    """One budget's use: ``committed`` and ``in_approval`` of ``amount`` (base currency)."""

    pk: int
    label: str
    amount: Decimal
    committed: Decimal
    in_approval: Decimal
    unmeasured: bool


@dataclass
class BudgetUse:
    currency: str
    budgets: list[Budgeted]

    @property
    def empty(self) -> bool:
        return not self.budgets
