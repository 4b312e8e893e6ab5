"""Django admin: people, organizations, connections and the outbox for platform superusers;
an organization's admins see their own organization here for its numbering (document
prefixes and the sequences' last numbers), scoped like every other tenant row (see
``accounts.admin_scoping``)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .admin_scoping import OrganizationScopedAdmin, ScopedInlineMixin
from .models import (
    Connection,
    ConnectionEvent,
    DocumentSequence,
    EmailSuppression,
    Location,
    MemberInvitation,
    Membership,
    Organization,
    OutboundEmail,
    SupplierTolerance,
    TolerancePolicy,
    User,
)
from .suppressions import lift_email_suppression


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "last_login"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "full_name"]}),
        ("Platform", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "full_name", "password1", "password2"]})]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


class SequenceInline(ScopedInlineMixin, admin.TabularInline):
    model = DocumentSequence
    extra = 0
    readonly_fields = ["kind", "last_value"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class LocationInline(admin.TabularInline):
    model = Location
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin):
    organization_lookup = "pk"
    list_display = ["name", "slug", "base_currency", "buys", "sells", "created_at"]
    list_filter = ["buys", "sells", "base_currency"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline, LocationInline, SequenceInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "base_currency", "buys", "sells", "notification_email"]}),
        (
            "Address",
            {"fields": ["address_line1", "address_line2", "postal_code", "city", "region", "country"]},
        ),
        (
            "Numbering",
            {
                "fields": [
                    "po_prefix",
                    "so_prefix",
                    "invoice_prefix",
                    "bill_prefix",
                    "rma_prefix",
                    "credit_note_prefix",
                    "debit_note_prefix",
                ]
            },
        ),
    ]

    def view_on_site(self, obj):
        return obj.get_absolute_url()  # straight to the organization's home, not the admin's redirect

    # An organization's admins change its numbering here; the rest in the application's Settings.
    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return self.fieldsets
        return [(None, {"fields": ["name"]}), self.fieldsets[-1]]

    def get_readonly_fields(self, request, obj=None):
        return [] if request.user.is_superuser else ["name"]

    def get_inlines(self, request, obj):
        return self.inlines if request.user.is_superuser else [SequenceInline]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "roles"]
    list_select_related = ["user", "organization"]
    search_fields = ["user__email", "organization__name"]
    raw_id_fields = ["user", "organization"]


class ConnectionEventInline(admin.TabularInline):
    model = ConnectionEvent
    extra = 0
    readonly_fields = ["kind", "actor", "organization", "detail", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    """Status changes only through the services (the web pages): the admin shows them."""

    list_display = ["customer", "supplier", "invite_email", "status", "invited_at"]
    list_filter = ["status"]
    list_select_related = ["customer", "supplier"]
    search_fields = ["customer__name", "supplier__name", "invite_email"]
    readonly_fields = [
        "customer",
        "supplier",
        "status",
        "invite_email",
        "invited_by",
        "invited_at",
        "accepted_at",
        "suspended_by",
    ]
    fields = readonly_fields + ["currency", "payment_terms_days", "ship_to"]
    inlines = [ConnectionEventInline]

    def has_add_permission(self, request):
        return False


@admin.register(MemberInvitation)
class MemberInvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organization", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_select_related = ["organization"]
    readonly_fields = [
        "organization",
        "email",
        "roles",
        "invited_by",
        "created_at",
        "accepted_at",
        "accepted_by",
    ]
    exclude = ["token_hash"]

    def has_add_permission(self, request):
        return False


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = ["subject", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status"]
    search_fields = ["subject", "key"]
    readonly_fields = [f.name for f in OutboundEmail._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(EmailSuppression)
class EmailSuppressionAdmin(admin.ModelAdmin):
    """Addresses the ESP reported (bounce, complaint): platform superusers read them and lift one
    when its owner has fixed the mailbox; rows are written only by the webhook's service."""

    list_display = ["address", "reason", "description", "provider", "first_seen_at", "last_seen_at"]
    list_filter = ["reason", "provider"]
    search_fields = ["address"]
    readonly_fields = [f.name for f in EmailSuppression._meta.fields]
    actions = ["lift"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_lift_permission(self, request):
        return request.user.is_superuser

    @admin.action(description="Lift: send to these addresses again", permissions=["lift"])
    def lift(self, request, queryset):
        for suppression in queryset:
            lift_email_suppression(suppression=suppression, by=request.user)
        self.message_user(request, f"{len(queryset)} address(es) will be sent e-mail again.")


class _ReadOnlyRecordAdmin(admin.ModelAdmin):
    """Tolerances are changed by the organization's admins on its Tolerances page (a service
    checks them and keeps the record of overrides); platform staff read them here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TolerancePolicy)
class TolerancePolicyAdmin(_ReadOnlyRecordAdmin):
    list_display = ["organization", *TolerancePolicy.FIELDS, "updated_by", "updated_at"]
    search_fields = ["organization__name"]


@admin.register(SupplierTolerance)
class SupplierToleranceAdmin(_ReadOnlyRecordAdmin):
    list_display = ["organization", "supplier", *SupplierTolerance.FIELDS, "reason", "set_at", "ended_at"]
    list_filter = ["ended_at"]
    search_fields = ["organization__name", "supplier__name"]
