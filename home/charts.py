"""The geometry of Home's charts: server-drawn SVG, no script (SPEC §8).

The selectors of the owning apps give the figures (``procurement.figures``); this module lays
them out in a view box sized for a phone (``WIDTH`` units drawn at about a phone's width, so a
label of ``FONT`` units reads at about that many pixels there), and the templates
``home/_chart_*.html`` draw them: an ``<svg role="img">`` with its title and description, and the
numbers as a table (in a ``<details>``), whose cells link where the bars do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from procurement.figures import ZERO, BudgetUse, ByMonth, ByParty, month_end
from procurement.money import format_money

WIDTH = 360
FONT = 13
AXIS = 44  # room left of the bars for the amounts of the grid lines
PLOT_TOP = 10
PLOT_HEIGHT = 150
MONTH_LABELS = 34  # room under the bars for the month and the year


def compact(amount: Decimal) -> str:
    """An axis label: 0, 950, 1.2k, 12k, 3.4M."""
    value = float(amount)  # a label only, never money
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            scaled = value / limit
            return f"{scaled:.1f}".rstrip("0").rstrip(".") + suffix if scaled < 10 else f"{scaled:.0f}{suffix}"
    return f"{value:.0f}"


def nice_ceiling(amount: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above ``amount`` (1 for nothing)."""
    if amount <= 0:
        return Decimal(1)
    exponent = amount.adjusted()
    for step in (1, 2, Decimal("2.5"), 5, 10):
        candidate = Decimal(step).scaleb(exponent)
        if candidate >= amount:
            return candidate
    return Decimal(10).scaleb(exponent)  # pragma: no cover - 10 × 10ⁿ is always at or above


def _url(base: str, **params) -> str:
    return f"{base}?{urlencode({k: v for k, v in params.items() if v not in (None, '')})}"


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    href: str
    title: str


@dataclass
class Tick:
    y: float
    label: str


@dataclass
class Label:
    x: float
    text: str
    year: str = ""
    y: float = PLOT_TOP + PLOT_HEIGHT + 15
    year_y: float = PLOT_TOP + PLOT_HEIGHT + 30


@dataclass
class Cell:
    text: str
    href: str = ""


@dataclass
class Row:
    label: str
    cells: list[Cell]


@dataclass
class Chart:
    """What a template draws: the view box, the bars, the axis, the legend and the table."""

    key: str
    title: str
    description: str
    currency: str
    height: float
    bars: list[Bar] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    texts: list[dict] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    more: tuple[str, str] | None = None
    width: int = WIDTH
    font: int = FONT
    axis: int = AXIS
    empty: bool = False


def _notices(unconverted, currency: str) -> list[str]:
    notices = []
    for u in unconverted:
        amounts, verb = ("1 amount", "is") if u.count == 1 else (f"{u.count} amounts", "are")
        notices.append(
            f"{amounts} in {u.currency} could not be converted to {currency} (no rate recorded) and {verb} left out."
        )
    return notices


def by_month(key: str, figures: ByMonth, *, title: str, description: str, lists: dict[str, tuple[str, str]]) -> Chart:
    """Grouped bars per month; ``lists`` maps a series to (list URL, status filter): a bar links
    to that list for its month."""
    money = figures.currency
    chart = Chart(
        key=key,
        title=title,
        description=description,
        currency=money,
        height=PLOT_TOP + PLOT_HEIGHT + MONTH_LABELS,
        notices=_notices(figures.unconverted, money),
        empty=figures.empty,
    )
    top = nice_ceiling(max((v for s in figures.series for v in s.values), default=ZERO))
    for fraction in (Decimal(0), Decimal("0.5"), Decimal(1)):
        chart.ticks.append(Tick(y=PLOT_TOP + PLOT_HEIGHT * float(1 - fraction), label=compact(top * fraction)))
    slot = (WIDTH - AXIS) / len(figures.months)
    bar = slot * 0.8 / len(figures.series)
    for index, month in enumerate(figures.months):
        x = AXIS + slot * index
        year = str(month.year) if index == 0 or month.month == 1 else ""
        chart.labels.append(Label(x=x + slot / 2, text=month.strftime("%b"), year=year))
        for order, series in enumerate(figures.series):
            value = series.values[index]
            height = PLOT_HEIGHT * float(value / top)
            url, status = lists[series.key]
            chart.bars.append(
                Bar(
                    x=round(x + slot * 0.1 + bar * order, 2),
                    y=round(PLOT_TOP + PLOT_HEIGHT - height, 2),
                    width=round(bar, 2),
                    height=round(height, 2),
                    css=f"chart-{series.key}",
                    href=_url(url, status=status, date_from=month.isoformat(), date_to=month_end(month).isoformat()),
                    title=f"{series.label}, {month:%B %Y}: {format_money(value, money)}",
                )
            )
    chart.legend = [(f"chart-{s.key}", s.label) for s in figures.series]
    chart.header = ["Month", *(f"{s.label} ({money})" for s in figures.series)]
    for index, month in enumerate(figures.months):
        chart.rows.append(
            Row(
                label=f"{month:%B %Y}",
                cells=[
                    Cell(format_money(s.values[index], money, with_code=False), bar.href)
                    for s, bar in zip(
                        figures.series,
                        chart.bars[index * len(figures.series) : (index + 1) * len(figures.series)],
                        strict=True,
                    )
                ],
            )
        )
    return chart


ROW = 38  # one counterparty or budget: its name above, its bar below
BUDGET_ROW = 58  # a budget: its cost center, its bar, then its use


def by_party(
    key: str,
    figures: ByParty,
    *,
    title: str,
    description: str,
    url: str,
    status: str,
    party: str,
    rest_label: str,
) -> Chart:
    """Horizontal bars, largest first, each linking to ``url`` filtered by ``status``, the
    counterparty and the period; the rest added up in one bar (to the whole period's list)."""
    money = figures.currency
    period = {"date_from": figures.start.isoformat(), "date_to": figures.end.isoformat()}
    rows = [(p.name, p.amount, _url(url, status=status, counterparty=p.pk, **period)) for p in figures.parties]
    if figures.rest_count:
        rows.append(
            (f"{rest_label} ({figures.rest_count})", figures.rest, _url(url, status=status, **period)),
        )
    chart = Chart(
        key=key,
        title=title,
        description=description,
        currency=money,
        height=ROW * max(len(rows), 1) + 4,
        notices=_notices(figures.unconverted, money),
        empty=figures.empty,
        more=(_url(url, status=status, **period), "See them in the list"),
    )
    top = max((amount for _, amount, _ in rows), default=ZERO) or Decimal(1)
    for index, (name, amount, href) in enumerate(rows):
        y = ROW * index
        width = max(1.0, (WIDTH - 4) * float(amount / top))
        text = format_money(amount, money)
        chart.texts.append({"x": 0, "y": y + FONT + 1, "text": name, "anchor": "start", "css": "chart-label"})
        chart.texts.append({"x": WIDTH, "y": y + FONT + 1, "text": text, "anchor": "end", "css": "chart-value"})
        chart.bars.append(
            Bar(
                x=0,
                y=y + FONT + 5,
                width=round(width, 2),
                height=12,
                css=f"chart-{key}",
                href=href,
                title=f"{name}: {text}",
            )
        )
        chart.rows.append(Row(label=name, cells=[Cell(format_money(amount, money, with_code=False), href)]))
    chart.header = [party, f"Amount ({money})"]
    return chart


def budget_use(figures: BudgetUse, *, url: str) -> Chart:
    """A bar per budget covering today: committed, then in approval, against the budget (the
    track); past the budget the track ends and a mark shows where."""
    money = figures.currency
    chart = Chart(
        key="budgets",
        title="Budget use per cost center",
        description=(
            f"For each budget that covers today: what is committed and what is in approval, "
            f"against the budget, in {money}."
        ),
        currency=money,
        height=BUDGET_ROW * max(len(figures.budgets), 1) + 4,
        empty=figures.empty,
        more=(url, "See the budgets"),
    )
    chart.legend = [("chart-committed", "Committed"), ("chart-in-approval", "In approval"), ("chart-track", "Budget")]
    chart.header = ["Cost center", f"Budget ({money})", f"Committed ({money})", f"In approval ({money})"]
    for index, b in enumerate(figures.budgets):
        y = BUDGET_ROW * index
        scale = max(b.amount, b.committed + b.in_approval) or Decimal(1)
        track = (WIDTH - 4) * float(b.amount / scale)
        committed = (WIDTH - 4) * float(b.committed / scale)
        waiting = (WIDTH - 4) * float(b.in_approval / scale)
        used = f"{format_money(b.committed, money, with_code=False)} of {format_money(b.amount, money)}"
        if b.in_approval:
            used += f" + {format_money(b.in_approval, money, with_code=False)} in approval"
        bar_y = y + FONT + 5
        chart.texts.append({"x": 0, "y": y + FONT + 1, "text": b.label, "anchor": "start", "css": "chart-label"})
        chart.texts.append({"x": 0, "y": bar_y + 14 + FONT, "text": used, "anchor": "start", "css": "chart-value"})
        chart.bars.append(Bar(0, bar_y, round(max(track, 1.0), 2), 12, "chart-track", url, f"{b.label} budget"))
        chart.bars.append(Bar(0, bar_y, round(committed, 2), 12, "chart-committed", url, f"{b.label}: {used}"))
        chart.bars.append(
            Bar(round(committed, 2), bar_y, round(waiting, 2), 12, "chart-in-approval", url, f"{b.label}: {used}")
        )
        chart.rows.append(
            Row(
                label=b.label + (" (some orders have no rate recorded)" if b.unmeasured else ""),
                cells=[
                    Cell(format_money(v, money, with_code=False), url) for v in (b.amount, b.committed, b.in_approval)
                ],
            )
        )
    if any(b.unmeasured for b in figures.budgets):
        chart.notices.append("Some orders have no rate recorded and are not counted.")
    return chart
