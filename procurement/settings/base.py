"""Settings shared by every way of running Tandem.

Every value comes from the environment (django-environ). The defaults are those of the
embedded demo: SQLite, Celery tasks run eagerly in-process, e-mail written to files under
``var/mail``. ``production.py`` refuses to start without the values a real deployment needs.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)
# Only for the embedded demo; production.py requires SECRET_KEY from the environment.
SECRET_KEY = env("SECRET_KEY", default="insecure-embedded-demo-key-never-use-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "procurement.apps.TandemAdminConfig",  # django.contrib.admin with a scoped site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "guardian",
    "axes",
    "anymail",
    "accounts",
    "orders",
    "billing",
    "approvals",
    "home",  # on top of every app: the home page and the demo data
]
# --- Health (deploy): /healthz and /readyz; the readiness checks are in procurement/health.py ---
INSTALLED_APPS += ["health_check"]  # django-health-check: its status page template
# --- end Health ---

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before anything reads the request (CSRF reads the body): NUL bytes, upload names not in UTF-8.
    "procurement.hygiene.RequestHygieneMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.IdleSessionMiddleware",
    # After messages: tells the person when their action's background work waits for the broker.
    "procurement.background.DeferredWorkMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.ActiveOrganizationMiddleware",
    # Axes must come last: it turns failed log-ins into lock-outs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "procurement.urls"
WSGI_APPLICATION = "procurement.wsgi.application"
ASGI_APPLICATION = "procurement.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "home.context_processors.tenancy",
            ],
            "builtins": [
                "procurement.templatetags.money",
                "accounts.templatetags.tenancy",
                "accounts.templatetags.ui",
            ],
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a writer instead of failing at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out (username, IP) pair before anything else runs.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
# A session ends after SESSION_IDLE_MINUTES without a request (accounts.middleware), and at the
# latest SESSION_COOKIE_AGE after log-in, however active.
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=60)
SESSION_MAX_HOURS = env.int("SESSION_MAX_HOURS", default=12)
SESSION_COOKIE_AGE = SESSION_MAX_HOURS * 60 * 60
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# django-guardian: no anonymous user object; permissions are only ever granted to members.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

# django-axes: a failed log-in counts against the (username, IP) pair, so nobody can lock a
# victim out from another address by guessing their password.
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# …and one address spraying passwords at many accounts is paused for all of them (accounts.auth).
AXES_HANDLER = "accounts.auth.LockoutHandler"
AXES_IP_FAILURE_LIMIT = env.int("AXES_IP_FAILURE_LIMIT", default=20)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_USERNAME_CALLABLE = "accounts.auth.axes_username"
# The client's address: REMOTE_ADDR, or behind a proxy the header it sets (compose's nginx sets
# X-Real-IP to the address it saw; CLIENT_IP_HEADER=X-Real-IP). Never a header a client could set
# itself: only the proxy must reach the app.
AXES_CLIENT_IP_CALLABLE = "accounts.auth.client_ip"
CLIENT_IP_HEADER = env("CLIENT_IP_HEADER", default="")

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env("STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploads: a listings CSV may be 5 MB at most; the form says so before anything is parsed.
LISTING_IMPORT_MAX_BYTES = env.int("LISTING_IMPORT_MAX_BYTES", default=5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# E-mail: every message goes through the outbox and a Celery task (accounts.mail).
# Demo default: one file per message batch under var/mail. Production: an anymail ESP.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Tandem <no-reply@tandem.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ANYMAIL = {key.removeprefix("ANYMAIL_"): value for key, value in env.ENVIRON.items() if key.startswith("ANYMAIL_")}
EMAIL_ATTACHMENT_RENDERERS = {
    "purchase_order_pdf": "orders.pdf.purchase_order_attachment",
    "invoice_pdf": "billing.pdf.invoice_attachment",
    "bill_pdf": "billing.pdf.bill_attachment",
    "credit_note_pdf": "billing.pdf.credit_note_attachment",
    "debit_note_pdf": "billing.pdf.debit_note_attachment",
}
# Absolute links in e-mails (no request at hand in a Celery task).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Celery: with REDIS_URL, a real broker and separate workers; without, tasks run in-process.
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task taken by a worker that dies before acknowledging it (acks_late) is handed out again
# once it has been unacknowledged this long: longer than any task runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    # A broker that is down answers at once; one that is unreachable, or stalled with the TCP
    # connection still open, must not hold a request long (kombu waits for ever without these).
    "socket_connect_timeout": 2,
    "socket_timeout": 5,  # above kombu's 1 s BRPOP, so a worker's long poll is not cut
}
# Publishing a task tries a little, then gives up (procurement.background.enqueue tells the person).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "expire-purchase-orders": {
        "task": "orders.tasks.expire_purchase_orders",
        "schedule": timedelta(hours=1),
    },
    "remind-approvers": {
        "task": "approvals.tasks.send_approval_reminders",
        "schedule": crontab(hour=8, minute=0),  # each morning; a step is reminded once a day
    },
    "deliver-pending-emails": {
        "task": "accounts.tasks.deliver_pending_emails",
        "schedule": timedelta(minutes=5),  # failed ones again, and queued ones the broker never took
    },
    "resume-listing-imports": {
        "task": "orders.tasks.resume_listing_imports",
        "schedule": timedelta(minutes=5),  # an upload whose task never reached the broker
    },
    "issue-missing-documents": {
        "task": "billing.tasks.issue_missing_documents",
        "schedule": timedelta(minutes=10),  # a confirmation whose task never reached the broker
    },
    "issue-missing-credit-notes": {
        "task": "billing.tasks.issue_missing_credit_notes",
        "schedule": timedelta(minutes=10),  # a return received back whose task never reached the broker
    },
    "remind-overdue-bills": {
        "task": "billing.tasks.remind_overdue_bills",
        "schedule": crontab(hour=8, minute=15),
    },
    "record-missing-fx": {
        "task": "billing.tasks.record_missing_fx",
        "schedule": crontab(hour=2, minute=30),  # the night's catch-up of FX figures
    },
}

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

MESSAGE_TAGS = {40: "danger"}

# --- ops --- logs, errors, media storage (procurement/observability.py; README "Operations")
from procurement.observability import init_sentry, logging_config, parse_admins  # noqa: E402

# Every response carries X-Request-ID (first middleware); the view's user and organization ids
# join the request id on every log line (after the tenancy middleware).
MIDDLEWARE = ["procurement.observability.RequestIdMiddleware", *MIDDLEWARE]
MIDDLEWARE.insert(
    MIDDLEWARE.index("accounts.middleware.ActiveOrganizationMiddleware") + 1,
    "procurement.observability.RequestContextMiddleware",
)
# Readable text lines for the demo; one JSON object a line with LOG_FORMAT=json (production's default).
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = logging_config(fmt=LOG_FORMAT, level=LOG_LEVEL)
# A Celery worker keeps these handlers (and their request/task fields) instead of its own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Errors: Sentry when SENTRY_DSN is set, otherwise Django's error e-mails to ADMINS
# ("Ann Ops <ann@example.com>,bob@example.com"), which never show what was posted.
SENTRY_DSN = env("SENTRY_DSN", default="")
ADMINS = [] if SENTRY_DSN else parse_admins(env("ADMINS", default=""))
DEFAULT_EXCEPTION_REPORTER_FILTER = "procurement.observability.PrivateExceptionReporterFilter"
if SENTRY_DSN:
    init_sentry(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        release=env("SENTRY_RELEASE", default=""),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# Media (proofs of payment): the local volume (MEDIA_ROOT) unless MEDIA_STORAGE=s3, then a
# private bucket of any S3-compatible store. Files are only ever served through the app's
# authorized views (no public URL, no MEDIA_URL route).
MEDIA_STORAGE = env("MEDIA_STORAGE", default="local")
if MEDIA_STORAGE == "s3":
    MEDIA_STORAGE_BACKEND = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            "location": env("AWS_LOCATION", default=""),
            "default_acl": None,  # the bucket's policy decides: private
            "querystring_auth": True,  # a URL, if one is ever made, is signed and expires
            "file_overwrite": False,
            "addressing_style": env("AWS_S3_ADDRESSING_STYLE", default=None),
        },
    }
elif MEDIA_STORAGE == "local":
    MEDIA_STORAGE_BACKEND = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    from django.core.exceptions import ImproperlyConfigured  # noqa: E402

    raise ImproperlyConfigured(f"MEDIA_STORAGE must be 'local' or 's3', not {MEDIA_STORAGE!r}.")
STORAGES = {**STORAGES, "default": MEDIA_STORAGE_BACKEND}
# --- end ops ---

# --- security headers ---
# Sent on every response in every settings module (production only adds HSTS, which Django's
# SecurityMiddleware sends on secure requests alone). procurement/middleware.py says who sends what.
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
MIDDLEWARE.insert(
    MIDDLEWARE.index("csp.middleware.CSPMiddleware") + 1, "procurement.middleware.PermissionsPolicyMiddleware"
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "procurement.middleware.NoStoreForAuthenticatedMiddleware",
)
# django-csp 4.0: nothing inline is allowed. Behaviour lives in static/js/tandem.js, styles in
# static/css/tandem.css; htmx is told not to inject its indicator <style> (templates/base.html).
# Django 5.2's admin needs no exception: its pages load their scripts from files and set styles
# through the CSSOM (tests/test_crawl.py and tests/e2e/test_security_headers.py check it). Its one
# inline <style> (change_list.html) is written only for a model admin without actions, which
# Tandem does not have; should one appear, give that view a csp_update with the block's hash.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}
# Powerful browser features that no page of Tandem uses, off for every page and frame.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# --- end ---
