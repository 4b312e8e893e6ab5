"""Small helpers for templates: Bootstrap classes and ARIA attributes on form widgets, and
status badges."""

import copy

from django import forms, template
from django.forms.utils import flatatt
from django.forms.widgets import Input
from django.utils.html import format_html, format_html_join

register = template.Library()

_SELECTS = {"select", "selectmultiple", "nullbooleanselect"}


def _select(field, attrs: dict, choices: list) -> str:
    """A single-choice select with flat choices, built here rather than through one template
    per option (the form renderer's way, many times slower on a long list)."""
    current = field.value()
    current = "" if current is None else str(current)
    widget = copy.copy(field.field.widget)
    widget.choices = choices  # so that deciding on ``required`` does not run the query again
    attrs = {
        "name": field.html_name,
        "id": field.auto_id,
        **field.build_widget_attrs({**widget.attrs, **attrs}, widget),
    }
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((value, " selected" if str(value) == current else "", label) for value, label in choices),
    )
    return format_html("<select{}>{}</select>", flatatt(attrs), options)


def _input(field, attrs: dict) -> str:
    """An ``<input>``, as Django's ``input.html`` would write it, without the template engine."""
    widget = field.field.widget
    attrs = {"id": field.auto_id, **field.build_widget_attrs(attrs, widget)}
    context = widget.get_context(field.html_name, field.value(), attrs)["widget"]
    value = "" if context["value"] is None else format_html(' value="{}"', context["value"])
    return format_html(
        '<input type="{}" name="{}"{}{}>', context["type"], context["name"], value, flatatt(context["attrs"])
    )


def _flat(choices) -> bool:
    return all(not isinstance(label, list | tuple) for _, label in choices)


@register.filter
def widget(field):
    """Render a bound field's widget with its Bootstrap class, and tie it to its error
    and help texts for screen readers."""
    selects = field.widget_type in _SELECTS or isinstance(field.field.widget, forms.Select)  # and its subclasses
    attrs = {"class": "form-select" if selects else "form-control"}
    described = []
    if field.help_text:
        described.append(f"{field.auto_id}-help")
    if field.errors:
        attrs["class"] += " is-invalid"
        attrs["aria-invalid"] = "true"
        described.append(f"{field.auto_id}-error")
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if type(field.field.widget) is forms.Select:
        # A model field's choices are a query: run it once (list() would ask for a COUNT first).
        choices = [choice for choice in field.field.choices]  # noqa: C416
        if _flat(choices):
            return _select(field, attrs, choices)
    if isinstance(field.field.widget, Input) and not isinstance(field.field.widget, forms.FileInput):
        return _input(field, attrs)
    return field.as_widget(attrs=attrs)


_BADGES = {
    **dict.fromkeys(("draft", "withdrawn"), "secondary"),
    "supplier_accepted": "info",
    "accepted": "info",
    **dict.fromkeys(("confirmed", "completed", "closed", "received", "shipped", "fully_received"), "success"),
    "not_received": "light",
    "awaiting_receipt": "secondary",
    **dict.fromkeys(("declined", "cancelled", "expired", "rejected"), "danger"),
    # bills, invoices, payments, 3-way match
    "open": "primary",
    "paid": "info",
    **dict.fromkeys(("verified", "matched"), "success"),
    **dict.fromkeys(("disputed", "mismatch", "overdue"), "danger"),
    **dict.fromkeys(("pending", "variance", "partially_paid"), "warning"),
}


@register.simple_tag
def status_badge(status: str, label: str) -> str:
    """The coloured badge of an order's status (open and waiting states are yellow)."""
    return format_html('<span class="badge text-bg-{}">{}</span>', _BADGES.get(status, "warning"), label)
