from django.contrib import admin

from .models import CustomerPrice, Listing, PriceBreak


class PriceBreakInline(admin.TabularInline):
    model = PriceBreak
    extra = 0


class CustomerPriceInline(admin.TabularInline):
    model = CustomerPrice
    extra = 0
    raw_id_fields = ["customer"]


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "supplier", "unit_price", "currency", "unit", "is_active"]
    list_filter = ["is_active", "currency", "unit"]
    list_select_related = ["supplier"]
    search_fields = ["sku", "name", "supplier__name"]
    raw_id_fields = ["supplier"]
    inlines = [PriceBreakInline, CustomerPriceInline]
