"""procurement.csvio: records read the way spreadsheets write them, and the formula guard."""

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procurement.csvio import FORMULA_STARTS, MAX_CELL_CHARS, guard_formula, read_records, unguard_formula


def rows(text: str) -> list[tuple[int, list[str], dict[int, str]]]:
    return [(r.number, r.cells, r.problems) for r in read_records(text)]


def test_a_bare_cr_ends_a_row_like_lf_and_crlf():
    assert rows("a,b\rc,d\r\ne,f\ng,h") == [
        (1, ["a", "b"], {}),
        (2, ["c", "d"], {}),
        (3, ["e", "f"], {}),
        (4, ["g", "h"], {}),
    ]


def test_quoted_line_breaks_stay_as_they_are_and_the_cell_is_one_row():
    assert rows('h1,h2\r\n"one\r\ntwo\rthree\nfour",x\r\n\r\nlast,y\r\n') == [
        (1, ["h1", "h2"], {}),
        (2, ["one\r\ntwo\rthree\nfour", "x"], {}),
        (3, [], {}),  # a blank line is a row of the spreadsheet too
        (4, ["last", "y"], {}),
    ]


def test_an_over_long_cell_is_a_problem_of_its_row_and_reading_goes_on():
    text = f"h1,h2\nok,1\nbig,{'x' * (MAX_CELL_CHARS + 1)}\nafter,2\n"
    read = rows(text)
    assert [number for number, _, _ in read] == [1, 2, 3, 4]
    assert read[2][2] == {1: "has 131,073 characters; a cell holds at most 131,072."}
    assert read[3] == (4, ["after", "2"], {})
    assert rows(f"h\n{'x' * MAX_CELL_CHARS}\n")[1][2] == {}  # the limit itself is fine


def test_the_csv_modules_own_limit_does_not_stop_the_file():
    with pytest.raises(csv.Error):  # what the csv module does with it by itself
        list(csv.reader(io.StringIO("x" * (csv.field_size_limit() + 1))))
    assert len(rows("x" * (csv.field_size_limit() + 1))) == 1


def test_a_nul_character_is_a_problem_of_its_cell():
    read = rows("a,b\nfine,bad\x00cell\n")
    assert read[1][2] == {1: "has a NUL character (a zero byte), which text cannot hold."}


@pytest.mark.parametrize(
    "value,cell",
    [
        ("-2+3", "'-2+3"),
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=x", "''=x"),  # starts like a guarded cell: one more ' in front, so it comes back whole
        ("''x", "'''x"),
        ("'plain", "'plain"),
        ("O'Brien", "O'Brien"),
        ("2-3", "2-3"),
        ("", ""),
        ("'", "'"),
    ],
)
def test_guard_and_unguard(value, cell):
    assert guard_formula(value) == cell
    assert unguard_formula(cell) == value


@settings(max_examples=500, deadline=None, database=None)
@given(st.text(alphabet=st.sampled_from(["'", "=", "+", "-", "@", "\t", "\r", "a", " "])) | st.text())
def test_every_value_comes_back_and_no_guarded_cell_starts_a_formula(value):
    cell = guard_formula(value)
    assert unguard_formula(cell) == value
    assert cell[:1] not in FORMULA_STARTS
