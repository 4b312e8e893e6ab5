"""Fetching one row by a unique key."""

from django.db.models import QuerySet
from django.http import Http404


def one_or_404(queryset: QuerySet, message: str):
    """The row of ``queryset`` (filtered on a unique key), or 404.

    Unlike ``.first()`` this adds no ORDER BY: with several joins, PostgreSQL spends longer
    planning a sorted, limited query than running it.
    """
    found = list(queryset.order_by()[:1])
    if not found:
        raise Http404(message)
    return found[0]
