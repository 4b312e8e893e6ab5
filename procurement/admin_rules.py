"""The input rules of the pages (``procurement.forms``) in every Django admin form (a kernel module)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib.admin.widgets import FilteredSelectMultiple

from procurement.forms import number_kwargs, with_input_rules
from procurement.money import money_input


class InputRulesMixin:
    """Every field of an admin form follows the input rules of the pages (``procurement.forms``):
    plain text, numbers of ASCII digits within their column, business dates in their window.
    The site mixes it into every model admin registered with it and into their inlines."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **{**number_kwargs(db_field), **kwargs})
        return with_input_rules(field) if field is not None else None

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        """A filter widget (``filter_horizontal``) says how to choose itself: the admin's
        "Hold down Control…" sentence is for plain multi-selects, which we do not use."""
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and isinstance(field.widget, FilteredSelectMultiple):
            field.help_text = db_field.help_text
        return field


class MoneyInput(forms.TextInput):
    """An amount's input showing it with its currency's decimals ("1000.00", not the column's
    "1000.0000"), as people type it (``procurement.money.money_input``)."""

    def __init__(self, currency: str, attrs=None):
        super().__init__({"inputmode": "decimal", "autocomplete": "off", **(attrs or {})})
        self.currency = currency

    def format_value(self, value):
        if isinstance(value, Decimal) and value.is_finite():
            return money_input(value, self.currency)
        return super().format_value(value)


def in_currency(form_class: type[forms.BaseForm], name: str, currency: str | None) -> None:
    """Show the amount field ``name`` of ``form_class`` (a class the admin made for this request)
    in ``currency``: its label says the currency, its input the currency's decimals."""
    if currency is None or name not in form_class.base_fields:
        return
    field = form_class.base_fields[name]
    field.widget = MoneyInput(currency)
    field.label = f"{field.label or name.capitalize()} ({currency})"


def with_input_rules_class(cls: type, **attrs) -> type:
    """A subclass of ``cls`` (a model admin or an inline) with ``InputRulesMixin`` (and ``attrs``);
    ``cls`` itself when it has the mixin and there is nothing to set."""
    if issubclass(cls, InputRulesMixin) and not attrs:
        return cls
    bases = (cls,) if issubclass(cls, InputRulesMixin) else (InputRulesMixin, cls)
    return type(cls.__name__, bases, {"__module__": cls.__module__, "__doc__": cls.__doc__, **attrs})
