"""Input validation of the billing pages; the services decide what is allowed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.utils import timezone

from orders.units import UNIT_CHOICES
from procurement.errors import DomainError
from procurement.forms import NumberField, TextField
from procurement.money import CURRENCY_CHOICES
from procurement.validators import business_date, no_markup, parse_integer

from .models import Payment
from .services.bills import BillLineInput

DATE = forms.DateInput(attrs={"type": "date"})
AMOUNT = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})


class SupplierSelect(forms.Select):
    """The suppliers, each option with the currency it trades in (``data-currency``: the
    connection's currency); ``static/js/tandem.js`` sets the currency input to it when the
    supplier changes, unless the person chose a currency themselves."""

    def __init__(self, *args, currencies: dict[int, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.currencies = currencies or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        currency = self.currencies.get(value)
        if currency:
            option["attrs"]["data-currency"] = currency
        return option


class BillForm(forms.Form):
    """The header of a bill entered by hand; its lines are read beside it. Given the
    connections' currencies (``currencies``: supplier id → currency), the supplier's input
    tells the page which currency each supplier trades in."""

    supplier = forms.TypedChoiceField(label="Supplier", coerce=int)
    supplier_reference = forms.CharField(
        label="Supplier's invoice number", required=False, max_length=60, validators=[no_markup]
    )
    currency = forms.ChoiceField(label="Currency", choices=CURRENCY_CHOICES)
    bill_date = forms.DateField(label="Bill date", widget=DATE, validators=[business_date])
    due_date = forms.DateField(label="Due date", widget=DATE, validators=[business_date])
    location = forms.TypedChoiceField(label="Location", coerce=int, required=False, empty_value=None)
    reference_number = forms.CharField(label="Reference number", required=False, max_length=60, validators=[no_markup])
    notes = TextField(
        label="Notes", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), validators=[no_markup]
    )

    def __init__(self, *args, suppliers, locations, currencies: dict[int, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["supplier"].widget = SupplierSelect(
            currencies=currencies, attrs={"data-currency-target": self["currency"].auto_id}
        )
        self.fields["supplier"].choices = [("", "Choose a supplier"), *suppliers]
        self.fields["location"].choices = [("", "No location"), *locations]


def posted_date(text: str) -> date | None:
    """A date posted where no input offers one (a locked bill's date): read as the date
    inputs read it, None when it is no date (the service refuses it either way)."""
    try:
        return forms.DateField(required=False).clean(text)
    except forms.ValidationError:
        return None


class BillLinesForm(forms.Form):
    """The lines of a bill entered by hand: ``rows`` rows of inputs ``line-<n>-<name>``; a row
    with no description, quantity or price is left out."""

    MAX_ROWS = 100
    NAMES = ("sku", "description", "quantity", "unit", "unit_price", "tax_rate")

    def __init__(self, data=None, *, rows: int, **kwargs):
        super().__init__(data, **kwargs)
        self.count = rows
        for n in range(rows):
            self.fields[f"line-{n}-sku"] = forms.CharField(required=False, max_length=64, validators=[no_markup])
            self.fields[f"line-{n}-description"] = forms.CharField(
                required=False, max_length=500, validators=[no_markup]
            )
            self.fields[f"line-{n}-quantity"] = NumberField(required=False)
            self.fields[f"line-{n}-unit"] = forms.ChoiceField(
                required=False, choices=[("", "—"), *UNIT_CHOICES], error_messages={"invalid_choice": "Choose a unit."}
            )
            self.fields[f"line-{n}-unit_price"] = NumberField(required=False)
            self.fields[f"line-{n}-tax_rate"] = NumberField(required=False, max_length=8)

    @classmethod
    def posted(cls, data) -> BillLinesForm:
        """The form of the rows a page posted (its hidden ``rows``: at most ``MAX_ROWS``)."""
        return cls(data, rows=min(parse_integer(data.get("rows"), minimum=0) or 0, cls.MAX_ROWS))

    def typed(self) -> list[dict]:
        """What was typed in each row, to show it again."""
        return [{name: self[f"line-{n}-{name}"].value() or "" for name in self.NAMES} for n in range(self.count)]

    def _filled(self) -> list[int]:
        return [
            n
            for n in range(self.count)
            if any(
                (self[f"line-{n}-{name}"].value() or "").strip() for name in ("description", "quantity", "unit_price")
            )
        ]

    def lines(self) -> list[BillLineInput]:
        """The rows filled in, as lines; call after ``is_valid()``."""
        data = self.cleaned_data
        return [
            BillLineInput(
                sku=data[f"line-{n}-sku"],
                description=data[f"line-{n}-description"],
                quantity=data[f"line-{n}-quantity"],
                unit=data[f"line-{n}-unit"] or "ea",
                unit_price=data[f"line-{n}-unit_price"],
                tax_rate=data[f"line-{n}-tax_rate"] if data[f"line-{n}-tax_rate"] is not None else Decimal(0),
            )
            for n in self._filled()
        ]

    def input_name(self, line: int, field: str) -> str:
        """The input of ``field`` of the ``line``-th line given to the service."""
        filled = self._filled()
        return f"line-{filled[line] if line < len(filled) else 0}-{field}"

    def refusal(self) -> tuple[DomainError, str]:
        """The first input that could not be read: the refusal, and the input to mark."""
        name, errors = next(iter(self.errors.items()))
        return DomainError(errors[0]), name


class BillEditForm(forms.Form):
    """What stays open on a bill made from an order (the PO lock): due date, reference, notes."""

    due_date = forms.DateField(label="Due date", widget=DATE, validators=[business_date])
    reference_number = forms.CharField(label="Reference number", required=False, max_length=60, validators=[no_markup])
    notes = TextField(
        label="Notes", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), validators=[no_markup]
    )


class PaymentForm(forms.Form):
    amount = NumberField(label="Amount", widget=AMOUNT)
    paid_on = forms.DateField(label="Paid on", widget=DATE, validators=[business_date])
    method = forms.ChoiceField(label="Method", choices=[("", "Choose"), *Payment.Method.choices])
    reference = forms.CharField(
        label="Reference",
        required=False,
        max_length=100,
        validators=[no_markup],
        help_text="The bank's transaction reference, the cheque number…",
    )
    attachment = forms.FileField(
        label="Proof of payment",
        required=False,
        help_text="A PDF, PNG or JPEG of at most 10 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("paid_on", timezone.localdate())
        super().__init__(*args, **kwargs)


class VerifyForm(forms.Form):
    amount_received = NumberField(
        label="Amount actually received",
        widget=AMOUNT,
        help_text="Less than was paid if bank charges or a short transfer took some.",
    )


class DisputeForm(forms.Form):
    reason = TextField(
        label="What is wrong with it?",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[no_markup],
    )


class MatchForm(forms.Form):
    po = forms.TypedChoiceField(label="Purchase order", coerce=int)
    amount = NumberField(label="Amount to match", widget=AMOUNT)

    def __init__(self, *args, orders, **kwargs):
        kwargs.setdefault("auto_id", "id_match_%s")  # beside the payment form's "amount" on the bill's page
        super().__init__(*args, **kwargs)
        self.fields["po"].choices = [("", "Choose an order"), *orders]


class FxReportForm(forms.Form):
    """The FX report's filters: a period (this year to date unless given) and a supplier."""

    date_from = forms.DateField(label="From", required=False, widget=DATE)
    date_to = forms.DateField(label="To", required=False, widget=DATE)
    supplier = forms.TypedChoiceField(label="Supplier", required=False, coerce=int, empty_value=None)

    def __init__(self, *args, suppliers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["supplier"].choices = [("", "All suppliers"), *suppliers]  # (id, name): the customer's own

    @staticmethod
    def defaults() -> dict:
        today = timezone.localdate()
        return {"date_from": today.replace(month=1, day=1), "date_to": today}

    def clean(self):
        data = super().clean()
        for name, value in self.defaults().items():
            if name not in self.errors and not data.get(name):
                data[name] = value
        if "date_from" not in self.errors and "date_to" not in self.errors and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "“To” is before “From”.")
        return data
