"""The active organization comes from the URL (``/o/<org_slug>/…``), as in pretix.

``request.organization`` and ``request.membership`` are set for every organization page;
a user who is not a member gets 404, never a hint that the organization exists.
"""

from __future__ import annotations

from .selectors import membership_for

SESSION_KEY = "active_org"


class ActiveOrganizationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.organization = None
        request.membership = None
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        slug = view_kwargs.get("org_slug")
        if slug is None or not request.user.is_authenticated:
            return None  # anonymous: LoginRequiredMiddleware has answered already
        membership = membership_for(user=request.user, org_slug=slug)  # Http404 for non-members
        request.membership = membership
        request.organization = membership.organization
        if request.session.get(SESSION_KEY) != slug:
            request.session[SESSION_KEY] = slug
        return None
