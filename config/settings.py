"""Settings for the after-sales service desk, read from the environment.

Every setting that differs between a laptop and production comes from an
environment variable (see README.md, "Configuration"). ``config.embedded``
fills in DATABASE_URL and REDIS_URL with embedded servers when they are unset.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from redis.backoff import NoBackoff
from redis.retry import Retry

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set it in the environment (any long random string); "
        "'make run' and 'make test' generate one under .data/ for local use."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
DESK_NAME = env.str("DESK_NAME", default="")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "axes",
    "csp",
    "django_htmx",
    "tickets",
    "outbox",
    "surveys",
    "kpis",
    "complaints",
    "notifications",
    "mailboxes",
    "config.apps.DeskConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.BusyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
                "config.context_processors.desk",
            ],
        },
    },
]

# PostgreSQL only. CONN_HEALTH_CHECKS lets web and worker processes survive a
# database restart without being restarted themselves.
DATABASES = {"default": env.db_url("DATABASE_URL")}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://…).")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
# A web request never waits for ever: on a row another transaction holds, it gives up after
# DATABASE_LOCK_TIMEOUT and answers "busy, try again" with what was typed (config.middleware);
# a runaway query ends at DATABASE_STATEMENT_TIMEOUT. Celery workers and beat (config/celery.py)
# and manage.py commands (migrations, refresh_kpis) get the longer BACKGROUND_* limits.
DATABASE_LOCK_TIMEOUT = env.str("DATABASE_LOCK_TIMEOUT", default="3s")
DATABASE_STATEMENT_TIMEOUT = env.str("DATABASE_STATEMENT_TIMEOUT", default="30s")
BACKGROUND_LOCK_TIMEOUT = env.str("BACKGROUND_LOCK_TIMEOUT", default="60s")
BACKGROUND_STATEMENT_TIMEOUT = env.str("BACKGROUND_STATEMENT_TIMEOUT", default="0")  # 0: no limit
_background = env.bool("DESK_BACKGROUND", default=False)
DATABASES["default"]["OPTIONS"]["options"] = " ".join([
    DATABASES["default"]["OPTIONS"].get("options", ""),
    f"-c lock_timeout={BACKGROUND_LOCK_TIMEOUT if _background else DATABASE_LOCK_TIMEOUT}",
    f"-c statement_timeout={BACKGROUND_STATEMENT_TIMEOUT if _background else DATABASE_STATEMENT_TIMEOUT}",
]).strip()  # fmt: skip
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins are counted per user name and address (django-axes): after
# AXES_FAILURE_LIMIT failures that pair is locked out for AXES_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.views.locked_out"
AXES_VERBOSE = False
# A password-reset link works once, for this long.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_HOURS", default=2) * 3600
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tickets:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    # Attachments and held mails: a folder (MEDIA_ROOT) unless another Django storage is named, e.g.
    # an S3-compatible one (docs/mail.md): ATTACHMENT_STORAGE and its ATTACHMENT_STORAGE_OPTIONS (JSON).
    "default": {
        "BACKEND": env.str("ATTACHMENT_STORAGE", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env.json("ATTACHMENT_STORAGE_OPTIONS", default={}),
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Attachments (tickets.Attachment) go through Django's storage API (STORAGES["default"] above).
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / ".data" / "media"))
MEDIA_URL = "/media/"  # never served as such: files go out through tickets:attachment only
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=20 * 1024 * 1024)
ATTACHMENT_MAX_TOTAL_BYTES = env.int("ATTACHMENT_MAX_TOTAL_BYTES", default=25 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
    # Rate-limit counters (django-ratelimit): the same Redis, but a request never waits on it or fails
    # because of it (short timeouts, no retries, errors read as "not counted": config.cache).
    "ratelimit": {
        "BACKEND": "config.cache.ForgivingRedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 0.3, "socket_timeout": 0.3, "retry": Retry(NoBackoff(), 0)},
    },
    # Rendered fragments that never change (a sent survey's blank form), in each process's own
    # memory: they cost no round trip and keep working while Redis is away.
    "fragments": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "fragments"},
    # The body of a dashboard as the latest KPI run left it (kpis.views.dashboard): a few dozen in
    # each process, each kept until a run or a target changes it or ten minutes pass.
    "dashboards": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "dashboards",
        "TIMEOUT": 600,
        "OPTIONS": {"MAX_ENTRIES": 50},
    },
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# Security: on by default, relaxed only when DEBUG is asked for.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
X_FRAME_OPTIONS = "DENY"
# Pages load scripts, styles and images from the desk itself only: no inline script or style.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Celery: Redis broker; periodic tasks stored in the database (django-celery-beat).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# Several desks (production, staging) may share one Redis: each consumes its own queue.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# A request must not hang on a broker outage: publishing fails fast and the
# outbox / beat sweepers pick the work up later.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = 2

# E-mail: written to the outbox table, sent by workers. EMAIL_URL is e.g.
# smtp+tls://user:password@smtp.example.com:587 ; with DEBUG and no EMAIL_URL,
# messages are kept in the outbox (see /dev/outbox/) and go nowhere.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="dummymail://" if DEBUG else "smtp://localhost:25")
vars().update(EMAIL_CONFIG)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="service-desk@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The assignee is warned when this share of a ticket's SLA allowance (in working time) has passed.
SLA_WARNING_SHARE = env.float("SLA_WARNING_SHARE", default=0.75)
# Follow-up calls (电话回访): resolved tickets of customers without an e-mail address, and (when
# true) those whose e-mailed survey expired unanswered, wait in the call queue for this many days;
# an unanswered customer is tried at most this many times, on different days.
FOLLOW_UP_CALL_DAYS = env.int("FOLLOW_UP_CALL_DAYS", default=30)
FOLLOW_UP_CALL_ATTEMPTS = env.int("FOLLOW_UP_CALL_ATTEMPTS", default=3)
FOLLOW_UP_CALL_AFTER_EXPIRY = env.bool("FOLLOW_UP_CALL_AFTER_EXPIRY", default=True)
# A complaint's handler is e-mailed this many hours before an appointment with the customer.
COMPLAINT_APPOINTMENT_REMINDER_HOURS = env.int("COMPLAINT_APPOINTMENT_REMINDER_HOURS", default=2)
# A KPI run also reads the rows changed this long before the previous run started: changes whose
# transaction committed after that run began (re-reading a row adds nothing twice).
KPI_RUN_OVERLAP_SECONDS = env.int("KPI_RUN_OVERLAP_SECONDS", default=300)
# Waiting for the customer stops a ticket's resolution clock for at most this many days.
TICKET_PAUSE_CAP_DAYS = env.int("TICKET_PAUSE_CAP_DAYS", default=7)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)
# Seconds a request waits on the broker to hand a message to a worker; the sweeper covers the rest.
OUTBOX_PUBLISH_TIMEOUT = env.float("OUTBOX_PUBLISH_TIMEOUT", default=0.3)

# Inbound e-mail (mailboxes): a CA bundle to trust for IMAP over TLS besides the system's (a
# company CA, a test server); the acknowledgement and the reopening window are set per mailbox.
IMAP_CA_FILE = env.str("IMAP_CA_FILE", default="")
IMAP_TIMEOUT = env.int("IMAP_TIMEOUT", default=30)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "config.schema.DeskAutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    # JSON only in production; the browsable API is a development aid.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "After-sales Service Desk API",
    "DESCRIPTION": "Tickets, complaints, surveys and KPIs of the after-sales service desk.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Two choice sets are both called "channel": the ticket's and the complaint confirmation's.
    "ENUM_NAME_OVERRIDES": {
        "TicketChannelEnum": "tickets.models.Channel",
        "ConfirmationChannelEnum": "complaints.models.ConfirmationChannel",
    },
}

# Rate limits (django-ratelimit) count in the Redis cache.
RATELIMIT_USE_CACHE = "ratelimit"
# With Redis away the limits cannot count: the desk keeps answering (the survey page, the API)
# rather than turning every rate-limited page into an error.
RATELIMIT_FAIL_OPEN = True
# Off only for a load test from one address (bench/load_bench.py); never in production.
RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
RATELIMIT_VIEW = "config.views.rate_limited"
# Survey pages opened from one address: a mail scanner opening one link a few times passes,
# a scanner guessing tokens does not.
SURVEY_GET_RATE = env.str("SURVEY_GET_RATE", default="30/m")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "one_line_security": {"()": "config.logs.OneLineSecurityWarnings"},
        "mask_secrets": {"()": "config.logs.MaskSecretPaths"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["one_line_security", "mask_secrets"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes logs every successful login at INFO; lock-outs are warnings.
    "loggers": {"axes": {"level": "WARNING"}},
}
