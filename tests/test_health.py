"""Liveness (/healthz) and readiness (/readyz): what answers, and what each outage says.

The Redis and worker cases use the machine's Redis (``redis``); a closed port stands for a
Redis that is down. The database-down case runs gunicorn under the production settings in a
subprocess (tests/test_production.py's helpers), with DATABASE_URL on a closed port.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from procurement.celery import app
from tests.test_production import HOST, ROOT, Client, free_port, production_env

JSON = {"HTTP_ACCEPT": "application/json"}


def readiness(client) -> tuple[int, dict[str, str]]:
    # /readyz is an async view; the test client runs it with async_to_sync, which refuses a thread
    # where an event loop runs — as Playwright's, once a browser test ran in this session. A thread
    # of its own has none (as each gunicorn worker).
    with ThreadPoolExecutor(max_workers=1) as executor:
        response = executor.submit(client.get, "/readyz", **JSON).result()
    assert response["Content-Type"] == "application/json"
    return response.status_code, json.loads(response.content)


def plain_http(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Host": HOST})
    status = conn.getresponse().status
    conn.close()
    return status


def reason(results: dict[str, str], check: str) -> str:
    """The result of the check whose name starts with ``check`` (e.g. "Database")."""
    [value] = [value for name, value in results.items() if name.startswith(check)]
    return value


@pytest.fixture
def celery_conf(settings):
    """Tasks through a broker (as in production) for one test; the app's settings restored after."""
    keys = ("task_always_eager", "broker_url", "broker_transport_options")
    saved = {key: app.conf[key] for key in keys}
    yield app.conf
    app.conf.update(saved)


def test_liveness_needs_nothing_and_is_public(client):
    response = client.get("/healthz")  # no database here: pytest-django would refuse any query
    assert response.status_code == 200
    assert response.content == b"ok"


def test_readiness_with_tasks_in_process_checks_database_cache_and_storage(client, db):
    status, results = readiness(client)
    assert status == 200, results
    assert {name.split("(")[0] for name in results} == {"Database", "Cache", "WritableStorage"}
    assert set(results.values()) == {"OK"}


def test_readiness_says_when_storage_is_not_writable(client, db, settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.MEDIA_ROOT = str(blocker / "media")  # even root cannot make a directory under a file
    status, results = readiness(client)
    assert status == 503
    assert reason(results, "WritableStorage") == "Unavailable: Cannot write to the default storage: Not a directory"
    assert reason(results, "Database") == "OK"


def test_readiness_answers_html_and_text_too(client, db):
    html = client.get("/readyz")
    assert html.status_code == 200
    page = html.content.decode()
    assert '<h1 class="h3">Ready</h1>' in page and "Database(alias=" in page
    assert "<style" not in page and "style=" not in page  # the Content-Security-Policy allows none
    text = client.get("/readyz", HTTP_ACCEPT="text/plain")
    assert text.content.decode().splitlines()[0].startswith("Database(alias='default'): OK")


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_readiness_is_healthy_with_redis_and_a_worker(client, settings, celery_conf):
    celery_conf.update(
        task_always_eager=False,
        broker_url=settings.REDIS_URL,
        broker_transport_options={**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "polling_interval": 0.1},
    )
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        status, results = readiness(client)
    assert status == 200, results
    assert {name.split("(")[0] for name in results} == {"Database", "Cache", "WritableStorage", "Redis", "CeleryWorker"}
    assert set(results.values()) == {"OK"}


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_readiness_says_no_worker_answers(client, settings, celery_conf):
    celery_conf.update(task_always_eager=False, broker_url=settings.REDIS_URL)
    started = time.monotonic()
    status, results = readiness(client)
    assert status == 503
    assert reason(results, "CeleryWorker") == "Unavailable: No Celery worker answered a ping within 2 s"
    assert reason(results, "Redis") == "OK"
    assert time.monotonic() - started < 5


@pytest.mark.redis
def test_readiness_says_redis_is_down(client, db, settings, celery_conf):
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": closed}}
    celery_conf.update(task_always_eager=False, broker_url=closed)
    started = time.monotonic()
    status, results = readiness(client)
    assert status == 503
    assert reason(results, "Redis").startswith("Unavailable: Unable to connect to Redis: Connection")
    assert reason(results, "Cache") == "Unexpected Result: Connection Error"
    assert reason(results, "CeleryWorker").startswith("Unavailable: Celery broker unreachable: Error 111 connecting")
    assert reason(results, "Database") == "OK"
    assert time.monotonic() - started < 5, "an outage must be reported at once, not after the probe's timeout"
    assert client.get("/healthz").status_code == 200  # liveness does not depend on Redis


def test_database_down_fails_readiness_not_liveness(tmp_path: Path):
    """gunicorn under the production settings, with PostgreSQL on a closed port."""
    env = production_env(tmp_path, DATABASE_URL=f"postgres://tandem@127.0.0.1:{free_port()}/tandem")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "procurement.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        client = Client(port)
        status, _, body = client.request("GET", "/healthz")
        assert (status, body) == (200, "ok")
        status, headers, body = client.request("GET", "/readyz?format=json")
        assert status == 503
        assert headers["content-type"] == "application/json"
        results = json.loads(body)
        assert reason(results, "Database") == "Unavailable: connection failed"
        assert reason(results, "WritableStorage") == "OK"
        # A probe inside the network speaks plain HTTP (no X-Forwarded-Proto): no redirect to https
        # for the health endpoints, as for every other page.
        assert plain_http(port, "/healthz") == 200
        assert plain_http(port, "/readyz") == 503
        assert plain_http(port, "/login/") == 301
    finally:
        server.terminate()
        server.wait(timeout=10)
