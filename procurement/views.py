"""The base views of an organization's pages (a kernel module: it imports no app).

``request.organization`` and ``request.membership`` are set by the active-organization
middleware (``accounts.middleware``) before any of these views runs; a membership answers
``may(permission)`` (``accounts.models.Membership.may``).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View


class OrgView(View):
    """A page of the active organization; ``permission`` (if set) is required to open it."""

    permission: str | None = None

    def dispatch(self, request, *args, **kwargs):
        membership = request.membership
        if self.permission and (membership is None or not membership.may(self.permission)):
            raise PermissionDenied("Your role does not allow this page.")
        self.org = request.organization
        self.membership = membership
        return super().dispatch(request, *args, **kwargs)

    def org_url(self, name: str, **kwargs) -> str:
        return reverse(name, kwargs={"org_slug": self.org.slug, **kwargs})


class PostOnlyView(OrgView):
    """An action taken by POST from a button on another page (``done_url``).

    A GET finds the object first, so that another tenant's object answers 404 whatever the
    method; for one's own, it leads back to the page with the button. Subclasses define
    ``get_object()`` (through a scoped selector) and ``done_url()``.
    """

    http_method_names = ["get", "post"]

    def get(self, request, *args, **kwargs):
        self.get_object()
        return redirect(self.done_url())
