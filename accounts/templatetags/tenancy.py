"""``{% if membership|can:"orders.add_listing" %}``: show only what the member may do."""

from django import template

from accounts.permissions import can as member_can

register = template.Library()


@register.filter
def can(membership, permission: str) -> bool:
    return member_can(membership, permission)
