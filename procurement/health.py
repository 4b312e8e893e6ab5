"""Liveness and readiness, for the proxy, the orchestrator and the operator.

``/healthz`` (liveness, in urls.py) answers as long as the process serves a request: it reads nothing, so a
Redis or database outage never makes an orchestrator restart healthy web processes.
``/readyz`` (readiness, django-health-check) checks what requests and tasks need: the database,
the cache and the Celery broker on Redis, a worker answering a ping, the default storage
writable. It answers 200 when all pass and 503 otherwise, naming each check with ``OK`` or its
reason (HTML, or JSON for ``Accept: application/json``, or text for ``text/plain``).

In the embedded demo (tasks run in-process, no broker) the broker and worker checks are left out:
there is nothing to reach.
"""

from __future__ import annotations

import dataclasses
import datetime

from celery import Celery
from health_check.checks import Cache, Database, Storage
from health_check.contrib.celery import Ping
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from kombu.exceptions import OperationalError
from redis.asyncio import Redis as AsyncRedis

from procurement.celery import app as celery_app

# A readiness probe must answer within the orchestrator's timeout: every wait here is short.
PING_TIMEOUT = datetime.timedelta(seconds=2)
REDIS_SOCKET_TIMEOUT = 2


@dataclasses.dataclass
class CeleryWorker(Ping):
    """At least one worker answers a ping through the broker.

    The library's check pings over a fresh connection that kombu retries for seconds when the
    broker is down, then reports a time-out; connecting once first says what is wrong at once.
    """

    app: Celery = dataclasses.field(default=celery_app, repr=False)
    timeout: datetime.timedelta = dataclasses.field(default=PING_TIMEOUT, repr=False)
    limit: int | None = dataclasses.field(default=1, repr=False)  # one answer is enough

    def run(self):
        with self.app.connection_for_write() as connection:
            try:
                connection.ensure_connection(max_retries=1, timeout=self.timeout.total_seconds())
            except (OperationalError, OSError) as error:
                raise ServiceUnavailable(f"Celery broker unreachable: {error}") from error
            replies = self.app.control.ping(
                timeout=self.timeout.total_seconds(), limit=self.limit, connection=connection
            )
        if not replies:
            raise ServiceUnavailable(f"No Celery worker answered a ping within {self.timeout.total_seconds():g} s")
        self.check_active_queues(*self.active_workers(replies))


@dataclasses.dataclass
class WritableStorage(Storage):
    """The default storage takes a file and gives it back (uploads, generated documents)."""

    def run(self):
        try:
            super().run()
        except OSError as error:  # the library would report only "unknown error"
            raise ServiceUnavailable(f"Cannot write to the default storage: {error.strerror or error}") from error


def _broker_client() -> AsyncRedis:
    return AsyncRedis.from_url(
        celery_app.conf.broker_url,
        socket_connect_timeout=REDIS_SOCKET_TIMEOUT,
        socket_timeout=REDIS_SOCKET_TIMEOUT,
    )


def readiness_checks() -> list:
    checks = [Database(), Cache(), WritableStorage()]
    if not celery_app.conf.task_always_eager:
        if str(celery_app.conf.broker_url).startswith(("redis://", "rediss://")):
            checks.append(Redis(client_factory=_broker_client))
        checks.append(CeleryWorker())
    return checks


class ReadinessView(HealthCheckView):
    """django-health-check's page with this deployment's checks, unhealthy as 503.

    Public (wrapped in ``login_not_required`` in the URLconf): a probe has no session.
    """

    def get_checks(self):
        yield from readiness_checks()

    async def get(self, request, *args, **kwargs):
        response = await super().get(request, *args, **kwargs)
        if response.status_code == 500:  # the library's "some check failed"
            response.status_code = 503  # Service Unavailable: take this replica out, try later
        return response
