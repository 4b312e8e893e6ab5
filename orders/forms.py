from __future__ import annotations

import copy
from decimal import Decimal

from django import forms

from procurement.errors import DomainError
from procurement.forms import IntegerField, NumberField, TextField
from procurement.money import CURRENCY_CHOICES, MAX_NUMBER_LENGTH
from procurement.validators import ID_MAX, business_date, no_markup, parse_integer

from .models import ProposalLine
from .services.drafts import LineInput
from .services.fulfilment import ReceiptLineInput
from .services.listings import LISTING_FIELDS, ListingValues
from .services.negotiation import AddedLineInput, ProposalHeader, ProposalLineInput
from .units import UNIT_CHOICES, UNITS


class CodeField(forms.ChoiceField):
    """A code from a list (a unit, a currency) typed in any case; an unknown one is refused in
    ``unknown``'s words ("{}" is the code as typed)."""

    def __init__(self, *, upper: bool, unknown: str, **kwargs):
        super().__init__(**kwargs)
        self.upper, self.unknown = upper, unknown

    def to_python(self, value):
        text = super().to_python(value)
        return text.upper() if self.upper else text.lower()

    def validate(self, value):
        if value in self.empty_values:
            return super().validate(value)
        if not self.valid_value(value):
            raise forms.ValidationError(self.unknown.format(value), code="invalid_choice")


class ListingForm(forms.Form):
    """A listing: plain text, a known unit and currency, numbers read into Decimals; the service
    checks prices against the currency and quantities against the unit."""

    sku = forms.CharField(label="SKU", max_length=64, validators=[no_markup])
    name = forms.CharField(max_length=200, validators=[no_markup])
    description = TextField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}), validators=[no_markup]
    )
    unit = CodeField(
        label="Unit of measure",
        choices=UNIT_CHOICES,
        initial="ea",
        upper=False,
        unknown=f"“{{}}” is not a unit Tandem knows (use one of: {', '.join(UNITS)}).",
    )
    unit_price = NumberField(label="Unit price")
    currency = CodeField(
        choices=CURRENCY_CHOICES, required=False, upper=True, unknown="“{}” is not a currency Tandem knows."
    )
    min_order_qty = NumberField(label="Minimum order quantity", required=False, initial="1")
    is_active = forms.BooleanField(label="Active (customers can order it)", required=False, initial=True)

    def __init__(self, *args, supplier, **kwargs):
        """``supplier``: whose listing it is (a blank currency is its base currency)."""
        super().__init__(*args, **kwargs)
        self.supplier = supplier

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"] or self.supplier.base_currency

    def clean_min_order_qty(self) -> Decimal:
        value = self.cleaned_data["min_order_qty"]
        return Decimal(1) if value is None else value

    def listing_values(self, **others) -> ListingValues:
        """The listing as typed, with ``others`` (its price breaks, customer prices) besides;
        call after ``is_valid()``."""
        data = self.cleaned_data
        return ListingValues(**{name: data[name] for name in LISTING_FIELDS if name in data}, **others)


class ListingRowForm(ListingForm):
    """A row of the listing CSV import, read by the same fields and rules as the page's form:
    its columns ``active`` (yes or no) and ``price_breaks`` ("10=9.50; 50=9.00") besides."""

    TRUE = {"", "1", "true", "yes", "y", "active"}
    FALSE = {"0", "false", "no", "n", "inactive"}

    active = forms.CharField(required=False)
    price_breaks = forms.CharField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["is_active"]

    def clean_active(self) -> bool:
        typed = self.cleaned_data["active"]
        if typed.lower() not in self.TRUE | self.FALSE:
            raise forms.ValidationError(f"“{typed}” is not yes or no.")
        return typed.lower() not in self.FALSE

    def clean_price_breaks(self) -> list[tuple[Decimal, Decimal]]:
        pairs = []
        for part in self.cleaned_data["price_breaks"].replace("\n", ";").split(";"):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise forms.ValidationError(f"“{part}” is not “quantity=price”.")
            quantity, price = (NumberField(max_length=MAX_NUMBER_LENGTH).clean(p) for p in part.split("=", 1))
            if quantity is None or price is None:
                raise forms.ValidationError(f"“{part}” is not “quantity=price”.")
            pairs.append((quantity, price))
        return pairs

    def listing_values(self, *, has_breaks: bool) -> ListingValues:
        """The row as read (``has_breaks``: the file has the column); call after ``is_valid()``."""
        data = self.cleaned_data
        return super().listing_values(
            price_breaks=data["price_breaks"] if has_breaks else None, is_active=data["active"]
        )


class PriceBreakForm(forms.Form):
    min_quantity = NumberField(label="From quantity", required=False)
    unit_price = NumberField(label="Unit price", required=False)

    def clean(self):
        data = super().clean()
        if self.errors:  # a number that could not be read says so next to it, not "give both"
            return data
        if (data.get("min_quantity") is None) != (data.get("unit_price") is None):
            raise forms.ValidationError("Give both the quantity and its price, or neither.")
        return data


class CustomerPriceForm(forms.Form):
    customer = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    unit_price = NumberField(label="Unit price", required=False)

    def __init__(self, *args, customers, **kwargs):
        """``customers``: the supplier's connected customers, read once for every row.
        Tenant-filtered: any other organization's id is an invalid choice."""
        super().__init__(*args, **kwargs)
        self.customers = {c.pk: c for c in customers}
        self.fields["customer"].choices = [("", "(choose a customer)")] + [(c.pk, c.name) for c in customers]

    def clean_customer(self):
        pk = self.cleaned_data["customer"]
        return self.customers[pk] if pk is not None else None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if bool(data.get("customer")) != (data.get("unit_price") is not None):
            raise forms.ValidationError("Give both the customer and the price, or neither.")
        return data


PriceBreakFormSet = forms.formset_factory(PriceBreakForm, extra=3, max_num=20, validate_max=True)
CustomerPriceFormSet = forms.formset_factory(CustomerPriceForm, extra=2, max_num=50, validate_max=True)


class ListingImportForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8, comma-separated, with a header row.")

    def __init__(self, *args, max_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.max_bytes:
            raise forms.ValidationError(
                f"The file is larger than {self.max_bytes // (1024 * 1024)} MB. Split it and import the parts."
            )
        return upload


class ListingFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.SearchInput(attrs={"placeholder": "SKU, name or description"}),
    )
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "All"), ("active", "Active"), ("inactive", "Inactive")]
    )
    unit = forms.ChoiceField(label="Unit", required=False, choices=[("", "All units")] + UNIT_CHOICES)
    sort = forms.CharField(required=False, widget=forms.HiddenInput)


# ------------------------------------------------------------------------------ the pair

DATE = forms.DateInput(attrs={"type": "date"})


class OrderFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.SearchInput(attrs={"placeholder": "Number, SKU or item"}),
    )
    status = forms.ChoiceField(label="Status", required=False)
    counterparty = forms.TypedChoiceField(label="Supplier", required=False, coerce=int, empty_value=None)
    date_from = forms.DateField(label="From", required=False, widget=DATE)
    date_to = forms.DateField(label="To", required=False, widget=DATE)
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, statuses, counterparties, counterparty_label: str, receipt_statuses=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "All")] + list(statuses)
        if receipt_statuses:  # the purchase-order list filters by goods-received status too
            self.fields["received"] = forms.ChoiceField(
                label="Goods received", required=False, choices=[("", "All"), *receipt_statuses]
            )
        self.fields["counterparty"].choices = [("", "All"), *counterparties]  # (id, name) pairs
        self.fields["counterparty"].label = counterparty_label

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "“To” is before “From”.")
        return data


class PurchaseOrderForm(forms.Form):
    connection = forms.ModelChoiceField(
        label="Supplier",
        queryset=None,
        empty_label="Choose a supplier",  # asked, never guessed
        error_messages={"required": "Choose the supplier to order from."},
    )
    currency = forms.ChoiceField(
        label="Currency",
        choices=[("", "The supplier's terms")] + CURRENCY_CHOICES,
        required=False,
        help_text="Prices are in this currency; it can be changed while the order is a draft without lines.",
    )
    expected_delivery_date = forms.DateField(
        label="Delivery wanted by", required=False, widget=DATE, validators=[business_date]
    )
    valid_until = forms.DateField(
        label="Supplier must accept by", required=False, widget=DATE, validators=[business_date]
    )
    ship_to = forms.ModelChoiceField(label="Ship to", queryset=None, required=False, empty_label="(no address)")
    note_to_supplier = TextField(
        label="Note to the supplier",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[no_markup],
    )

    def __init__(self, *args, connections, locations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connection"].queryset = connections  # tenant-filtered: only active suppliers
        self.fields["connection"].label_from_instance = lambda c: f"{c.supplier.name} ({c.currency_display})"
        self.fields["ship_to"].queryset = locations


class DraftHeaderForm(PurchaseOrderForm):
    def __init__(self, *args, locked_currency: str | None = None, **kwargs):
        """``locked_currency``: the draft's currency once it has lines (their prices are in
        it): the select shows it disabled, and whatever is posted for it is ignored."""
        super().__init__(*args, **kwargs)
        del self.fields["connection"]
        currency = self.fields["currency"]
        currency.choices = CURRENCY_CHOICES
        currency.required = True
        if locked_currency:
            currency.disabled = True
            self.initial["currency"] = locked_currency
            currency.help_text = f"The lines' prices are in {locked_currency}: remove them to change it."

    def clean(self):
        data = super().clean()
        if self.fields["currency"].disabled:
            data.pop("currency", None)  # not a change the service is asked for
        return data


class LineForm(forms.Form):
    """A line of a draft: a listing of the supplier (a tenant-filtered queryset) or a custom
    item, read into a ``LineInput``; the service checks it against the order."""

    listing = IntegerField(required=False, min_value=1, max_value=ID_MAX, widget=forms.HiddenInput)
    sku = forms.CharField(label="SKU", required=False, max_length=64, validators=[no_markup])
    description = forms.CharField(label="Item", required=False, max_length=500, validators=[no_markup])
    quantity = NumberField(label="Quantity")
    unit = forms.ChoiceField(label="Unit", choices=UNIT_CHOICES, initial="ea", required=False)
    unit_price = NumberField(label="Unit price", required=False)
    tax_rate = NumberField(label="Tax %", required=False, max_length=8, initial="0")
    cost_center = forms.ModelChoiceField(label="Cost center", queryset=None)
    gl_account = forms.ModelChoiceField(label="GL account", queryset=None, required=False)
    fund = forms.CharField(required=False, max_length=60, validators=[no_markup])
    department = forms.CharField(required=False, max_length=60, validators=[no_markup])
    program = forms.CharField(required=False, max_length=60, validators=[no_markup])
    requested_date = forms.DateField(label="Wanted by", required=False, widget=DATE, validators=[business_date])

    def __init__(self, *args, listings, cost_centers, gl_accounts, **kwargs):
        """``listings``: the queryset a listing may be chosen from (the supplier's orderable
        ones); a posted id outside it is a validation error, never a silent link."""
        super().__init__(*args, **kwargs)
        self.listings = listings
        self.fields["cost_center"].queryset = cost_centers
        self.fields["gl_account"].queryset = gl_accounts
        for name in ("description", "unit", "unit_price"):  # needed for a custom item, not for a listing
            self.fields[name].conditional = "for a custom item"

    def clean_listing(self):
        pk = self.cleaned_data["listing"]
        if pk is None:
            return None
        listing = self.listings.filter(pk=pk).first()
        if listing is None:
            raise forms.ValidationError("Choose one of the supplier's active listings.")
        return listing

    def line_input(self) -> LineInput:
        """The line as typed; call after ``is_valid()``. A listing's price is the supplier's: a
        price left in the custom item's field is not the line's (the page says so)."""
        data = self.cleaned_data
        return LineInput(
            listing=data["listing"],
            sku=data["sku"],
            description=data["description"],
            quantity=data["quantity"],
            unit=data["unit"],
            unit_price=None if data["listing"] else data["unit_price"],
            tax_rate=Decimal(0) if data["tax_rate"] is None else data["tax_rate"],
            cost_center=data["cost_center"],
            gl_account=data["gl_account"],
            fund=data["fund"],
            department=data["department"],
            program=data["program"],
            requested_date=data["requested_date"],
        )


class LinePreviewForm(forms.Form):
    """The query of the line preview (htmx): what has been typed so far. A value that cannot be
    read (a listing id that is not a whole number, a NUL byte …) is "no line yet", never a query."""

    listing = IntegerField(required=False, min_value=1, max_value=ID_MAX)
    quantity = NumberField(required=False)
    unit_price = NumberField(required=False)
    tax_rate = NumberField(required=False, max_length=8)
    unit = forms.ChoiceField(choices=UNIT_CHOICES, required=False)


class ListingPickerForm(forms.Form):
    """The query of the listing picker (htmx): a search and the listing chosen so far."""

    q = forms.CharField(required=False, max_length=100)
    listing = IntegerField(required=False, min_value=1, max_value=ID_MAX)


class AddedRowsForm(forms.Form):
    """How many rows of added lines the supplier's proposal form posts (its hidden ``add-count``):
    at most ``MAX_ADDED`` lines, and the two empty rows the page always offers beside them."""

    MAX_ADDED = 50

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["add-count"] = IntegerField(required=False, min_value=0, max_value=self.MAX_ADDED + 2)

    def count(self) -> int:
        """The rows to read (2, the form's default, when none is given); call after is_valid()."""
        value = self.cleaned_data.get("add-count")
        return 2 if value is None else value


class ReasonForm(forms.Form):
    reason = TextField(
        label="Reason", max_length=1000, widget=forms.Textarea(attrs={"rows": 3}), validators=[no_markup]
    )


class NoteForm(forms.Form):
    note = TextField(
        label="What should change?", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), validators=[no_markup]
    )


class MessageForm(forms.Form):
    body = TextField(label="Message", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), validators=[no_markup])


class ProposalHeaderForm(forms.Form):
    accept_by = forms.DateField(label="Please confirm by", required=False, widget=DATE, validators=[business_date])
    confirm_ship_by = forms.DateField(label="Ships by", required=False, widget=DATE, validators=[business_date])
    invoice_due_date = forms.DateField(label="Invoice due", required=False, widget=DATE, validators=[business_date])
    tax_rate = NumberField(label="Tax % for every line", required=False, max_length=8)
    discount = NumberField(label="Discount (amount)", required=False)
    payment_terms_days = forms.CharField(  # the clean method reads it (and says why not in its words)
        label="Payment terms (days)", required=False, widget=forms.TextInput(attrs={"maxlength": "4"})
    )
    supplier_contact = forms.CharField(label="Your contact", required=False, max_length=200, validators=[no_markup])
    ship_to_address = TextField(
        label="Ship-to address",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[no_markup],
    )
    note = TextField(
        label="Note to the customer",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[no_markup],
    )

    def clean_payment_terms_days(self) -> int | None:
        raw = self.cleaned_data["payment_terms_days"]
        if raw == "":
            return None
        days = parse_integer(raw, minimum=0, maximum=365)  # ASCII digits: not "٥", "+5" or "1_0"
        if days is None:
            raise forms.ValidationError("Payment terms are a number of days from 0 to 365.")
        return days

    def header(self) -> ProposalHeader:
        """The header as typed; call after ``is_valid()``."""
        return ProposalHeader(**self.cleaned_data)


class ProposalLineForm(forms.Form):
    """What the supplier does with one line of the order (prefix ``line-<id>``)."""

    action = forms.ChoiceField(
        choices=[("", "—"), *ProposalLine.Action.choices[:4]],
        required=False,
        error_messages={"invalid_choice": "Choose what to do with the line."},
    )
    quantity = NumberField(required=False)
    unit_price = NumberField(required=False)
    promised_date = forms.DateField(required=False, validators=[business_date])
    backorder_quantity = NumberField(required=False)
    backorder_date = forms.DateField(required=False, validators=[business_date])
    reject_reason = forms.CharField(required=False, max_length=500, validators=[no_markup])

    def line_input(self) -> ProposalLineInput:
        return ProposalLineInput(**{**self.cleaned_data, "action": self.cleaned_data["action"] or "accept"})


class AddedLineForm(forms.Form):
    """A line the supplier adds (prefix ``add-<n>``); a row left blank adds nothing."""

    sku = forms.CharField(required=False, max_length=64, validators=[no_markup])
    description = forms.CharField(required=False, max_length=500, validators=[no_markup])
    quantity = NumberField(required=False)
    unit = forms.ChoiceField(
        choices=[("", "—"), *UNIT_CHOICES],
        required=False,
        error_messages={"invalid_choice": "Choose a unit of measure."},
    )
    unit_price = NumberField(required=False)
    promised_date = forms.DateField(required=False, validators=[business_date])

    def is_blank(self) -> bool:
        """Nothing typed in the description, quantity or price (the unit has a default)."""
        return not any((self[name].value() or "").strip() for name in ("description", "quantity", "unit_price"))

    def line_input(self) -> AddedLineInput:
        return AddedLineInput(**self.cleaned_data)


class AccountingCodeForm(forms.Form):
    code = forms.CharField(max_length=30, validators=[no_markup])
    name = forms.CharField(max_length=120, validators=[no_markup])


# ------------------------------------------------------------------------------ fulfilment


class ShipmentForm(forms.Form):
    """The header of *Record shipment*; the quantity per line is read beside it."""

    shipped_on = forms.DateField(label="Shipped on", widget=DATE, validators=[business_date])
    carrier = forms.CharField(label="Carrier", required=False, max_length=100, validators=[no_markup])
    tracking_number = forms.CharField(label="Tracking number", required=False, max_length=100, validators=[no_markup])
    note = TextField(
        label="Note to the customer",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[no_markup],
    )


class LineRowsForm(forms.Form):
    """Inputs per line of the order (``line-<id>`` or ``line-<id>-<name>``), beside a header
    form: the rows of *Record shipment*, *Record receipt* and *Amend order*."""

    ROW_FIELDS: dict[str, forms.Field] = {}  # each subclass: the inputs of one line, by name

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        for line in self.lines:
            for name, field in self.ROW_FIELDS.items():
                self.fields[self.input_name(line.pk, name)] = copy.deepcopy(field)

    @staticmethod
    def input_name(pk: int, name: str) -> str:
        return f"line-{pk}-{name}"

    def typed(self) -> dict[int, dict]:
        """What was typed on each line, to show it again."""
        names = self.ROW_FIELDS
        return {
            line.pk: {name: self[self.input_name(line.pk, name)].value() or "" for name in names} for line in self.lines
        }

    def row(self, pk: int) -> dict:
        """A line's values; call after ``is_valid()``."""
        return {name: self.cleaned_data[self.input_name(pk, name)] for name in self.ROW_FIELDS}

    def refusal(self) -> tuple[DomainError, str]:
        """The first input that could not be read: the refusal naming its line, and the input."""
        positions = {self.input_name(line.pk, name): line.position for line in self.lines for name in self.ROW_FIELDS}
        name, errors = next(iter(self.errors.items()))
        return DomainError(f"Line {positions[name]}: {errors[0]}"), name


class ShipmentLinesForm(LineRowsForm):
    """The quantity shipped now of each line (``line-<id>``); blank ships none of it."""

    ROW_FIELDS = {"quantity": NumberField(required=False)}

    @staticmethod
    def input_name(pk: int, name: str) -> str:
        return f"line-{pk}"

    def quantities(self) -> dict[int, Decimal | None]:
        return {line.pk: self.row(line.pk)["quantity"] for line in self.lines}


class ReceiptLinesForm(LineRowsForm):
    """What arrived of each line: ``line-<id>-quantity``, ``-damaged`` and ``-reason``."""

    ROW_FIELDS = {
        "quantity": NumberField(required=False),
        "damaged": NumberField(required=False),
        "reason": forms.CharField(required=False, max_length=500, validators=[no_markup]),
    }

    def received(self) -> dict[int, ReceiptLineInput]:
        return {line.pk: ReceiptLineInput(**self.row(line.pk)) for line in self.lines}


class AmendmentLinesForm(LineRowsForm):
    """*Amend order*: a new quantity (``line-<id>-quantity``) or ``line-<id>-cancel`` per line."""

    ROW_FIELDS = {"quantity": NumberField(required=False), "cancel": forms.BooleanField(required=False)}

    def quantities(self) -> dict[int, Decimal | None]:
        return {line.pk: self.row(line.pk)["quantity"] for line in self.lines}

    def cancel(self) -> set[int]:
        return {line.pk for line in self.lines if self.row(line.pk)["cancel"]}


class ReceiptForm(forms.Form):
    """The header of *Record receipt*; the quantities per line are read beside it."""

    received_on = forms.DateField(label="Received on", widget=DATE, validators=[business_date])
    note = TextField(
        label="Note", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), validators=[no_markup]
    )

    def __init__(self, *args, supplier: str, **kwargs):
        """``supplier``: whose goods they are (the note's label names them). Set here, before the
        form is bound to its fields: a label changed later is lost once the form is validated."""
        super().__init__(*args, **kwargs)
        self.fields["note"].label = f"Note to {supplier} (they see it with the receipt)"
