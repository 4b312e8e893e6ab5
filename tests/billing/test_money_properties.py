"""Money, property-based (Hypothesis): for currencies of 0, 2 and 3 decimals (JPY, USD, KWD),
whatever the quantities, prices, tax rates and discounts, every amount the totals produce has
exactly the currency's decimals, totals are the sums of the rounded lines, rounding is half-up
and idempotent, and a price with more decimals than the currency has is refused."""

from decimal import ROUND_FLOOR, Decimal
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.totals import line_amounts, order_totals
from procurement.money import MoneyError, format_money, minor_units, parse_price, round_money

CURRENCIES = ["JPY", "USD", "KWD"]
FAST = settings(max_examples=200, deadline=None, database=None)


def places(value: Decimal) -> int:
    return -value.as_tuple().exponent


def decimals(max_value: int, places_: int, min_value=0):
    """Decimals from ``min_value`` to ``max_value`` with at most ``places_`` decimals."""
    return st.integers(min_value * 10**places_, max_value * 10**places_).map(lambda n: Decimal(n).scaleb(-places_))


quantities = decimals(100_000, 3).filter(lambda q: q > 0)
tax_rates = decimals(100, 2)


@st.composite
def priced_lines(draw, currency):
    """Lines as an order holds them: amounts from ``line_amounts``; some rejected."""
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        quantity = draw(quantities)
        price = draw(decimals(1_000_000, minor_units(currency)))
        tax_rate = draw(tax_rates)
        line_total, tax = line_amounts(quantity, price, tax_rate, currency)
        status = draw(st.sampled_from(["open", "open", "open", "rejected"]))
        lines.append(SimpleNamespace(status=status, line_total=line_total, tax_amount=tax, raw=(quantity, price)))
    return lines


@pytest.mark.parametrize("currency", CURRENCIES)
@FAST
@given(data=st.data())
def test_line_amounts_have_exactly_the_currencys_decimals(currency, data):
    quantity, tax_rate = data.draw(quantities), data.draw(tax_rates)
    price = data.draw(decimals(1_000_000, minor_units(currency)))
    line_total, tax = line_amounts(quantity, price, tax_rate, currency)
    assert places(line_total) == places(tax) == minor_units(currency)
    assert line_total == round_money(quantity * price, currency)
    assert abs(line_total - quantity * price) <= Decimal("0.5").scaleb(-minor_units(currency))
    assert tax == round_money(line_total * tax_rate / 100, currency)


@pytest.mark.parametrize("currency", CURRENCIES)
@FAST
@given(data=st.data())
def test_order_totals_are_the_sums_of_the_rounded_lines(currency, data):
    lines = data.draw(priced_lines(currency))
    discount = data.draw(decimals(1_000, 4))  # typed with more places than the currency: rounded
    totals = order_totals(lines, discount, currency)
    counted = [line for line in lines if line.status != "rejected"]
    assert totals["subtotal"] == sum((line.line_total for line in counted), Decimal(0))
    assert totals["tax_total"] == sum((line.tax_amount for line in counted), Decimal(0))
    assert totals["discount"] == round_money(discount, currency)
    assert totals["total"] == totals["subtotal"] - totals["discount"] + totals["tax_total"]
    if counted:  # a sum of nothing is a plain 0
        for name in ("subtotal", "tax_total", "discount", "total"):
            assert places(totals[name]) == minor_units(currency), name
    shown = format_money(totals["total"], currency).removesuffix(f" {currency}")
    assert ("." not in shown) if not minor_units(currency) else len(shown.rpartition(".")[2]) == minor_units(currency)


@pytest.mark.parametrize("currency", CURRENCIES)
@FAST
@given(amount=decimals(10**9, 8, min_value=-(10**9)))
def test_round_money_is_idempotent_and_half_up(currency, amount):
    rounded = round_money(amount, currency)
    assert places(rounded) == minor_units(currency)
    assert round_money(rounded, currency) == rounded
    # Half-up, away from zero: scaled to minor units, floor(|x| + 0.5) with the sign of x.
    scaled = abs(amount).scaleb(minor_units(currency))
    expected = (scaled + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR).scaleb(-minor_units(currency))
    assert rounded == (expected if amount >= 0 else -expected)


@pytest.mark.parametrize("currency", CURRENCIES)
@FAST
@given(whole=st.integers(0, 10**6), extra=st.integers(1, 4), digits=st.integers(1, 10**4 - 1))
def test_parse_price_refuses_more_decimals_than_the_currency_has(currency, whole, extra, digits):
    allowed = minor_units(currency)
    fraction = (digits % 10**extra) or 1
    if fraction % 10 == 0:
        fraction += 1  # the last decimal is significant
    text = f"{whole}.{'0' * allowed}{fraction:0{extra}d}" if allowed else f"{whole}.{fraction:0{extra}d}"
    with pytest.raises(MoneyError, match="decimal"):
        parse_price(text, currency)


@pytest.mark.parametrize("currency", CURRENCIES)
@FAST
@given(price=decimals(10**7, 4))
def test_parse_price_keeps_what_fits_in_the_currencys_decimals(currency, price):
    text = f"{price:f}"
    if price != round_money(price, currency):
        with pytest.raises(MoneyError):
            parse_price(text, currency)
    else:
        parsed = parse_price(text, currency)
        assert parsed == price and places(parsed) == minor_units(currency)


rates = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("100000"), places=8)


@pytest.mark.parametrize("base", CURRENCIES)
@FAST
@given(data=st.data())
def test_fx_figures_have_the_base_currencys_decimals_and_add_up(base, data):
    """An FX figure: both base values rounded once to the base's minor unit, the gain their
    difference, and a dearer rate later never a gain (the bill is owed)."""
    from billing.fx import measure

    amount = data.draw(decimals(10_000_000, 3, min_value=0).filter(lambda a: a > 0))
    earlier, later = data.draw(rates), data.draw(rates)
    from_base, to_base, gain = measure(amount, earlier, later, base)
    for value in (from_base, to_base, gain):
        assert places(value) == minor_units(base)
    assert gain == from_base - to_base
    assert from_base == round_money(amount * earlier, base)
    if later > earlier:
        assert gain <= 0


@pytest.mark.django_db
@pytest.mark.parametrize("currency", CURRENCIES)
@settings(max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_stored_lines_and_totals_keep_the_currencys_decimals(currency, data):
    """Through the services and the database: every stored amount of an order, read back, has
    exactly the currency's decimals (the column keeps four places for every currency), and the
    stored totals are the sums of the stored, rounded lines."""
    from tests.factories import Trade, line_input

    trade = Trade(currency)
    po = trade.draft(lines=[])
    from orders.services import drafts

    for _ in range(data.draw(st.integers(1, 4))):
        quantity = data.draw(decimals(10_000, 0, min_value=1))
        price = data.draw(decimals(100_000, minor_units(currency)))
        tax = data.draw(tax_rates)
        values = {"description": "Item", "unit": "ea", "quantity": str(quantity), "unit_price": str(price)}
        drafts.add_line(
            by=trade.buyer, po=po, values=line_input(**values, tax_rate=str(tax), cost_center=trade.cost_center)
        )
    po.refresh_from_db()
    lines = list(po.lines.all())
    q = Decimal(1).scaleb(-minor_units(currency))
    for amount in [
        po.subtotal,
        po.tax_total,
        po.total,
        *(a for line in lines for a in (line.line_total, line.tax_amount)),
    ]:
        assert amount == amount.quantize(q)  # nothing beyond the minor unit is stored
        assert places(amount.quantize(q)) == minor_units(currency)
    assert po.subtotal == sum(line.line_total for line in lines)
    assert po.tax_total == sum(line.tax_amount for line in lines)
    assert po.total == po.subtotal - po.discount + po.tax_total
