"""Settings of the benchmark server: the production shape (DEBUG off, cached templates,
persistent PostgreSQL connections) on this machine, plus a middleware that reports each
response's server time and query count in headers."""

from procurement.settings.base import *  # noqa: F403
from procurement.settings.base import MIDDLEWARE, env

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = 600
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
ROOT_URLCONF = "bench.urls"
MIDDLEWARE = ["bench.middleware.ServerTiming", *MIDDLEWARE]
# Tasks are queued, not run: e-mails and PDFs are a worker's job, not the request's.
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_URL = "memory://"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AXES_ENABLED = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
