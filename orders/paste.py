"""*Paste lines*: rows copied from a spreadsheet, read into the same ``LineInput`` as one line.

What a spreadsheet puts on the clipboard is tab-separated text (Excel, Google Sheets,
LibreOffice); comma- and semicolon-separated rows are read too. Python's ``csv`` module splits
them (quoted cells keep their separators and line breaks). The columns, in this order unless a
header row names them: *SKU or description*, *quantity*, *unit price* (optional), *cost center*
(optional). A header row is recognised by its names (``HEADER_NAMES``) and skipped; it may also
put the columns in another order, and add *unit* or separate *SKU* and *description* columns.

Each row is read by ``PastedRowForm``, the single-line form's fields and rules (``LineForm``),
with the listing and the cost center looked up in what was read once for all rows: the
supplier's active listings by SKU (``selectors.active_listings_by_sku``) and the customer's
active cost centers. A SKU of such a listing makes a listing line; anything else is a custom
item, which needs its price (the service's rule). Problems are reported per row and column
(``RowProblem``); the service (``services.drafts.add_lines``) checks the rows again and adds them
all or none.

Numbers: a point is the decimal separator. A comma is read only where it can only group
thousands — "1,234.50" or "1,234,567" — and "1,234" or "12,5" (which a spreadsheet of another
locale may mean as 1.234 or 12.5) is refused with a sentence, never guessed.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace

from django import forms

from procurement.errors import DomainError
from procurement.forms import NumberField

from . import selectors
from .forms import LineForm
from .models import CostCenter, PurchaseOrder
from .services.drafts import LineInput

MAX_ROWS = 500
MAX_CHARS = 100_000

# Column → the names a header row may give it (compared in lower case, spaces squeezed).
HEADER_NAMES = {
    "item": {"item", "sku or description", "sku / description", "sku/description", "product", "article"},
    "sku": {"sku", "part number", "part no", "part no.", "item number", "item no", "item no.", "code"},
    "description": {"description", "name", "item name", "product name"},
    "quantity": {"quantity", "qty", "qty.", "quantity ordered"},
    "unit_price": {"unit price", "unit_price", "price", "price per unit", "unit cost"},
    "cost_center": {"cost center", "cost centre", "cost_center", "cost center code", "cc"},
    "unit": {"unit", "uom", "unit of measure"},
}
POSITIONAL = ("item", "quantity", "unit_price", "cost_center")
# What a page calls a column, or a LineInput field the service names.
COLUMN_LABELS = {
    "item": "SKU or description",
    "sku": "SKU",
    "listing": "SKU",
    "description": "description",
    "quantity": "quantity",
    "unit_price": "unit price",
    "cost_center": "cost center",
    "unit": "unit",
    "tax_rate": "tax %",
    "gl_account": "GL account",
}
THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
AMBIGUOUS_COMMA = re.compile(r"-?\d+,\d+")


@dataclass(frozen=True)
class RowProblem:
    row: int  # the row of the pasted text, from 1 (a header row counts)
    column: str  # a key of COLUMN_LABELS, or "" for the whole row
    message: str

    def __str__(self) -> str:
        column = COLUMN_LABELS.get(self.column, self.column)
        return f"Row {self.row}, {column}: {self.message}" if column else f"Row {self.row}: {self.message}"


@dataclass(frozen=True)
class PastedRow:
    number: int
    cells: dict[str, str]  # column → the cell as pasted (stripped)


class SpreadsheetNumberField(NumberField):
    """A number as a spreadsheet copies it: "1,234.50" is read as 1234.50; a comma that could be a
    decimal comma ("1,234", "12,5") is refused in words, not guessed."""

    def to_python(self, value):
        text = "" if value in self.empty_values else str(value).strip()
        if THOUSANDS.fullmatch(text) and ("." in text or text.count(",") > 1):
            return super().to_python(text.replace(",", ""))
        if AMBIGUOUS_COMMA.fullmatch(text):
            whole, part = text.split(",")
            raise forms.ValidationError(
                f"“{text}” could be {whole}{part} or {whole}.{part}: type it with a point for decimals "
                "and no comma (e.g. 1234.50)."
            )
        if re.fullmatch(r"-?[\d.]+,\d+", text):  # "1.234,50": a decimal comma
            raise forms.ValidationError(
                f"“{text}” has a decimal comma: type it with a point for decimals (e.g. 1234.50)."
            )
        return super().to_python(value)


def _header_key(cell: str) -> str:
    return " ".join(cell.strip().lower().rstrip(":").split())


def _delimiter(text: str) -> str:
    """Tab when there is one (what spreadsheets copy); else a semicolon when the first row has
    one outside quotes; else a comma."""
    if "\t" in text:
        return "\t"
    first = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if ";" in re.sub(r'"[^"]*"', "", first) else ","


def _is_number(cell: str) -> bool:
    return bool(re.fullmatch(r"-?[\d.,]*\d[\d.,]*", cell.strip()))


def read_rows(text: str) -> tuple[list[PastedRow], list[RowProblem]]:
    """The pasted text as rows of named cells (blank rows left out), or the problems of its shape
    (too many rows, an unknown header, more cells than columns). Reads no database."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:  # the text is shorter than the csv module's cell limit, and it is not strict about quotes
        records = [(number, [cell.strip() for cell in cells]) for number, cells in enumerate(reader, 1)]
    except csv.Error as exc:  # a guard: no text we tried reaches it (tests/orders/test_bulk_lines.py)
        return [], [RowProblem(reader.line_num or 1, "", f"The rows cannot be read ({exc}).")]
    records = [(number, cells) for number, cells in records if any(cells)]
    if not records:
        return [], [RowProblem(1, "", "Paste at least one row.")]
    columns: tuple[str, ...] = POSITIONAL
    first_number, first = records[0]
    known = {name: column for column, names in HEADER_NAMES.items() for name in names}
    if any(_header_key(cell) in known for cell in first) and not any(_is_number(cell) for cell in first):
        header = [_header_key(cell) for cell in first]
        unknown = [cell for cell, key in zip(first, header, strict=True) if key and key not in known]
        columns = tuple(known.get(key, "") for key in header)
        repeated = {c for c in columns if c and columns.count(c) > 1}
        names = "SKU or description, SKU, description, quantity, unit price, cost center, unit"
        if unknown:
            return [], [RowProblem(first_number, "", f"Unknown column “{unknown[0]}” (the columns are: {names}).")]
        if repeated:
            return [], [RowProblem(first_number, "", f"Two columns are the {COLUMN_LABELS[repeated.pop()]}.")]
        named = {"item", "sku", "description"} & set(columns)
        if "quantity" not in columns or not named:
            return [], [RowProblem(first_number, "", "The header needs a quantity and a SKU or description column.")]
        if len(named) == 1:  # one column naming the item: a SKU, or a description when no listing has it
            columns = tuple("item" if column in named else column for column in columns)
        records = records[1:]
        if not records:
            return [], [RowProblem(first_number, "", "There are no rows below the header.")]
    if len(records) > MAX_ROWS:
        return [], [RowProblem(records[MAX_ROWS][0], "", f"Paste at most {MAX_ROWS} rows at a time.")]
    rows, problems = [], []
    for number, cells in records:
        extra = [cell for cell in cells[len(columns) :] if cell]
        if extra:
            problems.append(
                RowProblem(number, "", f"It has more cells than there are columns ({len(columns)}): “{extra[0]}”.")
            )
            continue
        rows.append(PastedRow(number, {c: cell for c, cell in zip(columns, cells, strict=False) if c}))
    return rows, problems


class PasteLinesForm(forms.Form):
    """The *Paste lines* box of a draft: the pasted text, and the cost center and tax rate of rows
    that do not give theirs."""

    text = forms.CharField(
        label="Rows from a spreadsheet",
        max_length=MAX_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        error_messages={
            "required": "Paste the rows first.",
            "max_length": f"That is more than {MAX_CHARS:,} characters: paste at most {MAX_ROWS} rows at a time.",
        },
    )
    cost_center = forms.ModelChoiceField(
        label="Cost center for rows without one", queryset=None, required=False, empty_label="(each row gives one)"
    )
    tax_rate = NumberField(label="Tax % of every row", required=False, max_length=8, initial="0")

    def __init__(self, *args, po: PurchaseOrder, cost_centers, gl_accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.po = po
        self.fields["cost_center"].queryset = cost_centers
        self.gl_accounts = gl_accounts

    def clean_text(self) -> str:
        text = self.cleaned_data["text"]
        if "\x00" in text:
            raise forms.ValidationError("The text has a NUL character (a zero byte), which no line can hold.")
        return text

    def lines(self) -> tuple[list[tuple[int, LineInput]], list[RowProblem]]:
        """Every row read into a ``LineInput`` (with its row number), and the problems of the rows
        that could not be read; call after ``is_valid()``. Reads the listings and the cost centers
        once, whatever the number of rows."""
        rows, problems = read_rows(self.cleaned_data["text"])
        if not rows:
            return [], problems
        keys = {row.cells.get("sku") or row.cells.get("item") or "" for row in rows}
        listings = selectors.active_listings_by_sku(self.po, keys)
        cost_centers = list(self.fields["cost_center"].queryset)
        defaults = {"cost_center": self.cleaned_data["cost_center"], "tax_rate": self.cleaned_data["tax_rate"]}
        lines = []
        for row in rows:
            form = PastedRowForm(
                row,
                listings=listings,
                cost_centers=cost_centers,
                gl_accounts=self.gl_accounts,
                defaults=defaults,
            )
            if form.is_valid():
                lines.append((row.number, form.line_input()))
            else:
                problems += [
                    RowProblem(row.number, column_of(name), messages[0]) for name, messages in form.errors.items()
                ]
        return lines, sorted(problems, key=lambda p: p.row)


class PastedRowForm(LineForm):
    """One pasted row, read by the single-line form's fields; its listing (by SKU) and cost
    center (by code or name) looked up in what ``PasteLinesForm`` read once for every row."""

    cost_center = forms.CharField(required=False, max_length=200)
    quantity = SpreadsheetNumberField(label="Quantity", error_messages={"required": "Give the quantity."})
    unit_price = SpreadsheetNumberField(label="Unit price", required=False)

    def __init__(self, row: PastedRow, *, listings, cost_centers: list[CostCenter], gl_accounts, defaults: dict):
        cells = row.cells
        key = (cells.get("sku") or cells.get("item") or "").lower()
        self.listing = listings.get(key) if key else None
        self.default_cost_center = defaults["cost_center"]
        data = {
            "listing": str(self.listing.pk) if self.listing else "",
            "sku": "" if self.listing else cells.get("sku", ""),
            "description": ""
            if self.listing
            else cells.get("description") or cells.get("item") or cells.get("sku", ""),
            "quantity": cells.get("quantity", ""),
            "unit": (cells.get("unit") or "ea").lower(),
            "unit_price": cells.get("unit_price", ""),
            "tax_rate": "" if defaults["tax_rate"] is None else str(defaults["tax_rate"]),
            "cost_center": cells.get("cost_center", ""),
        }
        # The listing and the cost center are looked up in what was read for every row (below),
        # not in querysets: no query per row.
        super().__init__(data, listings=None, cost_centers=None, gl_accounts=gl_accounts)
        self.cost_centers = cost_centers
        self.fields["unit"].error_messages["invalid_choice"] = "“%(value)s” is not a unit Tandem knows."

    def clean_listing(self):
        return self.listing

    def clean_cost_center(self) -> CostCenter | None:
        typed = self.cleaned_data["cost_center"]
        if not typed:
            if self.default_cost_center is None:
                raise forms.ValidationError("Give the row a cost center, or choose one for rows without one.")
            return self.default_cost_center
        wanted = " ".join(typed.lower().split())
        for cost_center in self.cost_centers:
            if wanted in (cost_center.code.lower(), cost_center.name.lower(), str(cost_center).lower()):
                return cost_center
        raise forms.ValidationError(f"“{typed}” is not one of your active cost centers (give its code).")

    def line_input(self) -> LineInput:
        """The row as typed: a price given for a listing stays, for the service to compare."""
        return replace(super().line_input(), unit_price=self.cleaned_data["unit_price"])


def column_of(name: str | None) -> str:
    """The pasted column a problem of a ``LineInput`` field (or a form field) is about."""
    if name in ("sku", "description", "listing"):
        return "item"
    return name if name in COLUMN_LABELS else ""


def problem_of(error: DomainError, rows: list[int]) -> RowProblem:
    """A service's refusal of the line at ``error.line`` as a problem of its pasted row
    (``rows``: the row number of each line given to the service)."""
    return RowProblem(rows[error.line], column_of(error.field), error.message)
