"""Exchange rates in the Django admin, for each organization's admins (scoped: see
``accounts.admin_scoping``): the table per day and pair, edited row by row or imported from a CSV
file (*Import CSV* on the list, ``billing.fx.import_exchange_rates``)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from accounts.admin_scoping import OrganizationScopedAdmin, scoped_choices
from accounts.models import ExchangeRate, Organization
from procurement.money import format_rate

from . import fx


class PairFilter(admin.SimpleListFilter):
    """The currency pairs of the rates the person may see."""

    title = "currency pair"
    parameter_name = "pair"

    def lookups(self, request, model_admin):
        pairs = model_admin.get_queryset(request).order_by().values_list("from_currency", "to_currency").distinct()
        return [(f"{a}-{b}", f"{a} → {b}") for a, b in sorted(pairs)]

    def queryset(self, request, queryset):
        if self.value():
            from_currency, _, to_currency = self.value().partition("-")
            return queryset.filter(from_currency=from_currency, to_currency=to_currency)
        return queryset


class RateImportForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.none(), empty_label=None)
    file = forms.FileField(
        label="CSV file",
        help_text=(
            "A header “date,from,to,rate”, then one rate a row: an ISO date (2026-11-12), two ISO currency "
            "codes, and the units of “to” for one “from”, with a point for decimals (1.0845). "
            f"At most {fx.MAX_IMPORT_ROWS:,} rows and {fx.MAX_IMPORT_BYTES // (1024 * 1024)} MB. "
            "A rate of a pair and day that exists is updated; if any row is wrong, nothing is imported."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > fx.MAX_IMPORT_BYTES:
            raise forms.ValidationError(f"At most {fx.MAX_IMPORT_BYTES // (1024 * 1024)} MB: split the file.")
        return upload


@admin.register(ExchangeRate)
class ExchangeRateAdmin(OrganizationScopedAdmin):
    list_display = ["day", "pair", "rate_display", "organization", "updated_by", "updated_at"]
    list_select_related = ["organization", "updated_by"]
    list_filter = [PairFilter, ("organization", admin.RelatedOnlyFieldListFilter)]
    date_hierarchy = "day"
    search_fields = ["from_currency", "to_currency", "organization__name"]
    fields = ["organization", "day", ("from_currency", "to_currency"), "rate", "updated_by", "created_at", "updated_at"]
    readonly_fields = ["updated_by", "created_at", "updated_at"]

    @admin.display(description="pair", ordering="from_currency")
    def pair(self, rate: ExchangeRate) -> str:
        return f"{rate.from_currency} → {rate.to_currency}"

    @admin.display(description="rate", ordering="rate")
    def rate_display(self, rate: ExchangeRate) -> str:
        return format_rate(rate.rate)

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
        recorded = fx.record_missing_fx(organization=obj.organization, since=obj.day)
        if recorded:
            messages.info(request, f"{recorded} FX figure{'s' if recorded != 1 else ''} of bills recorded with it.")

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_import"
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name=name),
            *super().get_urls(),
        ]

    def import_view(self, request):
        """*Import CSV*: an organization the person administers and a file; every bad row is
        listed and nothing is written, or every row is."""
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        organizations = scoped_choices(Organization, request)
        if organizations is None:  # platform superusers
            organizations = Organization.objects.all()
        form = RateImportForm(request.POST or None, request.FILES or None, organizations=organizations)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            try:
                result = fx.import_exchange_rates(
                    organization=form.cleaned_data["organization"],
                    data=form.cleaned_data["file"].read(fx.MAX_IMPORT_BYTES + 1),
                    by=request.user,
                )
            except fx.RateImportError as exc:
                errors = exc.errors
            else:
                messages.success(request, result.summary)
                return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import exchange rates",
            "form": form,
            "errors": errors,
        }
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(request, "admin/accounts/exchangerate/import.html", context, status=status)
