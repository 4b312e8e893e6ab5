"""The compose stack, run service by service on this machine (no Docker engine here).

What each service of docker-compose.yml runs is run here with its own command line, under the
production settings, against the machine's PostgreSQL (a fresh database) and Redis (the suite's
database number): the `migrate` job, two `web` replicas (gunicorn with deploy/gunicorn.conf.py),
a `worker` and `beat`. In front of them, Debian's nginx serves the proxy's template
(deploy/nginx/templates/default.conf.template) rendered by deploy/nginx/render.sh with this
machine's upstream address, ports and certificate directory, and a certificate made by the
proxy's own deploy/nginx/self-signed-cert.sh. As in a compose network, the replicas are found
through DNS: a small DNS server here answers the upstream's name with both replicas' addresses
(127.0.0.2 and 127.0.0.3, one port), as Docker's DNS answers `web` with every replica's.

Which replica served a request is read from each gunicorn's own access log.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import dns.message
import dns.rdatatype
import dns.rrset
import psycopg
import pytest
import yaml

from tests.test_production import ROOT, free_port, production_env

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

HOST = "tandem.test"
UPSTREAM_NAME = "web.tandem.test"
REPLICAS = ("127.0.0.2", "127.0.0.3")
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
NGINX = "/usr/sbin/nginx"


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation of ${NAME:-default} and $$, for the command lines used here."""
    value = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), value)
    return value.replace("$$", "$")


def command_of(service: str, env: dict[str, str]) -> list[str]:
    """The service's command, run with this interpreter (the image's `python`, `gunicorn`, `celery`)."""
    args = shlex.split(interpolate(COMPOSE["services"][service]["command"], env))
    if args[0] == "python":
        return [sys.executable, *args[1:]]
    return [sys.executable, "-m", args[0], *args[1:]]


class _DockerLikeDNS(socketserver.BaseRequestHandler):
    """Answers A queries for the upstream's name with every replica; nothing else exists."""

    def handle(self):
        data, sock = self.request
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        if question.name.to_text().rstrip(".") == UPSTREAM_NAME and question.rdtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text(question.name, 1, "IN", "A", *REPLICAS))
        elif question.name.to_text().rstrip(".") != UPSTREAM_NAME:
            response.set_rcode(3)  # NXDOMAIN
        sock.sendto(response.to_wire(), self.client_address)


def wait_for_port(host: str, port: int, process: subprocess.Popen, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"{process.args} stopped:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{process.args} did not listen on {host}:{port}:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)


class Stack:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = self.tmp / f"{name}.log"
        self.logs[name] = log
        with log.open("wb") as out:
            process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes[name] = process
        return process

    def stop(self) -> None:
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


class Browser:
    """HTTPS to nginx on 127.0.0.1 as `tandem.test`, checking its certificate; keeps cookies."""

    def __init__(self, https_port: int, cafile: Path):
        self.port = https_port
        self.context = ssl.create_default_context(cafile=str(cafile))
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        conn = http.client.HTTPSConnection(HOST, self.port, timeout=60)
        conn.sock = self.context.wrap_socket(sock, server_hostname=HOST)  # verifies the name and the chain
        sent = {"Host": f"{HOST}:{self.port}", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            sent["Referer"] = f"https://{HOST}:{self.port}{path}"
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for value in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                self.cookies[name] = morsel.value
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    name = os.environ.get("TEST_DATABASE_NAME", "test_tandem") + "_stack"
    base = os.environ["DATABASE_URL"]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield base.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def stack(tmp_path_factory, database):
    tmp = tmp_path_factory.mktemp("stack")
    ports: set[int] = set()
    while len(ports) < 3:  # three different ones: the kernel may hand out a closed port again
        ports.add(free_port())
    app_port, http_port, https_port = sorted(ports)
    # The environment compose gives the app's containers, with this machine's services.
    env = production_env(
        tmp,
        DATABASE_URL=database,
        REDIS_URL=os.environ["REDIS_URL"],
        ALLOWED_HOSTS=f"{HOST},localhost",
        CLIENT_IP_HEADER="X-Real-IP",
        GUNICORN_WORKERS="2",
        CELERY_CONCURRENCY="1",
        HOSTNAME=socket.gethostname(),  # as in a container, where the worker is celery@$HOSTNAME
    )
    stack = Stack(tmp)
    dns_server = None
    try:
        # The image's build step (collectstatic) beside the one-off migrate job.
        collect = subprocess.Popen(
            [sys.executable, "manage.py", "collectstatic", "--noinput"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        migrate = subprocess.run(command_of("migrate", env), cwd=ROOT, env=env, capture_output=True, text=True)
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        assert collect.wait(timeout=120) == 0, collect.stderr.read().decode()
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                "from accounts.models import User; "
                "User.objects.create_user(email='ops@tandem.test', password='s3cret-Pass!')",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )

        replicas = []
        for address in REPLICAS:
            replica_env = {**env, "GUNICORN_BIND": f"{address}:{app_port}"}
            replicas.append(stack.start(f"web-{address}", command_of("web", replica_env), replica_env))
        worker_args = command_of("worker", env)
        stack.start("worker", worker_args, env)
        beat_args = [
            re.sub(r"^/tmp/celerybeat-schedule$", str(tmp / "celerybeat-schedule"), a) for a in command_of("beat", env)
        ]
        stack.start("beat", beat_args, env)

        dns_server = socketserver.ThreadingUDPServer(("127.0.0.1", 0), _DockerLikeDNS)
        threading.Thread(target=dns_server.serve_forever, daemon=True).start()
        proxy_env = {
            **os.environ,
            "TANDEM_RESOLVER": f"127.0.0.1:{dns_server.server_address[1]}",
            "TANDEM_UPSTREAM": f"{UPSTREAM_NAME}:{app_port}",
            "TANDEM_HTTP_PORT": str(http_port),
            "TANDEM_HTTPS_PORT": str(https_port),
            "TANDEM_TLS_DIR": str(tmp / "certs"),
            "TANDEM_TLS_HOSTNAMES": HOST,
        }
        proxy = tmp / "proxy"
        subprocess.run(
            ["sh", ROOT / "deploy/nginx/self-signed-cert.sh"], env=proxy_env, check=True, capture_output=True
        )
        subprocess.run(["sh", ROOT / "deploy/nginx/render.sh", proxy], env=proxy_env, check=True)
        nginx = stack.start(
            "nginx", [NGINX, "-p", str(proxy), "-c", str(proxy / "nginx.conf"), "-g", "daemon off;"], proxy_env
        )

        for address, replica in zip(REPLICAS, replicas, strict=True):
            wait_for_port(address, app_port, replica, stack.logs[f"web-{address}"])
        wait_for_port("127.0.0.1", https_port, nginx, stack.logs["nginx"])
        yield {
            "env": env,
            "stack": stack,
            "replicas": dict(zip(REPLICAS, replicas, strict=True)),
            "app_port": app_port,
            "http_port": http_port,
            "browser": Browser(https_port, tmp / "certs" / "tls.crt"),
        }
    finally:
        stack.stop()
        if dns_server is not None:
            dns_server.shutdown()
            dns_server.server_close()


def tails(stack: Stack) -> str:
    """The end of every process's log, for a failure's message."""
    return "\n".join(f"--- {name}\n{log.read_text()[-1500:]}" for name, log in stack.logs.items())


def get_ok(browser: Browser, stack: Stack, path: str) -> str:
    status, _, page = browser.request("GET", path)
    assert status == 200, f"GET {path} answered {status}: {page[:500]}\n{tails(stack)}"
    return page


def served_by(stack: Stack, address: str, path: str) -> int:
    """Requests for ``path`` in the access log of the replica at ``address``."""
    return sum(f" {path} HTTP/" in line for line in stack.logs[f"web-{address}"].read_text().splitlines())


def wait_until(predicate, seconds: float = 30, message: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, message
        time.sleep(0.2)


def test_through_the_proxy_both_replicas_serve_and_one_failing_is_not_noticed(stack):
    browser, logs = stack["browser"], stack["stack"]
    status, _, page = browser.request("GET", "/login/")
    assert status == 200, page[:2000]
    stylesheet = re.search(r'href="(/static/[^"]+\.css)"', page).group(1)
    status, headers, _ = browser.request("GET", stylesheet)  # whitenoise, through web
    assert status == 200 and "max-age=315360000" in headers["cache-control"]

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    status, headers, page = browser.request(
        "POST", "/login/", {"csrfmiddlewaretoken": token, "username": "ops@tandem.test", "password": "s3cret-Pass!"}
    )
    assert status == 302, page[:2000]
    status, _, page = browser.request("GET", "/organizations/new/")
    assert status == 200, page[:2000]
    assert "strict-transport-security" in headers  # Django, behind the proxy, knows it is https

    for _ in range(20):
        get_ok(browser, logs, "/organizations/new/")

    def served():
        return {address: served_by(logs, address, "/organizations/new/") for address in REPLICAS}

    # gunicorn writes its access line after the response is sent: the last one may lag a moment.
    wait_until(lambda: sum(served().values()) >= 21, 5, f"{served()}\n{tails(logs)}")
    counts = served()
    assert sum(counts.values()) == 21, f"{counts}\n{tails(logs)}"
    assert all(count >= 3 for count in counts.values()), f"one replica served (almost) everything: {counts}"
    # The proxy forwards the client's address; gunicorn logs it first.
    line = next(
        line for line in logs.logs[f"web-{REPLICAS[0]}"].read_text().splitlines() if "/organizations/new/" in line
    )
    assert line.startswith("127.0.0.1 "), line
    # …and its request id, which nginx logs too: one request followed from the proxy to the replica.
    request_id = re.search(r"request_id=([0-9a-f]{32}) ", line).group(1)
    assert f"request_id={request_id} " in logs.logs["nginx"].read_text()

    # One replica dies (its whole process group, as a container is killed): nobody notices.
    dead, alive = REPLICAS
    os.killpg(stack["replicas"][dead].pid, signal.SIGKILL)
    stack["replicas"][dead].wait(timeout=10)
    before = {address: served_by(logs, address, "/organizations/new/") for address in REPLICAS}
    for _ in range(8):
        get_ok(browser, logs, "/organizations/new/")
    wait_until(lambda: served_by(logs, alive, "/organizations/new/") >= before[alive] + 8, 5, tails(logs))
    after = {address: served_by(logs, address, "/organizations/new/") for address in REPLICAS}
    assert after == {dead: before[dead], alive: before[alive] + 8}, f"{before} -> {after}\n{tails(logs)}"
    # The web container's healthcheck says which one is gone.
    for address, expected in ((alive, 0), (dead, 1)):
        check = subprocess.run(
            [sys.executable, "deploy/healthcheck.py"],
            cwd=ROOT,
            env={**stack["env"], "HEALTHCHECK_URL": f"http://{address}:{stack['app_port']}/healthz"},
            capture_output=True,
        )
        assert check.returncode == expected, f"{address}: {check.stderr}\n{tails(logs)}"


def test_media_is_blocked_and_http_redirects_to_https(stack):
    browser, logs = stack["browser"], stack["stack"]
    status, _, _ = browser.request("GET", "/media/health_check_storage_test/anything.txt")
    assert status == 404
    assert not any(served_by(logs, address, "/media/health_check_storage_test/anything.txt") for address in REPLICAS)

    conn = http.client.HTTPConnection("127.0.0.1", stack["http_port"], timeout=10)
    conn.request("GET", "/login/?next=/x", headers={"Host": HOST})
    response = conn.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == f"https://{HOST}/login/?next=/x"

    status, _, body = browser.request("GET", "/nginx-health")
    assert (status, body) == (200, "ok\n")


def test_readiness_through_the_proxy_sees_database_redis_worker_and_storage(stack):
    browser, logs = stack["browser"], stack["stack"]
    answers = []

    def ready() -> bool:  # the worker may still be starting
        answers.append(browser.request("GET", "/readyz", headers={"Accept": "application/json"}))
        return answers[-1][0] == 200

    wait_until(ready, message=f"{answers[-1:]}\n{logs.logs['worker'].read_text()[-3000:]}")
    results = json.loads(answers[-1][2])
    assert {name.split("(")[0] for name in results} == {"Database", "Cache", "WritableStorage", "Redis", "CeleryWorker"}
    assert set(results.values()) == {"OK"}

    # The worker container's healthcheck, as compose runs it (celery@$HOSTNAME answers).
    test = COMPOSE["services"]["worker"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    env = {**stack["env"], "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # the image's `celery`
    check = subprocess.run(["sh", "-c", interpolate(test[1], {})], cwd=ROOT, env=env, capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "celery beat v" in logs.logs["beat"].read_text()
    assert logs.processes["beat"].poll() is None  # beat keeps running


def test_the_compose_file_is_the_production_shape():
    services = COMPOSE["services"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert "migrate" not in services[name]["command"]
    published = {name for name, service in services.items() if "ports" in service}
    assert published == {"proxy", "mail"}  # web publishes nothing: `--scale web=3` works
    assert services["proxy"]["environment"]["TANDEM_UPSTREAM"] == "web:8000"
    assert services["proxy"]["environment"]["TANDEM_RESOLVER"] == "127.0.0.11"
