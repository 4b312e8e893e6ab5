"""Exchange rates: the lookup rule (on or before, inverse, the same day, none), the table's
constraints, the CSV import (every bad row listed and nothing written, upserts, limits), the
admin (scoped to one's own organizations, *Import CSV*) and the management command."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts import selectors as account_selectors
from accounts.models import ExchangeRate, User
from accounts.roles import Role
from accounts.selectors import rate_to_base
from billing import fx
from billing.models import FxDifference
from procurement.money import inverse_rate
from tests.billing.fxkit import days_ago, fx_trade, issue_on, order_of, receive, set_rate
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db
D = date(2026, 11, 12)


@pytest.fixture
def org():
    return OrganizationFactory()


def lookup(org, on, currency="EUR", base="USD"):
    return account_selectors.exchange_rate(organization=org, currency=currency, base_currency=base, on=on)


# --------------------------------------------------------------------------------- lookup


def test_the_latest_rate_on_or_before_the_day(org, django_assert_num_queries):
    set_rate(org, D, "EUR", "USD", "1.10")
    set_rate(org, D + timedelta(days=2), "EUR", "USD", "1.20")
    assert lookup(org, D - timedelta(days=1)) is None  # before any rate: none, never zero
    with django_assert_num_queries(1):
        assert lookup(org, D) == Decimal("1.10")
    assert lookup(org, D + timedelta(days=1)) == Decimal("1.10")
    assert lookup(org, D + timedelta(days=2)) == Decimal("1.20")
    assert lookup(org, D + timedelta(days=400)) == Decimal("1.20")


def test_the_opposite_pair_gives_the_inverse_to_eight_places_half_up(org):
    set_rate(org, D, "USD", "EUR", "0.6")
    assert lookup(org, D) == Decimal("1.66666667")  # 1 / 0.6 = 1.666666666…, half-up
    assert lookup(org, D, "USD", "EUR") == Decimal("0.6")
    assert inverse_rate(Decimal("3")) == Decimal("0.33333333")
    assert inverse_rate(Decimal("0.8")) == Decimal("1.25")


def test_the_latest_day_wins_whichever_way_the_pair_is_given(org):
    set_rate(org, D, "EUR", "USD", "1.10")
    set_rate(org, D + timedelta(days=1), "USD", "EUR", "0.8")
    assert lookup(org, D) == Decimal("1.10")
    assert lookup(org, D + timedelta(days=1)) == Decimal("1.25")


def test_on_the_same_day_the_direct_rate_wins(org):
    set_rate(org, D, "USD", "EUR", "0.8")  # would say 1.25
    set_rate(org, D, "EUR", "USD", "1.10")
    assert lookup(org, D) == Decimal("1.10")
    assert lookup(org, D, "USD", "EUR") == Decimal("0.8")  # and the other way round, its own


def test_the_same_currency_is_one_without_a_query(org, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert lookup(org, D, "USD", "USD") == 1
        assert rate_to_base("JPY", "JPY", D, organization=org) == 1


def test_other_pairs_and_other_organizations_do_not_count(org):
    set_rate(OrganizationFactory(), D, "EUR", "USD", "1.10")
    set_rate(org, D, "EUR", "GBP", "0.85")
    set_rate(org, D, "GBP", "USD", "1.27")  # no cross rates through a third currency
    assert lookup(org, D) is None


def test_rate_to_base_reads_the_organizations_table(org):
    set_rate(org, D, "EUR", "USD", "1.0845")
    assert rate_to_base("EUR", "USD", D, organization=org) == Decimal("1.0845")
    assert rate_to_base("EUR", "USD", D, organization=OrganizationFactory()) is None


def test_many_days_in_one_query_agree_with_one_at_a_time(org, django_assert_num_queries):
    set_rate(org, D, "EUR", "USD", "1.10")
    set_rate(org, D + timedelta(days=3), "USD", "EUR", "0.8")
    set_rate(org, D + timedelta(days=3), "EUR", "USD", "1.30")
    set_rate(org, D + timedelta(days=5), "USD", "EUR", "0.5")
    days = [D + timedelta(days=n) for n in range(-2, 8)]
    with django_assert_num_queries(1):
        rates = account_selectors.exchange_rates(organization=org, currency="EUR", base_currency="USD", days=days)
    assert rates == {day: lookup(org, day) for day in days}
    assert rates[D - timedelta(days=1)] is None and rates[D + timedelta(days=4)] == Decimal("1.30")
    assert rates[D + timedelta(days=6)] == Decimal("2")


def test_the_table_refuses_what_money_depends_on(org):
    set_rate(org, D, "EUR", "USD", "1.1")
    bad = [
        {"from_currency": "EUR", "to_currency": "USD", "rate": Decimal("1.2")},  # the same pair and day
        {"from_currency": "EUR", "to_currency": "USD", "rate": Decimal("0"), "day": D + timedelta(days=1)},
        {"from_currency": "EUR", "to_currency": "USD", "rate": Decimal("-1"), "day": D + timedelta(days=1)},
        {"from_currency": "EUR", "to_currency": "EUR", "rate": Decimal("1")},
        {"from_currency": "XXX", "to_currency": "USD", "rate": Decimal("1")},
    ]
    for values in bad:
        with pytest.raises(IntegrityError), transaction.atomic():
            ExchangeRate.objects.create(organization=org, **{"day": D, **values})
    assert ExchangeRate.objects.count() == 1


# --------------------------------------------------------------------------------- import


GOOD = b"date,from,to,rate\n2026-11-12,EUR,USD,1.0845\n2026-11-13,EUR,USD,1.0871\n2026-11-13,USD,JPY,151.2\n"


def test_an_import_adds_then_updates(org):
    result = fx.import_exchange_rates(organization=org, data=GOOD)
    assert (result.added, result.updated, result.unchanged) == (3, 0, 0)
    assert lookup(org, date(2026, 11, 13)) == Decimal("1.0871")
    again = b"Date,From,To,Rate\r\n2026-11-13,eur,usd,1.09\r\n2026-11-12,EUR,USD,1.0845\r\n2026-11-14,EUR,USD,1.1\r\n"
    result = fx.import_exchange_rates(organization=org, data=again)
    assert (result.added, result.updated, result.unchanged) == (1, 1, 1)
    assert result.summary == f"Exchange rates of {org.name}: 1 added, 1 updated, 1 unchanged."
    assert ExchangeRate.objects.filter(organization=org).count() == 4
    assert lookup(org, date(2026, 11, 13)) == Decimal("1.09")


def test_every_bad_row_is_listed_and_nothing_is_written(org):
    set_rate(org, D, "EUR", "USD", "1.5")
    data = (
        "date,from,to,rate\n"
        "2026-11-12,EUR,USD,1.0845\n"  # row 2: good, but not written either
        "12/11/2026,EUR,USD,1.08\n"
        "2026-11-31,EUR,USD,1.08\n"
        "2026-11-13,EURO,USD,1.08\n"
        "2026-11-13,GBP,GBP,1\n"
        "2026-11-13,GBP,USD,0\n"
        "2026-11-13,CHF,USD,-1.1\n"
        '2026-11-13,JPY,USD,"1,08"\n'
        "2026-11-13,SEK,USD,abc\n"
        "2026-11-12,EUR,USD,1.09\n"
        "2026-11-14,EUR,USD\n"
        "2026-11-14,NOK,USD,0.123456789\n"
    )
    with pytest.raises(fx.RateImportError) as error:
        fx.import_exchange_rates(organization=org, data=data.encode())
    assert error.value.errors == [
        "Row 3: “12/11/2026” is not a date: write it as YYYY-MM-DD, e.g. 2026-11-12.",
        "Row 4: “2026-11-31” is not a date: write it as YYYY-MM-DD, e.g. 2026-11-12.",
        "Row 5: “EURO” is not a currency Tandem knows (ISO codes such as EUR, USD, JPY).",
        "Row 6: the rate is from GBP to GBP: the two currencies must differ.",
        "Row 7: the rate 0 is not greater than zero.",
        "Row 8: the rate -1.1 is not greater than zero.",
        "Row 9: the rate “1,08”: use a point for decimals and no thousands separators, e.g. 1234.50.",
        "Row 10: the rate “abc” is not a number.",
        "Row 11: EUR → USD on 2026-11-12 is given in row 2 already.",
        "Row 12: the rate is missing.",
        "Row 13: the rate 0.123456789 has more than 8 decimals.",
    ]
    assert error.value.message == "Nothing was imported: 11 problems in the file."
    assert list(ExchangeRate.objects.values_list("rate", flat=True)) == [Decimal("1.5")]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "The file is empty."),
        (b"  \n\n", "The file is empty."),
        (b"date,from,to,rate\n", "The file has a header but no rates."),
        (
            b"day,from,to,rate\n2026-11-12,EUR,USD,1\n",
            "Row 1: the header names the columns date,from,to,rate; date is missing.",
        ),
        (b"date,rate\n", "Row 1: the header names the columns date,from,to,rate; from, to are missing."),
        (
            "date,from,to,rate\n2026-11-12,EUR,USD,1\n".encode("utf-16"),
            "The file is not UTF-8 text: save it as “CSV UTF-8”.",
        ),
        (b"date,from,to,rate\n" + b"2026-11-12,EUR,USD,1.0845\n" * 90_000, "The file is larger than 2 MB: split it."),
    ],
)
def test_files_that_cannot_be_imported(org, data, error):
    with pytest.raises(fx.RateImportError) as raised:
        fx.import_exchange_rates(organization=org, data=data)
    assert raised.value.errors == [error]
    assert not ExchangeRate.objects.exists()


def test_unreadable_cells_are_errors_of_their_rows_and_the_file_is_read_on(org):
    """Shared with the listing import (procurement.csvio): an over-long cell or a bare CR used to
    stop the file at that row with the csv module's error; a NUL reached the rate's parser."""
    data = (
        "date,from,to,rate\r"  # bare CR line ends (old Mac files) are line ends
        "2026-11-12,EUR,USD,1.08\r"
        f"2026-11-13,EUR,USD,{'9' * 140_000}\r"
        "2026-11-14,EUR,US\x00D,1.09\r"
        "2026-11-15,EUR,USD,x\r"
    )
    with pytest.raises(fx.RateImportError) as raised:
        fx.import_exchange_rates(organization=org, data=data.encode())
    assert raised.value.errors == [
        "Row 3: the rate has 140,000 characters; a cell holds at most 131,072.",
        "Row 4: the “to” currency has a NUL character (a zero byte), which text cannot hold.",
        "Row 5: the rate “x” is not a number.",
    ]
    assert not ExchangeRate.objects.exists()
    fx.import_exchange_rates(organization=org, data=b"date,from,to,rate\r2026-11-12,EUR,USD,1.08\r")
    assert ExchangeRate.objects.get().rate == Decimal("1.08")


def test_at_most_ten_thousand_rates_a_file(org):
    start = date(2000, 1, 1)
    rows = "".join(f"{start + timedelta(days=n)},EUR,USD,1.1\n" for n in range(10_001))
    with pytest.raises(fx.RateImportError) as raised:
        fx.import_exchange_rates(organization=org, data=("date,from,to,rate\n" + rows).encode())
    assert raised.value.errors == ["The file has more than 10,000 rates: split it."]
    result = fx.import_exchange_rates(
        organization=org, data=("date,from,to,rate\n" + rows[: rows.rindex("2027")]).encode()
    )
    assert result.added == ExchangeRate.objects.count() > 9_000


def test_an_import_records_the_figures_that_waited_for_its_rates(monkeypatch):
    trade = fx_trade()
    po = order_of(trade)
    receive(trade, po, days_ago(20))
    bill = issue_on(po, days_ago(10), monkeypatch)
    assert not FxDifference.objects.exists()
    data = f"date,from,to,rate\n{days_ago(20)},EUR,USD,1.10\n{days_ago(10)},EUR,USD,1.12\n".encode()
    result = fx.import_exchange_rates(organization=trade.customer, data=data)
    assert result.fx_recorded == 1 and "1 FX figure of bills recorded." in result.summary
    assert FxDifference.objects.get(bill=bill).gain == Decimal("-20.00")


# ---------------------------------------------------------------------------------- admin


@pytest.fixture
def two_orgs():
    mine, theirs = OrganizationFactory(), OrganizationFactory()
    set_rate(mine, D, "EUR", "USD", "1.0845")
    set_rate(theirs, D, "GBP", "USD", "1.2731")
    return mine, theirs, member(mine, Role.ADMIN)


def changelist():
    return reverse("admin:accounts_exchangerate_changelist")


def import_url():
    return reverse("admin:accounts_exchangerate_import")


def upload(content: bytes, name="rates.csv"):
    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_an_organization_admin_sees_and_imports_only_its_own_rates(client, two_orgs):
    mine, theirs, admin_member = two_orgs
    client.force_login(admin_member.user)
    page = client.get(changelist()).content.decode()
    assert "EUR → USD" in page and "1.0845" in page and "GBP" not in page and "1.2731" not in page
    assert f'href="{import_url()}"' in page and "Import CSV" in page
    other = ExchangeRate.objects.get(organization=theirs)
    assert client.get(reverse("admin:accounts_exchangerate_change", args=[other.pk])).status_code == 404
    form = client.get(import_url()).content.decode()
    assert f'value="{mine.pk}"' in form and f'value="{theirs.pk}"' not in form
    response = client.post(import_url(), {"organization": theirs.pk, "file": upload(GOOD)})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert ExchangeRate.objects.filter(organization=theirs).count() == 1
    response = client.post(import_url(), {"organization": mine.pk, "file": upload(GOOD)}, follow=True)
    assert response.redirect_chain[-1][0] == changelist()
    assert f"Exchange rates of {mine.name}: 2 added, 0 updated, 1 unchanged." in response.content.decode()
    rate = ExchangeRate.objects.get(organization=mine, day=date(2026, 11, 13), from_currency="USD")
    assert rate.updated_by == admin_member.user and rate.rate == Decimal("151.2")


def test_the_import_page_lists_every_bad_row_and_writes_nothing(client, two_orgs):
    mine, _, admin_member = two_orgs
    client.force_login(admin_member.user)
    bad = b"date,from,to,rate\n2026-11-20,EUR,USD,1.1\n2026-11-21,EUR,EUR,1\n2026-11-22,EUR,USD,-2\n"
    response = client.post(import_url(), {"organization": mine.pk, "file": upload(bad)})
    page = response.content.decode()
    assert response.status_code == 400 and "Nothing was imported: 2 problems in the file." in page
    assert "Row 3: the rate is from EUR to EUR: the two currencies must differ." in page
    assert "Row 4: the rate -2 is not greater than zero." in page
    assert ExchangeRate.objects.filter(organization=mine).count() == 1
    response = client.post(import_url(), {"organization": mine.pk, "file": upload(b"")})
    assert response.status_code == 400 and ExchangeRate.objects.filter(organization=mine).count() == 1


def test_people_who_are_not_organization_admins_cannot_import(client, two_orgs):
    mine, _, _ = two_orgs
    client.force_login(member(mine, Role.PAYABLES).user)
    assert client.get(import_url()).status_code == 302  # to the admin's log-in, which refuses them
    response = client.post(import_url(), {"organization": mine.pk, "file": upload(GOOD)})
    assert response.status_code == 302 and ExchangeRate.objects.filter(organization=mine).count() == 1


def test_a_superuser_imports_for_any_organization_and_filters_by_pair(client, two_orgs):
    mine, theirs, _ = two_orgs
    root = User.objects.create_superuser(email="root@example.com", password="x", full_name="Root")
    client.force_login(root)
    response = client.post(import_url(), {"organization": theirs.pk, "file": upload(GOOD)}, follow=True)
    assert response.status_code == 200 and ExchangeRate.objects.filter(organization=theirs).count() == 4
    page = client.get(changelist() + "?pair=GBP-USD").content.decode()
    assert "1.2731" in page and "1.0845" not in page
    assert client.get(changelist() + "?day__year=2026&q=GBP").status_code == 200


def test_saving_a_rate_in_the_admin_records_missing_figures(client, monkeypatch):
    trade = fx_trade()
    po = order_of(trade)
    receive(trade, po, days_ago(3))
    bill = issue_on(po, days_ago(1), monkeypatch)
    client.force_login(trade.customer_admin.user)
    response = client.post(
        reverse("admin:accounts_exchangerate_add"),
        {
            "organization": trade.customer.pk,
            "day": days_ago(5),
            "from_currency": "EUR",
            "to_currency": "USD",
            "rate": "1.1",
        },
        follow=True,
    )
    assert response.status_code == 200 and "1 FX figure of bills recorded with it." in response.content.decode()
    rate = ExchangeRate.objects.get(organization=trade.customer)
    assert rate.updated_by == trade.customer_admin.user
    assert FxDifference.objects.get(bill=bill).gain == Decimal("0.00")
    response = client.post(
        reverse("admin:accounts_exchangerate_add"),
        {
            "organization": trade.customer.pk,
            "day": days_ago(5),
            "from_currency": "EUR",
            "to_currency": "EUR",
            "rate": "0",
        },
    )
    page = response.content.decode()
    assert response.status_code == 200 and "A rate is between two different currencies." in page
    assert "A rate must be greater than zero." in page and ExchangeRate.objects.count() == 1


def test_the_rate_admin_is_registered_and_scoped():
    from accounts.admin_scoping import OrganizationScopedAdmin

    assert isinstance(admin.site._registry[ExchangeRate], OrganizationScopedAdmin)


# -------------------------------------------------------------------------------- command


def test_the_command_imports_and_prints_the_counts(org, tmp_path):
    path = tmp_path / "rates.csv"
    path.write_bytes(GOOD)
    out = io.StringIO()
    call_command("import_exchange_rates", str(path), "--organization", org.slug, stdout=out)
    assert f"Exchange rates of {org.name}: 3 added, 0 updated." in out.getvalue()
    assert ExchangeRate.objects.filter(organization=org).count() == 3


def test_the_command_prints_every_row_error_and_fails_writing_nothing(org, tmp_path):
    path = tmp_path / "rates.csv"
    path.write_bytes(b"date,from,to,rate\n2026-11-12,EUR,USD,1.1\n2026-11-12,EUR,USD,1.2\nsoon,EUR,USD,1\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="Nothing was imported: 2 problems in the file."):
        call_command("import_exchange_rates", str(path), "--organization", org.slug, stderr=err)
    assert err.getvalue().splitlines() == [
        "Row 3: EUR → USD on 2026-11-12 is given in row 2 already.",
        "Row 4: “soon” is not a date: write it as YYYY-MM-DD, e.g. 2026-11-12.",
    ]
    assert not ExchangeRate.objects.exists()
    with pytest.raises(CommandError, match="No organization has the slug “nobody”."):
        call_command("import_exchange_rates", str(path), "--organization", "nobody")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_exchange_rates", str(tmp_path / "missing.csv"), "--organization", org.slug)


def test_the_command_fails_with_a_non_zero_exit_code(org, tmp_path):
    path = tmp_path / "rates.csv"
    path.write_bytes(b"date,from,to,rate\n2026-11-12,EUR,USD,0\n")
    with pytest.raises(CommandError) as raised:
        call_command("import_exchange_rates", str(path), "--organization", org.slug, stderr=io.StringIO())
    assert raised.value.returncode == 1  # what manage.py exits with
    assert not ExchangeRate.objects.exists()
