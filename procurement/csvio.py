"""CSV files people make in spreadsheets: reading them for an import, guarding cells of an export.

Shared by every import and export (listings in ``orders``, exchange rates in ``billing``); it
imports no app.

- ``read_records`` splits decoded text into records the way spreadsheets do: CRLF, LF and a
  bare CR (old Mac files) each end a row outside quotes, and a quoted cell keeps its own line
  breaks as they are. Each record carries its row number as a spreadsheet shows it (the header
  is row 1; a blank line and a cell over several lines count as one row each) and the problems
  of cells that no import can store — a NUL character (PostgreSQL refuses it in text) or more
  than ``MAX_CELL_CHARS`` characters — so the caller reports them as errors of that row and
  goes on reading. Python's ``csv`` would stop the whole file at the first such cell (its
  ``field_size_limit``) or at a bare CR (“new-line character seen in unquoted field”).
- ``guard_formula`` keeps a spreadsheet from running an exported cell as a formula (CSV
  injection) by putting a ``'`` before it; ``unguard_formula`` takes exactly that ``'`` off
  again on import (a ``'`` followed by ``= + - @``, a tab or a CR). So that export → import
  gives back every value unchanged, a value that starts with ``'`` and one of those characters
  or a second ``'`` is exported with one more ``'`` in front, and that one is taken off too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_CELL_CHARS = 131_072  # Python's own default field_size_limit, kept as the limit of one cell
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Record:
    number: int  # the row as a spreadsheet numbers it: the header is row 1
    cells: list[str]
    problems: dict[int, str] = field(default_factory=dict)  # cell index → why it cannot be stored

    @property
    def blank(self) -> bool:
        return not any(cell.strip() for cell in self.cells)


def cell_problem(cell: str, *, max_chars: int = MAX_CELL_CHARS) -> str | None:
    """Why no import can store ``cell`` (the end of a sentence about it), or None."""
    if len(cell) > max_chars:
        return f"has {len(cell):,} characters; a cell holds at most {max_chars:,}."
    if "\x00" in cell:
        return "has a NUL character (a zero byte), which text cannot hold."
    return None


def read_records(text: str, *, max_cell_chars: int = MAX_CELL_CHARS) -> Iterator[Record]:
    """Every record of ``text`` (already decoded), blank ones included, with its cells' problems."""
    # The csv module refuses a longer cell with an error that ends the whole file; its limit is
    # raised (never lowered, process-wide) to the length of this text, which the callers bound by
    # their upload size, and the cells over ``max_cell_chars`` are reported row by row instead.
    # With that, and lines split at CR, LF and CRLF alike, a str cannot make the csv module fail
    # (since Python 3.11 it accepts NUL; not strict, it takes a stray quote as text).
    if csv.field_size_limit() <= len(text):
        csv.field_size_limit(len(text) + 1)
    reader = csv.reader(io.StringIO(text, newline=""))  # newline="": quoted line breaks stay as they are
    for number, cells in enumerate(reader, start=1):
        problems = {}
        for index, cell in enumerate(cells):
            problem = cell_problem(cell, max_chars=max_cell_chars)
            if problem:
                problems[index] = problem
        yield Record(number, cells, problems)


def _guarded(cell: str) -> bool:
    # A ' before a formula character, or before another ' (that one then belongs to the value).
    return cell[:1] == "'" and (cell[1:2] in FORMULA_STARTS or cell[1:2] == "'")


def guard_formula(value: str) -> str:
    """A cell a spreadsheet shows as text: ``'`` before a value that would start a formula, and
    before a value that would otherwise look guarded (``'=x``, ``''x``), so that
    ``unguard_formula`` gives every value back exactly."""
    return f"'{value}" if value[:1] in FORMULA_STARTS or _guarded(value) else value


def unguard_formula(cell: str) -> str:
    """Undo ``guard_formula``: drop a leading ``'`` followed by a formula character or by another
    ``'``. Any other cell, a leading ``'`` included (``'plain``), is the value itself."""
    return cell[1:] if _guarded(cell) else cell
