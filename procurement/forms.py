"""Helpers shared by the forms of every app, and the input rules every form applies: text is
plain (``no_markup``), numbers are ASCII digits within their column, business dates fall in
a sensible window (``procurement.validators``)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations

from procurement.errors import DomainError
from procurement.money import MoneyError, parse_decimal
from procurement.validators import DECIMAL_TEXT, INTEGER_MAX, INTEGER_MIN, business_date, no_markup, normalize_text

NUMBER_MESSAGE = "Enter a number with the digits 0–9 and a point for decimals, e.g. 1234.50."


def add_domain_error(form: forms.BaseForm, error: DomainError) -> None:
    """Show a service's refusal next to the field it is about (or above the form)."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


def _ascii_number(value, pattern) -> None:
    if value in forms.Field.empty_values or isinstance(value, (int, Decimal)):
        return
    if not pattern.match(str(value).strip()):
        raise ValidationError(NUMBER_MESSAGE, code="invalid")


class DecimalField(forms.DecimalField):
    """Django's DecimalField takes "+5", "٥" and "1e3"; this one only ASCII digits and a point."""

    def to_python(self, value):
        _ascii_number(value, DECIMAL_TEXT)
        return super().to_python(value)


class IntegerField(forms.IntegerField):
    """Whole numbers of ASCII digits, within the database's integer range unless told otherwise."""

    def __init__(self, *, min_value=INTEGER_MIN, max_value=INTEGER_MAX, **kwargs):
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)

    def to_python(self, value):
        _ascii_number(value, DECIMAL_TEXT)  # "5.0" is still five, as Django reads it
        return super().to_python(value)


class NumberField(forms.Field):
    """A number a person types (a quantity, a price, a tax rate), read into a ``Decimal`` by
    ``procurement.money.parse_decimal``: ASCII digits and a point, an optional "-", nothing else
    ("+5", "٥", "1e3", "1,50" and "NaN" are refused in its words). Blank is None. Whether the
    number fits its use (a currency's decimals, a unit's, a range) is the service's rule."""

    default_error_messages = {"null_characters_not_allowed": "Null characters are not allowed."}

    def __init__(self, *, max_length: int = 30, **kwargs):
        self.max_length = max_length
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        return {**super().widget_attrs(widget), "maxlength": str(self.max_length)}

    def to_python(self, value):
        if isinstance(value, Decimal):
            return value
        text = "" if value in self.empty_values else str(value).strip()
        if not text:
            return None
        if "\x00" in text:
            raise ValidationError(self.error_messages["null_characters_not_allowed"], code="null_characters")
        if len(text) > self.max_length:
            raise ValidationError(
                f"Ensure this value has at most {self.max_length} characters (it has {len(text)}).", code="max_length"
            )
        try:
            return parse_decimal(text)
        except MoneyError as exc:
            raise ValidationError(str(exc), code="invalid") from None


class TextField(forms.CharField):
    """Text of several lines (a note, a reason, an address), read in one shape wherever it is
    typed (``normalize_text``: the CRLF a browser sends becomes LF, trailing spaces go), and
    plain (``no_markup``). Every multi-line input of every form is one of these."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 2}))
        super().__init__(**kwargs)
        if no_markup not in self.validators:
            self.validators.append(no_markup)

    def to_python(self, value):
        return normalize_text(super().to_python(value))


def with_input_rules(field: forms.Field) -> forms.Field:
    """Add the rules to a form field made elsewhere (a model form's, the admin's)."""
    if isinstance(field, forms.CharField) and not isinstance(field.widget, forms.PasswordInput):
        if no_markup not in field.validators:
            field.validators.append(no_markup)
    elif isinstance(field, forms.DateField) and business_date not in field.validators:
        field.validators.append(business_date)
    return field


def number_kwargs(db_field) -> dict:
    """The form field of a number column: ASCII digits, and for an integer the column's range
    as PostgreSQL has it (SQLite would store a 64-bit number in a "small" integer column);
    and of a text column, a ``TextField`` (its line ends normalized)."""
    if isinstance(db_field, models.DecimalField):
        return {"form_class": DecimalField}
    if isinstance(db_field, models.TextField) and not db_field.choices:
        return {"form_class": TextField}
    if isinstance(db_field, models.IntegerField) and not db_field.choices:
        low, high = BaseDatabaseOperations.integer_field_ranges[db_field.get_internal_type()]
        return {"form_class": IntegerField, "min_value": low, "max_value": high}
    return {}


def model_formfield(db_field, **kwargs) -> forms.Field | None:
    """The ``formfield_callback`` of every model form: Django's field with the input rules."""
    field = db_field.formfield(**{**number_kwargs(db_field), **kwargs})
    return with_input_rules(field) if field is not None else None


class ModelForm(forms.ModelForm):
    """A model form whose fields follow the input rules; its subclasses' ``Meta`` inherit
    ``ModelForm.Meta`` (that is where Django reads the callback)."""

    class Meta:
        formfield_callback = model_formfield
