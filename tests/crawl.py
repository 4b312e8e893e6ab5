"""Walk the site as a signed-in person would: every same-site link reachable from a start page.

``crawl`` yields ``(email, url, response)`` for each page it fetched, so a test can assert what
it likes on every page (tests/test_crawl.py checks the security headers and inline code). GET
only: log-out, static and media files, downloads (PDF, CSV, attachments) and anything a
``skip`` pattern names are left alone; nothing on this site changes state on GET.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from django.test import Client

SKIP = (
    re.compile(r"^/logout/"),
    re.compile(r"^/admin/logout/"),
    re.compile(r"^/static/"),
    re.compile(r"^/media/"),
    re.compile(r"/pdf/$"),  # WeasyPrint documents: bytes, not pages, and slow to make
    re.compile(r"\.csv$"),
    re.compile(r"/attachment/$"),
    re.compile(r"^/admin/.*/(delete|history)/$"),  # the admin's confirmation and audit pages
    re.compile(r"^/admin/r/"),  # "view on site" redirects to the object's page
    re.compile(r"^/admin/jsi18n/"),
)


# The headers every response carries (procurement/settings/base.py, "security headers").
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "object-src": "'none'",
}
PERMISSIONS_OFF = ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()")


def csp_directives(header: str) -> dict[str, str]:
    directives = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            directives[name] = value.strip()
    return directives


def assert_security_headers(response, *, signed_in: bool, where: str) -> None:
    assert csp_directives(response.get("Content-Security-Policy", "")) == POLICY, where
    assert response.get("Referrer-Policy") == "same-origin", where
    assert response.get("X-Content-Type-Options") == "nosniff", where
    assert response.get("X-Frame-Options") == "DENY", where
    assert response.get("Cross-Origin-Opener-Policy") == "same-origin", where
    permissions = response.get("Permissions-Policy", "")
    assert all(feature in permissions for feature in PERMISSIONS_OFF), (where, permissions)
    if signed_in:
        cache_control = {part.strip() for part in response.get("Cache-Control", "").split(",")}
        assert {"no-store", "private"} <= cache_control, (where, cache_control)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def links(html: str, base: str) -> list[str]:
    """The same-site paths (with their query, without the fragment) that ``html`` links to."""
    parser = _Links()
    parser.feed(html)
    found = []
    for href in parser.hrefs:
        if href.startswith(("mailto:", "tel:", "javascript:", "#")):
            continue
        parts = urlsplit(urljoin(base, href))
        if parts.scheme not in {"", "http"} or parts.netloc not in {"", "testserver"}:
            continue
        query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
        found.append(parts.path + (f"?{query}" if query else ""))
    return found


def crawl(
    users: Iterable[str],
    *,
    password: str = "demo",
    start: str = "/",
    max_pages: int = 40,
    max_variants: int = 2,
    skip: Iterable[re.Pattern[str]] = SKIP,
) -> Iterator[tuple[str, str, object]]:
    """Log in as each user (a fresh client) and walk breadth-first from ``start``.

    Yields ``(email, url, response)`` for at most ``max_pages`` pages per user, redirects
    followed (``response.redirect_chain`` says where it went). A path is visited with at most
    ``max_variants`` different queries (a list's filters, sorts and pages), so the walk reaches
    every kind of page before it spends itself on one list.
    """
    skip = tuple(skip)
    for email in users:
        client = Client()
        response = client.post("/login/", {"username": email, "password": password})  # through the form
        assert response.status_code == 302, f"cannot log in as {email}"
        # Pages of a kind not seen yet (a shape: digits stand for any number) go first, then
        # more of the same kind and a list's other queries: the walk sees every kind of page
        # before it spends its pages on one list or on the seventh order.
        fresh, later = deque([start]), deque()
        seen, shapes, variants = {start}, {_shape(start)}, {}
        fetched = 0
        while (fresh or later) and fetched < max_pages:
            url = (fresh or later).popleft()
            response = client.get(url, follow=True)
            fetched += 1
            yield email, url, response
            if "text/html" not in response.get("Content-Type", ""):
                continue
            landed = response.redirect_chain[-1][0] if response.redirect_chain else url
            for link in links(response.content.decode(), landed):
                path = link.split("?", 1)[0]
                if link in seen or any(pattern.search(path) for pattern in skip):
                    continue
                seen.add(link)
                if "?" in link:
                    variants[path] = variants.get(path, 0) + 1
                    if variants[path] > max_variants:
                        continue
                    later.append(link)
                elif _shape(path) in shapes:
                    later.append(link)
                else:
                    shapes.add(_shape(path))
                    fresh.append(link)


def _shape(path: str) -> str:
    return re.sub(r"\d+", "N", path)


class _Inline(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._script: str | None = None  # the opening tag of an inline <script> being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        text = self.get_starttag_text() or tag
        for name, _ in attrs:
            if name.startswith("on"):
                self.problems.append(f"{name}= handler: {text}")
            elif name == "style":
                self.problems.append(f"style= attribute: {text}")
        if tag == "style":
            self.problems.append(f"<style> element: {text}")
        elif tag == "script":
            values = dict(attrs)
            if "src" not in values and values.get("type") != "application/json":
                self._script = text

    def handle_data(self, data: str) -> None:
        if self._script is not None and data.strip():
            self.problems.append(f"inline script: {self._script}{data.strip()[:80]}")
            self._script = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.seen: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        value = dict(attrs).get("id")
        if value is not None:
            self.seen[value] = self.seen.get(value, 0) + 1

    handle_startendtag = handle_starttag


def duplicate_ids(html: str) -> list[str]:
    """The ``id`` values that more than one element of ``html`` carries: a label's ``for``, a
    link's ``#fragment`` and ``aria-describedby`` then reach the wrong element."""
    parser = _Ids()
    parser.feed(html)
    parser.close()
    return sorted(value for value, count in parser.seen.items() if count > 1)


LEAKED_TEMPLATE = re.compile(r"\{#|#\}|\{%|%\}|\{\{\s|\s\}\}")  # not JSON's "}}" in an attribute


def leaked_template(html: str) -> list[str]:
    """Template syntax that reached the page: a ``{# … #}`` comment spread over several lines
    (Django's are one line only), a tag or a variable left unparsed. Quoted around each hit."""
    return [html[max(0, m.start() - 40) : m.end() + 40] for m in LEAKED_TEMPLATE.finditer(html)]


def inline_code(html: str) -> list[str]:
    """What a strict Content-Security-Policy would block in ``html``: inline script bodies,
    ``on*=`` handlers, ``style=`` attributes and ``<style>`` elements (SVG's included)."""
    parser = _Inline()
    parser.feed(html)
    parser.close()
    return parser.problems
