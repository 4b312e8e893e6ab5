from __future__ import annotations

from django import forms

from billing.money import CURRENCY_CHOICES

from .units import UNIT_CHOICES


class ListingForm(forms.Form):
    """Input only: the service checks prices against the currency and quantities against the unit."""

    sku = forms.CharField(label="SKU", max_length=64)
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    unit = forms.ChoiceField(label="Unit of measure", choices=UNIT_CHOICES, initial="ea")
    unit_price = forms.CharField(
        label="Unit price", max_length=30, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES)
    min_order_qty = forms.CharField(
        label="Minimum order quantity",
        max_length=30,
        initial="1",
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    is_active = forms.BooleanField(label="Active (customers can order it)", required=False, initial=True)


class PriceBreakForm(forms.Form):
    min_quantity = forms.CharField(
        label="From quantity",
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    unit_price = forms.CharField(
        label="Unit price",
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )

    def clean(self):
        data = super().clean()
        if bool(data.get("min_quantity")) != bool(data.get("unit_price")):
            raise forms.ValidationError("Give both the quantity and its price, or neither.")
        return data


class CustomerPriceForm(forms.Form):
    customer = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    unit_price = forms.CharField(
        label="Unit price",
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )

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
        if bool(data.get("customer")) != bool(data.get("unit_price")):
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
                f"The file is larger than {self.max_bytes // (1024 * 1024)} MB. "
                "Split it and import the parts."
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
