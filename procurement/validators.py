"""The rules every input of every app follows: plain text, numbers of ASCII digits, business
dates within a sensible window. Forms (pages and admin) and services apply the same functions."""

import re
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.utils import timezone

from procurement.errors import DomainError

_MARKUP = re.compile(r"<\s*[a-zA-Z/!?]")
# Control characters never belong in text a person types (a NUL cannot even be stored in
# PostgreSQL); tabs and line breaks do.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def no_markup(value: str) -> None:
    """Plain-text fields refuse HTML: it would show as code to the other side anyway. They
    refuse control characters too (a NUL byte would reach the database)."""
    if not value:
        return
    if _CONTROL.search(value):
        raise ValidationError("This text contains control characters; type it again as plain text.", code="control")
    if _MARKUP.search(value):
        raise ValidationError("Use plain text here: HTML tags such as <b> are not allowed.", code="markup")


_LINE_END = re.compile(r"\r\n?")


def normalize_text(value: str | None) -> str:
    """Text as a person typed it, in one shape whatever sent it: line ends are LF (a browser
    sends a textarea's as CRLF), no spaces at the end of a line, none around the whole. Text
    typed twice the same way is then stored the same way, and compares equal."""
    if not value:
        return ""
    lines = _LINE_END.sub("\n", str(value)).split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


def clean_text(value: str | None, field: str, *, required: bool = False, limit: int = 2000) -> str:
    """The services' side of the same rule: normalized (``normalize_text``), within ``limit``,
    plain; else a DomainError naming ``field`` (nothing is written)."""
    value = normalize_text(value)
    if required and not value:
        raise DomainError("This field is required.", field=field)
    if len(value) > limit:
        raise DomainError(f"At most {limit:,} characters.", field=field)
    try:
        no_markup(value)
    except ValidationError as exc:
        raise DomainError(exc.messages[0], field=field) from None
    return value


# ------------------------------------------------------------------------------------ numbers

# ASCII digits only (Python's \d and int() also take "٥", "５" …), one optional point, an
# optional leading minus; no "+", no exponent, no underscores, no spaces inside.
DECIMAL_TEXT = re.compile(r"^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\Z")
INTEGER_TEXT = re.compile(r"^-?[0-9]+\Z")
# The database's integer columns (PostgreSQL's integer; Django's IntegerField range), and its
# bigint, which primary keys are (BigAutoField).
INTEGER_MIN, INTEGER_MAX = -(2**31), 2**31 - 1
ID_MAX = 2**63 - 1


def parse_integer(raw, *, minimum: int = -ID_MAX - 1, maximum: int = ID_MAX) -> int | None:
    """A whole number typed by a person (or sent in a URL, an id) within [minimum, maximum], else
    None; by default within the bigint range of primary keys."""
    text = str(raw).strip() if raw is not None else ""
    if len(text) > 20 or not INTEGER_TEXT.match(text):
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None


# -------------------------------------------------------------------------------------- dates

EARLIEST_DATE = date(2000, 1, 1)
YEARS_AHEAD = 10


def latest_date() -> date:
    """The latest business date accepted: ten years from today (29 February → 28)."""
    today = timezone.localdate()
    try:
        return today.replace(year=today.year + YEARS_AHEAD)
    except ValueError:
        return today.replace(year=today.year + YEARS_AHEAD, day=28)


def business_date_problem(value: date | None) -> str | None:
    """Why ``value`` cannot be a business date (an order's, a bill's, a payment's …), or None."""
    if value is None:
        return None
    latest = latest_date()
    if not EARLIEST_DATE <= value <= latest:
        return f"Enter a date from {format_date(EARLIEST_DATE)} to {format_date(latest)}."
    return None


def business_day(value: date | None, field: str) -> date | None:
    """A business date given to a service: a ``date`` (parsed by the form's ``DateField``) or
    None, within the window. Text is refused, not guessed: parsing is the form's job."""
    if value is None:
        return None
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"{field} must be a date, not {type(value).__name__}")
    problem = business_date_problem(value)
    if problem:
        raise DomainError(problem, field=field)
    return value


def format_date(value: date | None) -> str:
    """``date(2026, 12, 3)`` → ``"3 Dec 2026"``: how every page, message, thread entry and e-mail
    shows a date (the templates' ``|date:"j M Y"``)."""
    if value is None:
        return ""
    return f"{value.day} {value:%b %Y}"


def business_date(value: date | None) -> None:
    """The validator of every business date field (pages and admin)."""
    problem = business_date_problem(value)
    if problem:
        raise ValidationError(problem, code="date_range")
