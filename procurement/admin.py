"""The Django admin: platform superusers see everything; an organization's admins (the admin
role, see SPEC §2) come in to configure their own organizations — approval policies, spending
limits, budgets, cost centers, GL accounts and numbering — and see nothing of anyone else's.

``OrganizationScopedAdmin`` is the one mechanism: changelists, object URLs (another
organization's object answers 404), actions (they act on the scoped queryset), foreign-key
and many-to-many choices (an id of another organization posted by hand is "not one of the
available choices"), and the permissions to view, add, change and delete.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.contrib.contenttypes import views as contenttype_views
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404
from django.urls import path, reverse

from accounts.models import Membership, Organization, User
from accounts.roles import Role
from procurement.forms import number_kwargs, with_input_rules


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


class TandemAdminSite(admin.AdminSite):
    site_header = "Tandem administration"
    site_title = "Tandem admin"
    index_title = "Settings and data"

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every admin of the site, ours and the libraries' (auth, axes), and every inline of theirs
        applies the input rules."""
        admin_class = admin_class or admin.ModelAdmin
        inlines = [with_input_rules_class(inline) for inline in admin_class.inlines]
        super().register(model_or_iterable, with_input_rules_class(admin_class, inlines=inlines), **options)

    def has_permission(self, request) -> bool:
        """Platform staff, and the admins of an organization (for that organization's rows)."""
        user = request.user
        return user.is_active and (user.is_staff or bool(administered(request)))

    def get_urls(self):
        """The admin's "view on site" redirect resolves any object of any model: platform staff only."""
        urls = super().get_urls()
        return [
            path("r/<int:content_type_id>/<path:object_id>/", self.admin_view(self.view_on_site), name="view_on_site")
            if getattr(pattern, "name", None) == "view_on_site"
            else pattern
            for pattern in urls
        ]

    def view_on_site(self, request, content_type_id, object_id):
        if not request.user.is_staff:
            raise Http404("Not here.")
        return contenttype_views.shortcut(request, content_type_id, object_id)

    def login(self, request, extra_context=None):
        """One log-in for the whole product (with its throttling): the application's."""
        if request.user.is_authenticated:
            raise PermissionDenied("The Django admin is for platform staff and organization admins.")
        return redirect_to_login(request.GET.get("next") or reverse("admin:index"), reverse("accounts:login"))


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


class InputRulesMixin:
    """Every field of an admin form follows the input rules of the pages (``procurement.forms``):
    plain text, numbers of ASCII digits within their column, business dates in their window.
    The site mixes it into every model admin registered with it and into their inlines."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **{**number_kwargs(db_field), **kwargs})
        return with_input_rules(field) if field is not None else None


def with_input_rules_class(cls: type, **attrs) -> type:
    """A subclass of ``cls`` (a model admin or an inline) with ``InputRulesMixin`` (and ``attrs``);
    ``cls`` itself when it has the mixin and there is nothing to set."""
    if issubclass(cls, InputRulesMixin) and not attrs:
        return cls
    bases = (cls,) if issubclass(cls, InputRulesMixin) else (InputRulesMixin, cls)
    return type(cls.__name__, bases, {"__module__": cls.__module__, "__doc__": cls.__doc__, **attrs})


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
