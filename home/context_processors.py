from django.utils.functional import SimpleLazyObject

from accounts.selectors import memberships_of
from orders.selectors import visible_purchase_orders

_SECTIONS = [
    ("po-", "purchase-orders"),
    ("debit-note", "debit-notes"),
    ("credit-note", "credit-notes"),
    ("bill", "bills"),
    ("invoice", "invoices"),
    ("payment", "invoices"),
    ("tolerance", "settings"),
    ("so-", "sales-orders"),
    ("org-home", "home"),
    ("listing", "listings"),
    ("connection", "connections"),
    ("member", "members"),
    ("settings", "settings"),
    ("location", "settings"),
    ("accounting", "settings"),
]


def _section(url_name: str | None) -> str:
    """Which item of the main navigation the page belongs to."""
    return next((section for part, section in _SECTIONS if url_name and part in url_name), "")


class _Answer:
    """A yes/no that a lazy object can wrap (SimpleLazyObject cannot wrap a bool)."""

    def __init__(self, value: bool):
        self.value = value

    def __bool__(self) -> bool:
        return self.value


def _has_shared_orders(membership) -> _Answer:
    if membership is None or not membership.organization.buys:
        return _Answer(False)
    return _Answer(visible_purchase_orders(membership).exists())


def tenancy(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    return {
        "nav_section": (
            ("budgets" if match.url_name == "budgets" else "approvals")
            if match and match.namespace == "approvals"
            else _section(match.url_name if match else "")
        ),
        "organization": getattr(request, "organization", None),
        "membership": getattr(request, "membership", None),
        # Evaluated only by the templates that show the organization switcher.
        "my_memberships": SimpleLazyObject(lambda: list(memberships_of(user))),
        # Only asked by the navigation of a member whose roles do not show purchase orders.
        "has_shared_orders": SimpleLazyObject(lambda: _has_shared_orders(getattr(request, "membership", None))),
    }
