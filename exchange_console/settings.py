"""Settings for Exchange Console, all read from the environment (see README.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from exchange_console.embedded_redis import resolve_redis_url
from exchange_console.env import (
    env_bool,
    env_database,
    env_int,
    env_list,
    env_redis_url,
    env_secret_key,
    env_str,
)
from exchange_console.paths import BASE_DIR, VAR_DIR

DJANGO_ENV = env_str("DJANGO_ENV", "development")
if DJANGO_ENV not in ("development", "production"):
    raise ImproperlyConfigured(f"DJANGO_ENV={DJANGO_ENV!r} is unknown. Set DJANGO_ENV to development or production.")
PRODUCTION = DJANGO_ENV == "production"

VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env_secret_key("SECRET_KEY", production=PRODUCTION, key_file=VAR_DIR / "secret_key")
DEBUG = env_bool("DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is not set, and DJANGO_ENV=production requires it. "
        "Set ALLOWED_HOSTS to the host names the console is served under, comma-separated."
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "console.admin_apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "axes",
    "console",
    "engine",
    "incidents",
    "incidents.postmortems",
    "incidents.statuspage",
    "incidents.subscriptions",
    "incidents.maintenance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "console.middleware.RejectNullCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a lockout into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "exchange_console.urls"
ASGI_APPLICATION = "exchange_console.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.console",
            ],
        },
    },
]

# Database: SQLite in var/ unless DATABASE_URL names another (PostgreSQL in production).
# Persistent connections leak under ASGI (one per thread), so they are opt-in.
DATABASES = {
    "default": env_database(
        "DATABASE_URL",
        default_sqlite_path=VAR_DIR / "db.sqlite3",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: the channel layer, the Celery broker and results, and the cache share one server.
REDIS_URL_CONFIGURED = env_redis_url("REDIS_URL")
REDIS_URL = resolve_redis_url(REDIS_URL_CONFIGURED, VAR_DIR / "redis")

CHANNEL_LAYERS = {
    "default": {
        # Pub/sub delivers group messages without per-consumer queues: the measured
        # fan-out winner (PERF_NOTES.md in the team's workshop, and BENCHMARKS.md).
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": "exc:channels"},
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "exc:cache",
        "TIMEOUT": 300,
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_RESULT_EXPIRES = timedelta(hours=1)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic work is declared here, in one place; each capability adds its entries.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Engine health by the minute is kept 90 days for post-mortem charts (issue 4).
    "engine-prune-health": {"task": "engine.prune_health", "schedule": timedelta(hours=6)},
    # Alert rules on the engine's figures: condition to alert within 5 s (issue 6).
    "incidents-evaluate-alert-rules": {"task": "incidents.evaluate_alert_rules", "schedule": timedelta(seconds=2)},
    # Overdue post-mortem action items: each owner is emailed once per due date (issue 6).
    "postmortems-send-action-item-reminders": {
        "task": "postmortems.send_action_item_reminders",
        "schedule": timedelta(hours=1),
    },
    "incidents-record-engine-events": {"task": "incidents.record_engine_events", "schedule": timedelta(seconds=5)},
    # The static status page re-exported on the clock too: uptime bars roll over at midnight.
    "statuspage-export": {"task": "statuspage.export_status_page", "schedule": timedelta(minutes=5)},
    # Maintenance windows start, end and send advance notices within 30 s of their time (issue 8).
    "maintenance-tick": {"task": "maintenance.tick", "schedule": timedelta(seconds=10)},
    # Deliveries a dead worker left half sent are queued again (issue 7).
    "subscriptions-requeue-stale-deliveries": {
        "task": "subscriptions.requeue_stale_deliveries",
        "schedule": timedelta(minutes=5),
    },
}

# The engine: the shard this installation's processes serve unless told otherwise (a market's
# orders go to its own `Market.shard`), and how long the order gateway waits for an
# acknowledgement before answering 503.
ENGINE_SHARD = env_str("ENGINE_SHARD", "main")
ENGINE_ORDER_TIMEOUT = env_int("ENGINE_ORDER_TIMEOUT", 5, minimum=1)
# The public status page (issue 7): its name, the absolute URL customers reach it under (feeds and
# the JSON need absolute links, and the static copy has no request to take them from), and where
# its static copy is exported; nginx serves STATUS_EXPORT_DIR/current (deploy/nginx/status-page.conf).
STATUS_PAGE_NAME = env_str("STATUS_PAGE_NAME", "Exchange status")
STATUS_PAGE_URL = env_str("STATUS_PAGE_URL", "http://127.0.0.1:8000").rstrip("/")
if not STATUS_PAGE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"STATUS_PAGE_URL={STATUS_PAGE_URL!r} is not an absolute URL. Set it to e.g. https://status.example.com"
    )
STATUS_EXPORT_DIR = Path(env_str("STATUS_EXPORT_DIR", str(VAR_DIR / "status-export"))).resolve()
# The web process answers the public pages from that copy, in memory, before Django
# (incidents/statuspage/fastpath.py); false sends every request through Django.
STATUS_FAST_PATH = env_bool("STATUS_FAST_PATH", True)
# A Prometheus scrape of /metrics sends this as a bearer token; unset, only console users may read it.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

# Customer communications (issue 7): subscribe, confirm and unsubscribe links in emails and
# webhooks point at the app's public host — the status page's own unless the static copy is
# served from elsewhere. Mail goes through this SMTP server in production; in development it is
# printed by the worker (`make run` has no mail server), and tests use Django's in-memory outbox.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", STATUS_PAGE_URL).rstrip("/")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "status@localhost")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
# Webhook targets resolving to private, loopback or link-local addresses are refused unless
# an admin allows them here (a sink on the same host, a private network by design).
SUBSCRIPTIONS_ALLOW_PRIVATE_WEBHOOKS = env_bool("SUBSCRIPTIONS_ALLOW_PRIVATE_WEBHOOKS", False)
WEBHOOK_TIMEOUT = env_int("WEBHOOK_TIMEOUT", 5, minimum=1)
# Subscribe requests allowed per client address per ten minutes.
SUBSCRIBE_RATE_LIMIT = env_int("SUBSCRIBE_RATE_LIMIT", 10, minimum=1)

# Authentication: Django's sessions for the console, tokens for the API, and a lockout
# after repeated failures (django-axes) for both.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "console.backends.RoleBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "login"

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=60)
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # load balancers probe over plain HTTP
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes anonymous calls a proper 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Closed by default: an endpoint that forgets its permission still needs a role.
    "DEFAULT_PERMISSION_CLASSES": ["console.permissions.IsConsoleUser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "console.api.exception_handler",
    # Per trading user, across every web process (the counts live in the Redis cache): a client
    # gone wrong is told to slow down (429 with Retry-After) before it can starve the engine.
    "DEFAULT_THROTTLE_RATES": {"trading": env_str("TRADING_RATE_LIMIT", "6000/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Exchange Console API",
    "DESCRIPTION": "Operator API of Exchange Console: engine, incidents, maintenance and audit.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["console.permissions.IsConsoleUser"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Choice sets shared by several fields get one name each in the schema.
    "ENUM_NAME_OVERRIDES": {
        "ComponentStatusEnum": "incidents.models.ComponentStatus",
        "IncidentStatusEnum": "incidents.models.Incident.Status",
        "PostmortemStatusEnum": "incidents.postmortems.models.Postmortem.Status",
        "ActionItemStatusEnum": "incidents.postmortems.models.ActionItem.Status",
        "MaintenanceStatusEnum": "incidents.maintenance.models.MaintenanceWindow.Status",
    },
    "REDOC_DIST": "SIDECAR",
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"  # filled by collectstatic in production
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # Plotly.js for the dashboard's charts, straight from the pinned plotly package (no copy, no CDN).
    "exchange_console.static_finders.PlotlyFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Production serves hashed, compressed copies made by collectstatic; elsewhere
        # whitenoise serves straight from the source folders, so no build step is needed.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
