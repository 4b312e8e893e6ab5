"""Currencies and amounts: the one place that knows minor units and rounds money.

Amounts are ``Decimal`` from form to database to PDF; no float ever touches one.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from procurement.validators import DECIMAL_TEXT

# ISO 4217 codes with their minor units (number of decimals). The list holds the currencies
# a procurement tool meets in practice; adding one is adding a line.
CURRENCIES: dict[str, tuple[str, int]] = {
    "AED": ("UAE dirham", 2),
    "AUD": ("Australian dollar", 2),
    "BHD": ("Bahraini dinar", 3),
    "BRL": ("Brazilian real", 2),
    "CAD": ("Canadian dollar", 2),
    "CHF": ("Swiss franc", 2),
    "CLP": ("Chilean peso", 0),
    "CNY": ("Chinese yuan", 2),
    "CZK": ("Czech koruna", 2),
    "DKK": ("Danish krone", 2),
    "EUR": ("Euro", 2),
    "GBP": ("Pound sterling", 2),
    "HKD": ("Hong Kong dollar", 2),
    "HUF": ("Hungarian forint", 2),
    "IDR": ("Indonesian rupiah", 2),
    "INR": ("Indian rupee", 2),
    "ISK": ("Icelandic króna", 0),
    "JOD": ("Jordanian dinar", 3),
    "JPY": ("Japanese yen", 0),
    "KRW": ("South Korean won", 0),
    "KWD": ("Kuwaiti dinar", 3),
    "MXN": ("Mexican peso", 2),
    "NOK": ("Norwegian krone", 2),
    "NZD": ("New Zealand dollar", 2),
    "OMR": ("Omani rial", 3),
    "PLN": ("Polish złoty", 2),
    "SAR": ("Saudi riyal", 2),
    "SEK": ("Swedish krona", 2),
    "SGD": ("Singapore dollar", 2),
    "THB": ("Thai baht", 2),
    "TND": ("Tunisian dinar", 3),
    "TRY": ("Turkish lira", 2),
    "USD": ("US dollar", 2),
    "ZAR": ("South African rand", 2),
}

CURRENCY_CHOICES = [(code, f"{code} — {name}") for code, (name, _) in CURRENCIES.items()]

# Prices and amounts never have more decimals than their currency's minor unit; the database
# keeps four places so that one column fits every currency.
AMOUNT_DECIMAL_PLACES = 4
AMOUNT_MAX_DIGITS = 18
# Every amount (a price, a line, a total, a payment) is below this, or the column cannot hold it.
AMOUNT_LIMIT = Decimal(10) ** (AMOUNT_MAX_DIGITS - AMOUNT_DECIMAL_PLACES)
# Exchange rates: 1 unit of one currency = ``rate`` units of another, to 8 decimal places.
RATE_DECIMAL_PLACES = 8
RATE_MAX_DIGITS = 18
RATE_QUANTUM = Decimal(1).scaleb(-RATE_DECIMAL_PLACES)


class MoneyError(ValueError):
    """An amount or a currency that cannot be accepted, with a sentence for the user."""


def minor_units(currency: str) -> int:
    try:
        return CURRENCIES[currency][1]
    except KeyError:
        raise MoneyError(f"{currency!r} is not a currency Tandem knows.") from None


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half-up (ISO 4217: JPY 0, USD 2, KWD 3)."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, not {type(amount).__name__}")
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


MAX_NUMBER_LENGTH = 40  # far more than any column holds; longer text is not worth reading


def parse_decimal(raw: str | int | Decimal) -> Decimal:
    """A number typed by a person: digits, with a point for decimals.

    A comma is refused, not guessed: "1,50" may mean 1.5 or 150. So are exponents
    ("1e3"), underscores, a leading "+", digits other than ASCII 0–9 ("٥") and anything that
    is not a finite number. A leading "-" is read; callers refuse it where it makes no sense.
    """
    if isinstance(raw, Decimal):
        value = raw
    else:
        text = str(raw).strip()
        if "," in text:
            raise MoneyError(f"“{text}”: use a point for decimals and no thousands separators, e.g. 1234.50.")
        if len(text) > MAX_NUMBER_LENGTH:
            raise MoneyError("That is too long for a number.")
        if not DECIMAL_TEXT.match(text):  # ASCII digits only: no "+", "٥", "1e3" or "1_000"
            if text.startswith("+"):
                raise MoneyError(f"“{text}”: type the number without a “+”.")
            if any(c.isdigit() and not c.isascii() for c in text):
                raise MoneyError(f"“{text}”: type the number with the digits 0–9.")
            raise MoneyError(f"“{text}” is not a number.")
        value = Decimal(text)
    if not value.is_finite():
        raise MoneyError(f"“{raw}” is not a number.")
    return value


def parse_price(raw: str | Decimal, currency: str) -> Decimal:
    """Parse a unit price typed by a person; refuse what the currency cannot hold."""
    value = parse_decimal(raw)
    if value < 0:
        raise MoneyError("A price cannot be negative.")
    places = minor_units(currency)
    if decimal_places(value) > places:
        unit = "no decimals" if places == 0 else f"at most {places} decimal{'s' if places > 1 else ''}"
        raise MoneyError(f"{currency} amounts have {unit}; “{raw}” has more.")
    if value >= AMOUNT_LIMIT:
        largest = format_money(AMOUNT_LIMIT - quantum(currency), currency)
        raise MoneyError(f"That amount is too large: at most {largest}.")
    return round_money(value, currency)


def format_money(amount: Decimal | None, currency: str, *, with_code: bool = True) -> str:
    """``1234.5, "USD"`` → ``"1,234.50 USD"``; JPY shows no decimals, KWD three."""
    if amount is None:
        return ""
    rounded = round_money(amount, currency)
    text = f"{rounded:,.{minor_units(currency)}f}"
    return f"{text} {currency}" if with_code else text


def money_input(amount: Decimal | None, currency: str) -> str:
    """An amount as an input shows it for typing over: the currency's decimals and no thousands
    separator, which ``parse_price`` reads back (``822.5, "USD"`` → ``"822.50"``)."""
    if amount is None:
        return ""
    return format_money(amount, currency, with_code=False).replace(",", "")


def format_rate(rate: Decimal | None) -> str:
    """``Decimal("1.10000000")`` → ``"1.10"``: as many decimals as the rate has, at least two."""
    if rate is None:
        return ""
    text = f"{rate.normalize():f}"
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def inverse_rate(rate: Decimal) -> Decimal:
    """The rate of the opposite pair: 1 / rate, to 8 decimal places, half-up."""
    return (Decimal(1) / rate).quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)
