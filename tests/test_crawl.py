"""Every page of the demo, as every demo person sees it, carries the security headers, no
inline code that the Content-Security-Policy would block, and no id used twice (tests/crawl.py
walks the links)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.models import User
from tests.crawl import assert_security_headers, crawl, duplicate_ids, inline_code, leaked_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("seed_demo", verbosity=0)
    return list(User.objects.filter(is_active=True).order_by("email").values_list("email", flat=True))


def test_every_page_of_the_demo_has_the_headers_and_no_inline_code(demo):
    assert len(demo) >= 20, demo  # README's demo log-ins
    pages = {}
    for email, url, response in crawl(demo, max_pages=20):
        where = f"{email} GET {url}"
        assert response.status_code == 200, f"{where} answered {response.status_code}"
        assert_security_headers(response, signed_in=True, where=where)
        if "text/html" in response["Content-Type"]:
            problems = inline_code(response.content.decode())
            assert not problems, f"{where}:\n" + "\n".join(problems)
            twice = duplicate_ids(response.content.decode())
            assert not twice, f"{where}: ids used twice: {twice}"
            leaks = leaked_template(response.content.decode())
            assert not leaks, f"{where}: template syntax on the page: {leaks}"
        pages.setdefault(email, set()).add(url)
    assert set(pages) == set(demo)  # everybody's walk started
    assert sum(len(urls) for urls in pages.values()) >= 150, pages
    # The walks reach the kinds of pages people use, not only lists.
    everything = {url for urls in pages.values() for url in urls}
    for piece in ("/purchase-orders/PO-", "/sales-orders/SO-", "/bills/BILL-", "/settings/", "/listings/"):
        assert any(piece in url for url in everything), piece


def test_the_django_admin_of_an_organization_admin_has_the_headers_and_no_inline_code(demo):
    seen = []
    for email, url, response in crawl(["admin@northwind.example"], start="/admin/", max_pages=25):
        where = f"{email} GET {url}"
        assert response.status_code == 200, f"{where} answered {response.status_code}"
        assert_security_headers(response, signed_in=True, where=where)
        problems = inline_code(response.content.decode())
        assert not problems, f"{where}:\n" + "\n".join(problems)
        twice = duplicate_ids(response.content.decode())
        assert not twice, f"{where}: ids used twice: {twice}"
        seen.append(url)
    assert "/admin/" in seen
    assert any(url.endswith("/add/") for url in seen), seen  # a form, with its widgets
    assert any("/approvals/" in url for url in seen), seen  # policies, limits, budgets


def test_the_log_in_page_has_the_headers_and_no_inline_code(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert_security_headers(response, signed_in=False, where="GET /login/")
    assert not inline_code(response.content.decode())
