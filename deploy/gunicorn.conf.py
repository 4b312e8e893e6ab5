"""gunicorn for the `web` service: every setting from the environment, with these defaults.

GUNICORN_BIND (0.0.0.0:8000), GUNICORN_WORKERS (3 processes per container: scale out with more
containers, `--scale web=N`), GUNICORN_TIMEOUT (60 s before a stuck worker is killed and
replaced), GUNICORN_GRACEFUL_TIMEOUT (30 s to finish requests on stop), GUNICORN_KEEPALIVE
(5 s, behind the proxy). The access log goes to stdout with the client's address as the proxy
saw it (X-Forwarded-For), the worker's pid and the proxy's request id (X-Request-ID).
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# The heartbeat file of each worker: in memory, not on the container's overlay file system.
shm = "/dev/shm"  # noqa: S108 (gunicorn's own advice for containers; only heartbeat files go there)
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", shm if os.path.isdir(shm) else None)
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
access_log_format = (
    '%({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(M)sms pid=%(p)s request_id=%({x-request-id}i)s "%(a)s"'
)
