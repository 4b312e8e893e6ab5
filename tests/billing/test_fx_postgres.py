"""Exchange rates and FX figures under real concurrency (PostgreSQL, committed transactions):
imports of the same rates at once upsert rather than fail or double, and figures recorded at
once for one bill are recorded once."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import ExchangeRate
from billing import fx
from billing.models import Bill, FxDifference
from billing.services.documents import issue_documents
from tests.billing.fxkit import days_ago, fx_trade, order_of, receive, set_rate

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_thread(fn):
    def run(*args):
        try:
            return fn(*args)
        finally:
            connection.close()

    return run


def test_concurrent_imports_of_the_same_rates_upsert():
    trade = fx_trade()
    start = timezone.localdate() - timedelta(days=100)
    rows = "".join(f"{start + timedelta(days=n)},EUR,USD,1.{n:02d}\n" for n in range(100))
    data = ("date,from,to,rate\n" + rows).encode()

    @_in_thread
    def run(_):
        return fx.import_exchange_rates(organization=trade.customer, data=data).added

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(run, range(6)))
    assert ExchangeRate.objects.filter(organization=trade.customer).count() == 100
    assert sum(results) >= 100  # each counted what it saw; none failed


def test_figures_recorded_at_once_are_recorded_once():
    trade = fx_trade()
    set_rate(trade.customer, days_ago(30), "EUR", "USD", "1.1")
    po = order_of(trade)
    receive(trade, po, days_ago(3))
    issue_documents(po=po)
    bill = Bill.objects.get(purchase_order=po)
    FxDifference.objects.all().delete()

    @_in_thread
    def record(_):
        return fx.record_fx(bill=Bill.objects.select_related("customer").get(pk=bill.pk)).created

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(record, range(12)))
    assert sorted(results) == [0] * 11 + [1]
    assert FxDifference.objects.filter(bill=bill).count() == 1
