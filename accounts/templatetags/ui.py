"""Small helpers for templates: Bootstrap classes and ARIA attributes on form widgets."""

from django import template

register = template.Library()

_SELECTS = {"select", "selectmultiple", "nullbooleanselect"}


@register.filter
def widget(field):
    """Render a bound field's widget with its Bootstrap class, and tie it to its error
    and help texts for screen readers."""
    css = "form-select" if field.widget_type in _SELECTS else "form-control"
    attrs = {"class": css}
    described = []
    if field.help_text:
        described.append(f"{field.auto_id}-help")
    if field.errors:
        attrs["class"] += " is-invalid"
        attrs["aria-invalid"] = "true"
        described.append(f"{field.auto_id}-error")
    if described:
        attrs["aria-describedby"] = " ".join(described)
    return field.as_widget(attrs=attrs)
