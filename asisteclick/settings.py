"""AsisteClick settings: everything comes from the environment.

With nothing set, the project runs on the embedded default (SQLite file, in-memory channel
layer, Celery tasks run in-process on commit) so a newcomer needs nothing installed.
Production sets DATABASE_URL (PostgreSQL, psycopg 3) and REDIS_URL (Celery broker and the
channels-redis layer). Any secret may also be given as NAME_FILE pointing at a file.
"""
from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("ASISTE_DATA_DIR", BASE_DIR / "var"))


def env(name: str, default: str | None = None) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE (Docker/K8s secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:  # a typo in a secret path must fail loudly, not fall back
            raise ImproperlyConfigured(f"{name}_FILE={file_path!r} cannot be read: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = env(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = env(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if DEBUG or env_bool("ASISTE_EMBEDDED", True) and not env("DATABASE_URL"):
        # Embedded/demo default only; production sets SECRET_KEY (check --deploy enforces it).
        SECRET_KEY = "embedded-demo-insecure-key-set-SECRET_KEY-in-production-0123456789abcdef"
    else:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set outside the embedded default")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_htmx",
    "channels",
    "django_celery_beat",
    "axes",
    "csp",
    "apps.core",
    "apps.accounts",
    "apps.roles",
    "apps.departments",
    "apps.conversations",
    "apps.knowledge",
    "apps.agent",
    "apps.routing",
    "apps.reports",
    "apps.integrations",
    "apps.workspace",
    "apps.copilot",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "apps.accounts.middleware.UserLanguageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "apps.core.middleware.HostileInputMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.accounts.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Innermost but for axes (which must be last and passes database errors on): a view's database
    # error becomes 503 + Retry-After instead of a 500.
    "apps.core.middleware.DatabaseUnavailableMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "asisteclick.urls"
WSGI_APPLICATION = "asisteclick.wsgi.application"
ASGI_APPLICATION = "asisteclick.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.roles.context_processors.roles",
                "apps.routing.context_processors.presence",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL")
# PostgreSQL connections are bounded per process by a psycopg 3 pool (Django's "pool" option) when
# DB_POOL_MAX > 0: at most DB_POOL_MAX per process (each daphne, each Celery child, beat), whatever
# the burst. A request that finds all of them busy waits DB_POOL_TIMEOUT seconds, then gets 503
# (Retry-After). So the server needs max_connections above (web processes + worker children + 1) x
# DB_POOL_MAX plus what psql/admin tools use. Production sets it (README, "Run the processes");
# the code default stays 0 (no pool: CONN_MAX_AGE=0 closes each connection when its request or
# task ends, but nothing bounds how many requests hold one at once). Pooled connections across
# forks and Celery's worker start (the cause of "another command is already in progress"):
# asisteclick/dbpool.py.
DB_POOL_MAX = env_int("DB_POOL_MAX", 0)
DB_POOL_MIN = env_int("DB_POOL_MIN", 0)
DB_POOL_TIMEOUT = float(env("DB_POOL_TIMEOUT", "10") or 10)
DB_POOL_MAX_IDLE = float(env("DB_POOL_MAX_IDLE", "60") or 60)
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})
        if DB_POOL_MAX > 0:
            if DB_POOL_MIN > DB_POOL_MAX:
                raise ImproperlyConfigured("DB_POOL_MIN must not exceed DB_POOL_MAX")
            DATABASES["default"]["CONN_MAX_AGE"] = 0  # required by the pool: connections go back after each request
            DATABASES["default"]["OPTIONS"]["pool"] = {"min_size": DB_POOL_MIN, "max_size": DB_POOL_MAX,
                                                       "timeout": DB_POOL_TIMEOUT, "max_idle": DB_POOL_MAX_IDLE}
        else:
            DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH", str(DATA_DIR / "asisteclick.sqlite3")),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
            # One test database per test run (child processes inherit the run's id), so two runs at
            # once (two terminals, a helper script) never share, and corrupt, one file.
            "TEST": {"NAME": env("SQLITE_TEST_PATH") or str(
                DATA_DIR / f"test-{os.environ.setdefault('ASISTE_TEST_RUN', str(os.getpid()))}.sqlite3")},
        }
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# Hot compiled queries (apps/core/sqlcache.py) become server-side prepared statements from their
# second run on a connection; 0 behind a transaction-mode pooler that cannot keep them.
SQLCACHE_PREPARE = env_bool("SQLCACHE_PREPARE", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "apps.accounts.lockout.LockoutBackend",  # django-axes: refuses a locked account/address first
    # Django's ModelBackend with the per-request user read compiled once (apps/core/sqlcache.py).
    # Sessions signed in through django.contrib.auth.backends.ModelBackend end: sign in once more.
    "apps.accounts.backends.UserBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Django's database sessions, the per-request read compiled once (apps/accounts/sessions.py).
SESSION_ENGINE = "apps.accounts.sessions"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None  # no guardian anonymous user row: anonymous visitors see nothing

# --- Redis, Celery, Channels ----------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
if REDIS_URL:
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
    CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env("CHANNELS_PREFIX", "asiste")},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # Embedded default: tasks run in-process (they are still enqueued on commit), in-memory layer.
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", "memory://")
    CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", True)
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TASK_EAGER_PROPAGATES = env_bool("CELERY_TASK_EAGER_PROPAGATES", False)
# Separate queues, so a backlog of one kind of work never delays another: a burst of AI Agent
# turns must not hold up handoffs (routing) or outgoing messages. A worker started without -Q
# consumes all of them; production runs workers per queue (README, "Run the processes").
CELERY_TASK_DEFAULT_QUEUE = "default"  # inbound webhook processing and anything not routed below
# A worker takes from its queues in the order of its -Q list, not round robin: the operations worker
# (-Q routing,default,housekeeping,outbound) routes a handoff before anything else waiting, however
# deep the outbound backlog. (Round robin made a handoff wait its turn behind every other queue:
# 97 s p95 at full scale in bench/faults.py.)
CELERY_BROKER_TRANSPORT_OPTIONS = {"queue_order_strategy": "priority"}
CELERY_TASK_QUEUES = {name: {"routing_key": name} for name in
                      ("default", "agent", "routing", "outbound", "housekeeping")}
CELERY_TASK_ROUTES = {
    "apps.conversations.tasks.conversation_bot_turn": {"queue": "agent"},
    "apps.conversations.tasks.conversation_route": {"queue": "routing"},
    "routing.*": {"queue": "routing"},
    "apps.conversations.tasks.conversation_deliver_message": {"queue": "outbound"},
    "apps.integrations.tasks.outbound_deliver": {"queue": "outbound"},
    "apps.integrations.tasks.outbound_deliver_many": {"queue": "outbound"},
    "apps.integrations.tasks.webhook_deliver": {"queue": "outbound"},
    "apps.agent.tasks.*": {"queue": "housekeeping"},
    "apps.integrations.tasks.*_sweep": {"queue": "housekeeping"},
    "apps.integrations.tasks.email_poll": {"queue": "housekeeping"},
    "apps.integrations.tasks.housekeeping": {"queue": "housekeeping"},
    "apps.knowledge.tasks.*": {"queue": "housekeeping"},
    "reports.*": {"queue": "housekeeping"},
}
# The AI Agent's reconcile leaves a turn queued less than this long ago alone (it is waiting in a
# backlog); older, it counts as lost and is queued again.
AGENT_TURN_QUEUED_MAX_SECONDS = env_int("AGENT_TURN_QUEUED_MAX_SECONDS", 300)
# Periodic tasks in code, so a plain `celery beat` runs them; django_celery_beat's DatabaseScheduler
# copies these entries into its tables on start (Operators may then tune them in the admin).
ROUTING_SWEEP_SECONDS = env_int("ROUTING_SWEEP_SECONDS", 15)
# Presence follows people: a closed last tab -> "away" after the grace, -> "offline" (chats reclaimed) after a long absence.
ROUTING_AWAY_GRACE_SECONDS = env_int("ROUTING_AWAY_GRACE_SECONDS", 300)
ROUTING_ABSENCE_OFFLINE_MINUTES = env_int("ROUTING_ABSENCE_OFFLINE_MINUTES", 30)
ROUTING_CLAIM_LEASE_SECONDS = env_int("ROUTING_CLAIM_LEASE_SECONDS", 120)
# Outgoing messages: attempts before a send is given up (the human sees why), the backoff, and how
# often beat looks for unfinished sends (crashed workers, lost tasks, due retries).
OUTBOUND_MAX_ATTEMPTS = env_int("OUTBOUND_MAX_ATTEMPTS", 10)
OUTBOUND_RETRY_BASE_SECONDS = env_int("OUTBOUND_RETRY_BASE_SECONDS", 5)
OUTBOUND_RETRY_MAX_SECONDS = env_int("OUTBOUND_RETRY_MAX_SECONDS", 600)
OUTBOUND_SWEEP_SECONDS = env_int("OUTBOUND_SWEEP_SECONDS", 15)
# A send whose task waits in the queue is left alone this long before the sweep counts it as lost
# (longer than a full-scale backlog; a crashed worker is redelivered when its 2-minute lease ends).
OUTBOUND_QUEUED_MAX_SECONDS = env_int("OUTBOUND_QUEUED_MAX_SECONDS", 600)
CELERY_BEAT_SCHEDULE = {
    "routing-sweep": {"task": "routing.sweep", "schedule": float(ROUTING_SWEEP_SECONDS),
                      "options": {"expires": float(ROUTING_SWEEP_SECONDS)}},
}

# --- i18n / time ------------------------------------------------------------------------------
LANGUAGE_CODE = env("LANGUAGE_CODE", "es")
LANGUAGES = [("es", "Español"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
from asisteclick.catalogues import compile_catalogues  # noqa: E402

compile_catalogues(BASE_DIR)  # before Django caches any catalogue
USE_I18N = True
TIME_ZONE = env("TIME_ZONE", "America/Argentina/Buenos_Aires")
USE_TZ = True

# --- Static ----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
# The embedded default serves static files straight from the source folders (no collectstatic
# step for a newcomer); production runs collectstatic and serves the hashed copies.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", not DATABASE_URL)
WHITENOISE_AUTOREFRESH = env_bool("WHITENOISE_AUTOREFRESH", not DATABASE_URL)
try:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request otherwise
except OSError:
    pass
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env_bool("STATIC_MANIFEST", bool(DATABASE_URL))
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
MESSAGE_MAX_CHARS = env_int("MESSAGE_MAX_CHARS", 4096)
# Attachments: stored outside the web root, served only through the visibility check.
ATTACHMENTS_ROOT = Path(env("ATTACHMENTS_ROOT", str(DATA_DIR / "attachments")))
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)

# --- Security ---------------------------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG and bool(DATABASE_URL))
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG and bool(DATABASE_URL))
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG and bool(DATABASE_URL))
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if not DEBUG and DATABASE_URL else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Login throttling (django-axes, attempts in the database so every web process sees them): after
# LOGIN_FAILURE_LIMIT wrong passwords for one account, or from one address, both are locked for
# LOGIN_LOCKOUT_MINUTES. An Operator unlocks sooner in the admin (Users > "Unlock login").
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = env_int("LOGIN_LOCKOUT_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = "apps.accounts.lockout.lockout_parameters"
AXES_LOCKOUT_CALLABLE = "apps.accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if env_bool("BEHIND_TLS_PROXY", False) \
    else ("REMOTE_ADDR",)
AXES_IPWARE_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1) if env_bool("BEHIND_TLS_PROXY", False) else None
# Content-Security-Policy (django-csp): only this origin's scripts and styles, no inline code (the
# few inline blocks of third-party pages carry the per-request nonce), nothing framed, forms post
# here only. The web chat widget is a static script other sites load; it needs no exception here.
from csp.constants import NONCE, NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],  # CSP level 3: 'self' includes ws:/wss: to this host (the live socket)
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}
# Inbound JSON (API, webhooks, widget socket): larger or deeper bodies are a 400, never a 500.
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 32)
JSON_MAX_BYTES = env_int("JSON_MAX_BYTES", 1024 * 1024)

# --- DRF ---------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Depth/size-bounded JSON; forms refuse control characters (apps/core/hostile.py).
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.BoundedJSONParser", "apps.core.parsers.CheckedFormParser",
                               "apps.core.parsers.CheckedMultiPartParser"],
}
SPECTACULAR_SETTINGS = {"TITLE": "AsisteClick API", "VERSION": "1.0.0", "SERVE_INCLUDE_SCHEMA": False,
                        # Docs UI assets ship in drf-spectacular-sidecar (served locally, no CDN).
                        "SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR", "REDOC_DIST": "SIDECAR"}

# --- Email ---------------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend" if DATABASE_URL else "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "AsisteClick <noreply@localhost>")

# --- AI agent ------------------------------------------------------------------------------------
AGENT_PROVIDER = env("AGENT_PROVIDER", "local")  # "local" (offline) or "openai"
# Copilot for humans: "" follows AGENT_PROVIDER; "local" or "openai" to choose it separately.
COPILOT_PROVIDER = env("COPILOT_PROVIDER", "")
OPENAI_API_KEY = env("OPENAI_API_KEY")
OPENAI_BASE_URL = env("OPENAI_BASE_URL")
OPENAI_MODEL = env("OPENAI_MODEL", "gpt-4o-mini")
# The AI Agent's model call runs while the customer waits (and the turn holds the chat's row lock):
# 8 s per attempt, one retry. The copilot's calls have their own, shorter budget (a human is
# waiting in the panel; on failure the offline draft is shown at once): 5 s, no retry.
OPENAI_TIMEOUT = float(env("OPENAI_TIMEOUT", "8") or 8)
OPENAI_MAX_RETRIES = env_int("OPENAI_MAX_RETRIES", 1)
COPILOT_TIMEOUT = float(env("COPILOT_TIMEOUT", "5") or 5)
COPILOT_MAX_RETRIES = env_int("COPILOT_MAX_RETRIES", 0)
# The company name the AI Agent uses is configuration (agent_config `company_name`), not the environment.
AGENT_CRM_URL = env("AGENT_CRM_URL", "")  # empty: the in-process demo CRM (apps/agent/tools.py)
AGENT_CRM_TOKEN = env("AGENT_CRM_TOKEN", "")
AGENT_CRM_TIMEOUT = float(env("AGENT_CRM_TIMEOUT", "5") or 5)
EMBEDDINGS_PROVIDER = env("EMBEDDINGS_PROVIDER", "local")
CHROMA_URL = env("CHROMA_URL")
CHROMA_PATH = env("CHROMA_PATH", str(DATA_DIR / "chroma"))
OPENAI_EMBEDDINGS_MODEL = env("OPENAI_EMBEDDINGS_MODEL", "text-embedding-3-small")
KB_MAX_UPLOAD_MB = env_int("KB_MAX_UPLOAD_MB", 20)  # largest knowledge-base file accepted
KB_LEXICAL_WEIGHT = float(env("KB_LEXICAL_WEIGHT", "0.5") or 0.5)  # TF-IDF share of the search ranking
KB_MATRIX_MAX_CHUNKS = env_int("KB_MATRIX_MAX_CHUNKS", 300_000)  # above: search via chromadb's index

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"},
                "axes": {"level": env("AXES_LOG_LEVEL", "WARNING")},  # lockouts, not every attempt
                # One line per task run drowns the demo console; failures still log as errors.
                "celery.app.trace": {"level": env("CELERY_TRACE_LOG_LEVEL", "WARNING")}},
}
