import pytest

from accounts.roles import Role
from tests.factories import Trade, member


@pytest.fixture
def trade():
    """A Trade with the customer's payables and the supplier's receivables."""
    trade = Trade()
    trade.payables = member(trade.customer, Role.PAYABLES)
    trade.receivables = member(trade.supplier, Role.RECEIVABLES)
    return trade
