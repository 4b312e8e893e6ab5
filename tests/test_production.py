"""The production shape serves: collectstatic under the production settings, then gunicorn.

Run as an operator would, in subprocesses with only the environment the production settings
read. Redis points at a closed port the whole time: log-in and pages must not need it.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOST = "tandem.test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="procurement.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=f"{HOST},127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        STATIC_ROOT=str(tmp / "static"),
        MEDIA_ROOT=str(tmp / "media"),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


class Client:
    """A tiny HTTP client that keeps cookies and speaks as a TLS-terminating proxy would."""

    def __init__(self, port: int, *, secure: bool = True):
        self.port = port
        self.secure = secure  # False: a plain http request, as if the proxy had not terminated TLS
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Host": HOST, "X-Forwarded-Proto": "https" if self.secure else "http"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"https://{HOST}{path}"
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for value in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                self.cookies[name] = morsel.value
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("production")
    env = production_env(tmp)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    manage(
        env,
        "shell",
        "-c",
        "from accounts.models import User; User.objects.create_user(email='ops@tandem.test', password='s3cret-Pass!')",
    )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "procurement.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"gunicorn stopped: {server.stderr.read().decode()}")
            time.sleep(0.2)
    yield port
    server.terminate()
    server.wait(timeout=10)


def test_collectstatic_writes_a_manifest_under_the_production_settings(served, tmp_path_factory):
    manifests = list(tmp_path_factory.getbasetemp().glob("production*/static/staticfiles.json"))
    assert manifests, "collectstatic wrote no manifest"


def test_with_redis_down_liveness_and_pages_answer_and_readiness_names_redis(served):
    client = Client(served)
    assert client.request("GET", "/healthz")[0] == 200  # liveness: the process serves
    assert client.request("GET", "/login/")[0] == 200
    status, headers, body = client.request("GET", "/readyz?format=json")
    assert status == 503
    results = json.loads(body)
    assert results["Database(alias='default')"] == "OK"
    redis = [value for name, value in results.items() if name.startswith("Redis(")]
    assert len(redis) == 1 and redis[0].startswith("Unavailable: Unable to connect to Redis"), redis


def test_pages_and_hashed_static_files_are_served_with_redis_unreachable(served):
    client = Client(served)
    status, _, page = client.request("GET", "/login/")
    assert status == 200, page[:2000]
    stylesheets = re.findall(r'href="(/static/[^"]+\.css)"', page)
    assert stylesheets and all(re.search(r"\.[0-9a-f]{12}\.css$", href) for href in stylesheets), stylesheets
    for href in stylesheets + re.findall(r'src="(/static/[^"]+\.js)"', page):
        status, headers, _ = client.request("GET", href)
        assert status == 200, href
        assert "max-age=315360000" in headers.get("cache-control", ""), href  # hashed: cached for ever

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    status, headers, _ = client.request(
        "POST", "/login/", {"csrfmiddlewaretoken": token, "username": "ops@tandem.test", "password": "s3cret-Pass!"}
    )
    assert status == 302, "log-in must work while Redis is down (sessions are in the database)"
    status, _, page = client.request("GET", headers["location"])
    assert status in {200, 302}
    status, _, page = client.request("GET", "/organizations/new/")
    assert status == 200, page[:2000]


def test_hsts_over_tls_only_and_the_security_headers_under_the_production_settings(served):
    status, headers, page = Client(served).request("GET", "/login/")
    assert status == 200, page[:2000]
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert "camera=()" in headers["permissions-policy"]
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cross-origin-opener-policy"] == "same-origin"

    status, headers, _ = Client(served, secure=False).request("GET", "/login/")
    assert status == 301 and headers["location"] == f"https://{HOST}/login/"  # to TLS first
    assert "strict-transport-security" not in headers  # never over plain http


def test_signed_in_pages_are_not_stored_under_the_production_settings(served):
    client = Client(served)
    _, _, page = client.request("GET", "/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    status, headers, _ = client.request(
        "POST", "/login/", {"csrfmiddlewaretoken": token, "username": "ops@tandem.test", "password": "s3cret-Pass!"}
    )
    assert status == 302
    status, headers, _ = client.request("GET", "/account/")
    assert status == 200
    assert "no-store" in headers["cache-control"] and "private" in headers["cache-control"]
