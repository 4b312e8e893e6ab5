"""The active organization comes from the URL (``/o/<org_slug>/…``), as in pretix.

``request.organization`` and ``request.membership`` are set for every organization page;
a user who is not a member gets 404, never a hint that the organization exists.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout

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


class IdleSessionMiddleware:
    """Ends a session after ``SESSION_IDLE_MINUTES`` without a request, and ``SESSION_MAX_HOURS``
    after log-in however active (Django's cookie age alone slides with every session write).

    The time of the last request is written at most once a minute: an active person costs one
    session write a minute, not one per request. Placed after the messages middleware, so the
    log-in page can say why.
    """

    LAST_SEEN = "last_seen"
    STARTED = "session_started"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            session = request.session
            last_seen, started = session.get(self.LAST_SEEN), session.get(self.STARTED)
            if last_seen is not None and now - last_seen > settings.SESSION_IDLE_MINUTES * 60:
                logout(request)
                messages.info(
                    request,
                    f"You were logged out after {settings.SESSION_IDLE_MINUTES} minutes without activity. "
                    "Log in again to go on.",
                )
            elif started is not None and now - started > settings.SESSION_MAX_HOURS * 60 * 60:
                logout(request)
                messages.info(
                    request,
                    f"For your safety, sessions end after {settings.SESSION_MAX_HOURS} hours. Log in again to go on.",
                )
            else:
                if started is None:
                    session[self.STARTED] = now
                if last_seen is None or now - last_seen >= 60:
                    session[self.LAST_SEEN] = now
        return self.get_response(request)
