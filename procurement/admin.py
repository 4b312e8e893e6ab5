"""The Django admin site (wiring: it imports the apps). Platform superusers see everything; an
organization's admins (the admin role, see SPEC §2) come in to configure their own organizations and
see nothing of anyone else's: the scoping is ``accounts.admin_scoping``; the input rules that every
admin form follows are ``procurement.admin_rules``.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.contrib.contenttypes import views as contenttype_views
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import path, reverse

from accounts.admin_scoping import administered
from procurement.admin_rules import with_input_rules_class


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
