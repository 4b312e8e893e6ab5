from django.contrib import admin

from accounts.admin_scoping import OrganizationScopedAdmin

from .models import (
    CostCenter,
    CustomerPrice,
    GLAccount,
    Listing,
    PriceBreak,
    PurchaseOrder,
    PurchaseOrderLine,
    ReturnLine,
    ReturnRequest,
    SalesOrder,
)


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


@admin.register(GLAccount, CostCenter)
class AccountingCodeAdmin(OrganizationScopedAdmin):
    """Organization admins keep their own chart of accounts and cost centers here too."""

    list_display = ["code", "name", "organization", "is_active"]
    list_filter = ["is_active"]
    list_select_related = ["organization"]
    search_fields = ["code", "name", "organization__name"]


class PurchaseOrderLineInline(admin.TabularInline):
    model = PurchaseOrderLine
    extra = 0
    can_delete = False
    fields = ["position", "sku", "description", "quantity", "unit", "unit_price", "line_total", "status"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin):
    """Read-only: orders change only through the services (the pages)."""

    list_display = ["number", "customer", "supplier", "status", "total", "currency", "created_at"]
    list_filter = ["status"]
    list_select_related = ["customer", "supplier"]
    search_fields = ["number", "customer__name", "supplier__name"]
    inlines = [PurchaseOrderLineInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SalesOrder)
class SalesOrderAdmin(admin.ModelAdmin):
    list_display = ["number", "supplier", "customer", "status", "created_at"]
    list_filter = ["status"]
    list_select_related = ["customer", "supplier"]
    search_fields = ["number", "customer__name", "supplier__name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReturnLineInline(admin.TabularInline):
    model = ReturnLine
    extra = 0
    can_delete = False
    fields = ["po_line", "quantity", "quantity_received_back", "condition", "quantity_credited", "quantity_to_replace"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ReturnRequest)
class ReturnRequestAdmin(admin.ModelAdmin):
    """Read-only: returns change only through the services (the order pages' Returns tab)."""

    list_display = ["__str__", "purchase_order", "customer", "supplier", "status", "resolution", "created_at"]
    list_filter = ["status", "resolution", "reason"]
    list_select_related = ["purchase_order", "customer", "supplier"]
    search_fields = ["rma_number", "purchase_order__number", "customer__name", "supplier__name"]
    inlines = [ReturnLineInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
