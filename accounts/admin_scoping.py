"""The Django admin's scoping: platform superusers see everything; an organization's admins (the admin
role, see SPEC §2) come in to configure their own organizations — approval policies, spending
limits, budgets, cost centers, GL accounts and numbering — and see nothing of anyone else's.

``OrganizationScopedAdmin`` is the one mechanism: changelists, object URLs (another
organization's object answers 404), actions (they act on the scoped queryset), foreign-key
and many-to-many choices (an id of another organization posted by hand is "not one of the
available choices"), and the permissions to view, add, change and delete.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from procurement.admin_rules import InputRulesMixin

from .models import Membership, Organization, User
from .roles import Role


def administered(request) -> frozenset[int]:
    """The organizations in which the signed-in person holds the admin role (once per request)."""
    cached = getattr(request, "_administered_organizations", None)
    if cached is None:
        user = request.user
        if not user.is_authenticated or not user.is_active:
            cached = frozenset()
        else:
            cached = frozenset(
                org_id
                for org_id, roles in Membership.objects.filter(user=user).values_list("organization_id", "roles")
                if Role.ADMIN.value in roles
            )
        request._administered_organizations = cached
    return cached


def base_currency_of(request, obj=None) -> str | None:
    """The base currency a row's amounts are in: its organization's, or on an add page the one
    organization the signed-in person administers (None when that is not known yet)."""
    if obj is not None:
        return obj.organization.base_currency
    orgs = administered(request)
    if request.user.is_superuser or len(orgs) != 1:
        return None
    return Organization.objects.filter(pk__in=orgs).values_list("base_currency", flat=True).first()


def scoped_choices(model: type[Model], request, queryset: QuerySet | None = None) -> QuerySet | None:
    """The rows of ``model`` an organization admin may pick in a form (None: no restriction)."""
    if request.user.is_superuser:
        return None
    orgs = administered(request)
    queryset = queryset if queryset is not None else model._default_manager.all()
    if model is Organization:
        return queryset.filter(pk__in=orgs)
    if model is User:
        return queryset.filter(memberships__organization__in=orgs).distinct()
    if any(f.name == "organization" for f in model._meta.get_fields()):
        return queryset.filter(organization__in=orgs)
    return queryset.none()  # nothing of another kind is offered to a tenant's admin


class _Scoped(InputRulesMixin):
    """What scoped model admins and inlines share: permissions, form choices and input rules."""

    def _may(self, request, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        orgs = administered(request)
        return bool(orgs) and (obj is None or self.organization_of(obj) in orgs)

    def organization_of(self, obj) -> int:
        return obj.pk if isinstance(obj, Organization) else obj.organization_id

    def has_view_permission(self, request, obj=None):
        return self._may(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._may(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            choices = scoped_choices(db_field.related_model, request)
            if choices is not None:
                kwargs["queryset"] = choices
        if db_field.related_model is Organization and not db_field.null and len(administered(request)) == 1:
            kwargs.setdefault("empty_label", None)  # their one organization, chosen: no "---------" beside it
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            choices = scoped_choices(db_field.related_model, request)
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class OrganizationScopedAdmin(_Scoped, admin.ModelAdmin):
    """A model admin whose rows belong to one organization each (``organization_lookup``)."""

    organization_lookup = "organization"

    def has_module_permission(self, request):
        return self._may(request)

    def has_add_permission(self, request):
        return self._may(request)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.organization_lookup}__in": administered(request)})

    def get_object(self, request, object_id, from_field=None):
        """Another organization's object (or none) answers 404, not the admin's redirect."""
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object.")
        return obj

    def get_changeform_initial_data(self, request):
        """An admin of one organization finds it chosen already on an add page."""
        initial = super().get_changeform_initial_data(request)
        orgs = administered(request)
        if len(orgs) == 1 and self.organization_lookup == "organization":
            initial.setdefault("organization", next(iter(orgs)))
        return initial

    def save_model(self, request, obj, form, change):
        if not self._may(request, obj):  # the form's choices already keep to one's own
            raise PermissionDenied
        super().save_model(request, obj, form, change)


class ScopedInlineMixin(_Scoped):
    """For the inlines of a scoped admin (``obj`` is the parent object)."""

    def has_add_permission(self, request, obj=None):
        return self._may(request, obj)
