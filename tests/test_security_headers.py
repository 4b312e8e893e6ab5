"""The security headers on the responses the crawl does not reach: downloads, error pages, the
anonymous pages; the Permissions-Policy header's syntax; the settings in every module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import path

from accounts.roles import Role
from procurement.middleware import permissions_policy_header
from tests.crawl import POLICY, assert_security_headers, inline_code
from tests.factories import Trade, member

ROOT = Path(__file__).resolve().parent.parent


def _fails(request):
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", _fails)]


def test_permissions_policy_header_turns_features_off_or_names_origins():
    assert permissions_policy_header({"camera": [], "usb": []}) == "camera=(), usb=()"
    assert (
        permissions_policy_header({"fullscreen": ["self", "https://pay.example"]})
        == 'fullscreen=(self "https://pay.example")'
    )


@pytest.mark.django_db
def test_downloads_for_a_signed_in_person_are_not_stored(client):
    trade = Trade()
    po = trade.confirmed()
    client.force_login(trade.customer_admin.user)
    for url in (
        f"/o/{trade.customer.slug}/purchase-orders/export.csv",
        f"/o/{trade.customer.slug}/purchase-orders/{po.number}/pdf/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_security_headers(response, signed_in=True, where=url)


@pytest.mark.django_db
def test_a_page_that_is_not_found_or_not_allowed_keeps_the_headers(client):
    trade = Trade()
    receiver = member(trade.customer, Role.RECEIVER)
    client.force_login(receiver.user)
    for url, status in (
        (f"/o/{trade.customer.slug}/purchase-orders/PO-999999/", 404),
        (f"/o/{trade.customer.slug}/settings/", 403),
        (f"/o/{trade.supplier.slug}/", 404),  # not a member: the organization is not there
    ):
        response = client.get(url)
        assert response.status_code == status, url
        assert_security_headers(response, signed_in=True, where=url)
        assert not inline_code(response.content.decode()), url


@pytest.mark.django_db
def test_anonymous_pages_have_the_headers_but_are_not_forced_out_of_caches(client):
    for url in ("/password-reset/", "/signup/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_security_headers(response, signed_in=False, where=url)
        assert "no-store" not in response.get("Cache-Control", ""), url
        assert not inline_code(response.content.decode()), url


@pytest.mark.django_db
@pytest.mark.urls("tests.test_security_headers")
def test_the_server_error_page_has_the_headers_and_no_inline_style(client):
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    assert_security_headers(response, signed_in=False, where="500")
    html = response.content.decode()
    assert "Something went wrong" in html and 'class="error-page"' in html
    assert not inline_code(html)


@pytest.mark.parametrize("module", ["base", "test", "production"])
def test_every_settings_module_sends_the_headers(module):
    """Read in a fresh interpreter: production.py needs its environment to import at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
    env.update(
        SECRET_KEY="x" * 60,
        ALLOWED_HOSTS="tandem.example",
        DATABASE_URL="postgres://tandem@127.0.0.1:5432/tandem",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    names = [
        "MIDDLEWARE",
        "CONTENT_SECURITY_POLICY",
        "PERMISSIONS_POLICY",
        "SECURE_REFERRER_POLICY",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "X_FRAME_OPTIONS",
    ]
    code = (
        f"import importlib, json; s = importlib.import_module('procurement.settings.{module}'); "
        f"print(json.dumps({{name: getattr(s, name) for name in {names!r}}}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout)
    order = s["MIDDLEWARE"]
    assert order.index("django.middleware.security.SecurityMiddleware") < order.index("csp.middleware.CSPMiddleware")
    assert "procurement.middleware.PermissionsPolicyMiddleware" in order
    assert "django.middleware.clickjacking.XFrameOptionsMiddleware" in order
    assert order.index("django.contrib.auth.middleware.AuthenticationMiddleware") < order.index(
        "procurement.middleware.NoStoreForAuthenticatedMiddleware"
    )
    assert {k: " ".join(v) for k, v in s["CONTENT_SECURITY_POLICY"]["DIRECTIVES"].items()} == POLICY
    assert {"camera", "microphone", "geolocation", "payment", "usb"} <= {
        k for k, v in s["PERMISSIONS_POLICY"].items() if v == []
    }
    assert (s["SECURE_REFERRER_POLICY"], s["SECURE_CROSS_ORIGIN_OPENER_POLICY"]) == ("same-origin", "same-origin")
    assert s["SECURE_CONTENT_TYPE_NOSNIFF"] is True and s["X_FRAME_OPTIONS"] == "DENY"
