"""Settings shared by every environment; values come from the environment through fairlabel.env.

Embedded default (nothing installed): SQLite at var/fairlabel.sqlite3 and a filesystem Celery
broker under var/celery/. DATABASE_URL switches to PostgreSQL, REDIS_URL to Redis.
"""

from datetime import timedelta
from pathlib import Path

import csp.constants as csp
import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from fairlabel.env import env_bool, env_decimal, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("FAIRLABEL_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("SECRET_KEY", "local-only-insecure-key-change-me-in-production-0123456789")
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "axes",
    # Country names in every language (the sign-up list); no model field is used.
    "django_countries",
    "accounts",
    "labeling",
    "workers",
    "payments",
]

MIDDLEWARE = [
    "fairlabel.health.HealthCheckMiddleware",  # first: /healthz skips host validation
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "fairlabel.urls"
WSGI_APPLICATION = "fairlabel.wsgi.application"
ASGI_APPLICATION = "fairlabel.asgi.application"

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
                "accounts.context_processors.navigation",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "fairlabel.sqlite3",
            "OPTIONS": {
                # WAL lets the web server and the worker read while the other writes.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that does not answer must fail fast (callers fall back), never hang.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.DelayedModelBackend",  # ModelBackend behind the per-username delay
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_ENGINE = "fairlabel.sessions"  # database sessions that ignore impossible keys
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# --- Log-in protection (accounts/policies.py; README "Log-in protection") ---------------------
# Proxies whose X-Forwarded-For is believed (addresses or CIDRs): none unless configured.
FAIRLABEL_TRUSTED_PROXIES = env_list("FAIRLABEL_TRUSTED_PROXIES", [])
# Per username, from any address: after this many failures each attempt waits 1 s, doubling up
# to the cap, so that a stranger can slow the owner's log-in but never lock it.
FAIRLABEL_LOGIN_FREE_FAILURES = env_int("FAIRLABEL_LOGIN_FREE_FAILURES", 5)
FAIRLABEL_LOGIN_MAX_DELAY_SECONDS = env_int("FAIRLABEL_LOGIN_MAX_DELAY_SECONDS", 60)
# Token log-ins per address, successes included: a whole shift signing in from one office fits.
FAIRLABEL_LOGIN_RATE = env_str("FAIRLABEL_LOGIN_RATE", "600/min")
# Per address: refused after this many failures within the cool-off (successes never count).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 100)
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_CLIENT_IP_CALLABLE = "fairlabel.client_ip.client_ip"
AXES_RESET_ON_SUCCESS = False  # one person's success must not wipe an address's failures
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # refused attempts do not extend it
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"

# Content-Security-Policy on every response (django-csp): scripts only from our own files, no
# inline script or handler; styles may be inline (style attributes, htmx's indicator style);
# task images may come from anywhere the owner's data points (https or http).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF, csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:", "blob:", "https:", "http:"],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    }
}

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"  # never served directly: files go through permission-checked views
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.RoleTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "fairlabel.schema.AutoSchema",  # + the error answers of every view
    # DRF's parsers, the JSON one refusing NUL characters and deep nesting (fairlabel/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "fairlabel.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "fairlabel.api_errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fairlabel API",
    "DESCRIPTION": "Data labeling that pays and protects the people who label.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for the content categories wherever they appear (projects, consent, flags).
    "ENUM_NAME_OVERRIDES": {"ContentCategoryEnum": "labeling.models.Category"},
    # <id:...> (fairlabel/converters.py): an id that fits PostgreSQL's bigint.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999}
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "fairlabel.schema.add_links",  # which answer leads to which call (stateful tests too)
    ],
}

# --- Celery -------------------------------------------------------------------------------
CELERY_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # A job not acknowledged within this time is handed to another worker: it must outlast the
    # longest hard time limit (acks_late), or a long import would run twice.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 4 * 60 * 60}
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DIR / "queue"),
        "data_folder_out": str(CELERY_DIR / "queue"),
        "processed_folder": str(CELERY_DIR / "processed"),
        "control_folder": str(CELERY_DIR / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{CELERY_DIR / 'results'}"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60 * 60
CELERY_TASK_TIME_LIMIT = 65 * 60
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    # Release assignments that were served and abandoned so their slot returns to the queue.
    "expire-assignments": {
        "task": "labeling.expire_assignments",
        "schedule": timedelta(seconds=30),
    },
    # Close work sessions with no heartbeat for FAIRLABEL_SESSION_TIMEOUT_MINUTES.
    "close-idle-sessions": {
        "task": "workers.close_idle_sessions",
        "schedule": timedelta(seconds=60),
    },
    # Per annotator and day (in its time zone): active, instruction, break time and tasks.
    # Rebuilt from the raw records, so running it again changes nothing.
    "roll-up-work-days": {
        "task": "workers.roll_up_work_days",
        "schedule": timedelta(minutes=15),
    },
}

# --- Jobs that survive a dead worker or broker (labeling/jobs/__init__.py) ----------------
# A running job's lease on its row, renewed every quarter of it; a job whose worker died runs
# again within lease + sweep interval. Failed after this many runs whose worker died.
FAIRLABEL_JOB_LEASE_SECONDS = env_decimal("FAIRLABEL_JOB_LEASE_SECONDS", "60")
FAIRLABEL_JOB_SWEEP_SECONDS = env_decimal("FAIRLABEL_JOB_SWEEP_SECONDS", "30")
FAIRLABEL_JOB_MAX_ATTEMPTS = env_int("FAIRLABEL_JOB_MAX_ATTEMPTS", 3)
if min(FAIRLABEL_JOB_LEASE_SECONDS, FAIRLABEL_JOB_SWEEP_SECONDS) <= 0:
    raise ImproperlyConfigured("FAIRLABEL_JOB_LEASE_SECONDS and _SWEEP_SECONDS must be > 0.")
# Tests give each real worker its own queue, so that jobs the sweep publishes reach it.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
# Queue again the jobs whose lease lapsed (worker killed), and publish the jobs the broker was
# down for (outbox). Idempotent: a job published twice runs once.
CELERY_BEAT_SCHEDULE["sweep-jobs"] = {
    "task": "labeling.jobs_sweep",
    "schedule": timedelta(microseconds=int(FAIRLABEL_JOB_SWEEP_SECONDS * 1_000_000)),
}

# --- Fairlabel policies (DESIGN.md "Policy settings"; sources in SOURCES.md) ----------------
FAIRLABEL_CURRENCY = env_str("FAIRLABEL_CURRENCY", "USD")
FAIRLABEL_FLOOR_HOURLY = env_decimal("FAIRLABEL_FLOOR_HOURLY", "12.00")
FAIRLABEL_BREAK_AFTER_MINUTES = env_decimal("FAIRLABEL_BREAK_AFTER_MINUTES", "50")
FAIRLABEL_BREAK_MINUTES = env_decimal("FAIRLABEL_BREAK_MINUTES", "10")
FAIRLABEL_SENSITIVE_BREAK_AFTER_MINUTES = env_decimal(
    "FAIRLABEL_SENSITIVE_BREAK_AFTER_MINUTES", "45"
)
FAIRLABEL_SENSITIVE_BREAK_MINUTES = env_decimal("FAIRLABEL_SENSITIVE_BREAK_MINUTES", "15")
FAIRLABEL_LONG_BREAK_AT_HOURS = env_decimal("FAIRLABEL_LONG_BREAK_AT_HOURS", "6")
FAIRLABEL_LONG_BREAK_MINUTES = env_decimal("FAIRLABEL_LONG_BREAK_MINUTES", "20")
FAIRLABEL_IDLE_SECONDS = env_decimal("FAIRLABEL_IDLE_SECONDS", "90")
FAIRLABEL_SESSION_TIMEOUT_MINUTES = env_decimal("FAIRLABEL_SESSION_TIMEOUT_MINUTES", "5")
FAIRLABEL_DAILY_HOURS = env_decimal("FAIRLABEL_DAILY_HOURS", "8")
FAIRLABEL_WEEKLY_HOURS = env_decimal("FAIRLABEL_WEEKLY_HOURS", "48")
FAIRLABEL_REST_HOURS = env_decimal("FAIRLABEL_REST_HOURS", "11")
FAIRLABEL_SENSITIVE_DAILY_HOURS = env_decimal("FAIRLABEL_SENSITIVE_DAILY_HOURS", "4")
FAIRLABEL_SENSITIVE_STREAK = env_int("FAIRLABEL_SENSITIVE_STREAK", 25)
FAIRLABEL_COOLDOWN_MINUTES = env_decimal("FAIRLABEL_COOLDOWN_MINUTES", "5")
FAIRLABEL_ASSIGNMENT_MINUTES = env_decimal("FAIRLABEL_ASSIGNMENT_MINUTES", "10")
FAIRLABEL_REPRICE_AFTER = env_int("FAIRLABEL_REPRICE_AFTER", 20)
FAIRLABEL_APPEAL_DAYS = env_int("FAIRLABEL_APPEAL_DAYS", 14)
FAIRLABEL_AUTO_APPROVE_DAYS = env_int("FAIRLABEL_AUTO_APPROVE_DAYS", 21)
# Optional per-category daily caps on sensitive time, in hours: "gore=1,sexual=2".
FAIRLABEL_CATEGORY_DAILY_HOURS = env_list("FAIRLABEL_CATEGORY_DAILY_HOURS", [])

# The dispatcher's rules, in order, the way Django lists middleware. Each gate receives the
# request's DispatchContext and returns a refusal, a restriction, or None (labeling/policies.py).
FAIRLABEL_DISPATCH_GATES = env_list(
    "FAIRLABEL_DISPATCH_GATES",
    [
        "labeling.policies.project_open_gate",
        "workers.policies.working_time_gate",
        "workers.policies.exposure_gate",
        "payments.policies.budget_gate",
    ],
)
# What other apps record in the same transaction when an assignment is served, submitted,
# skipped, expires or is released by a refusal (working time, exposure, reservations, pay).
FAIRLABEL_ASSIGNMENT_HOOKS = env_list(
    "FAIRLABEL_ASSIGNMENT_HOOKS",
    ["workers.policies.WorkingTimeHooks", "payments.policies.BudgetHooks"],
)
# The gates and hooks that protect annotators: production refuses to start without them.
FAIRLABEL_PROTECTION_GATES = [
    "workers.policies.working_time_gate",
    "workers.policies.exposure_gate",
    "payments.policies.budget_gate",
]
FAIRLABEL_PROTECTION_HOOKS = ["workers.policies.WorkingTimeHooks", "payments.policies.BudgetHooks"]
# Who may see a task's content besides its project's owner and auditors: an annotator who holds
# or held it, if every check here agrees (consent for its categories).
FAIRLABEL_TASK_ACCESS_CHECKS = env_list(
    "FAIRLABEL_TASK_ACCESS_CHECKS", ["workers.policies.consent_covers"]
)
FAIRLABEL_PROTECTION_ACCESS_CHECKS = ["workers.policies.consent_covers"]
# How each person wants protected content shown (its blur strength), merged into the next
# task's `protect` when the task is blurred: functions (*, user_id) -> dict.
FAIRLABEL_DISPLAY_PREFERENCES = env_list(
    "FAIRLABEL_DISPLAY_PREFERENCES", ["workers.selectors.display_preferences"]
)
# Each app's section of the rules page ("the rules that apply to me"), in order.
FAIRLABEL_RULE_SECTIONS = env_list(
    "FAIRLABEL_RULE_SECTIONS",
    [
        "labeling.policies.labeling_rules",
        "workers.policies.working_time_rules",
        "payments.policies.pay_rules",
    ],
)
# What must hold before a project is published (the budget check joins with payments).
FAIRLABEL_PUBLISH_CHECKS = env_list(
    "FAIRLABEL_PUBLISH_CHECKS",
    [
        "payments.policies.publish_rate_check",
        "labeling.policies.publish_has_tasks_check",
        "payments.policies.publish_funded_check",
    ],
)

# The one function that says what an annotator's hourly floor is (labeling.policies.pay_floor).
FAIRLABEL_PAY_FLOOR = "payments.policies.floor_hourly"
# What other apps add to each export's labor-provenance record (and the fairness card), in
# order: breaks and exposure from the working-time records, then pay from the ledger.
FAIRLABEL_PROVENANCE_SECTIONS = env_list(
    "FAIRLABEL_PROVENANCE_SECTIONS",
    ["workers.selectors.time_provenance", "payments.selectors.pay_provenance"],
)
# How long a project's public fairness card is kept once computed (seconds): the card is public,
# and each computation reads the project's settlements and working-time records.
FAIRLABEL_FAIRNESS_CARD_SECONDS = env_int("FAIRLABEL_FAIRNESS_CARD_SECONDS", 300)
# Called when an owner changes a project's price or estimate (the audit row of the change).
FAIRLABEL_PROJECT_CHANGE_HOOKS = env_list(
    "FAIRLABEL_PROJECT_CHANGE_HOOKS", ["payments.policies.price_change_record"]
)
# The smallest payout an annotator may ask for, in FAIRLABEL_CURRENCY.
FAIRLABEL_PAYOUT_MINIMUM = env_decimal("FAIRLABEL_PAYOUT_MINIMUM", "5.00")
# Work-record checks per client address (public: a bank or an employer checks the file).
FAIRLABEL_WORK_RECORD_VERIFY_RATE = env_str("FAIRLABEL_WORK_RECORD_VERIFY_RATE", "30/min")
# Settlement: daily at 00:05 UTC for the day that ended; `manage.py settle` settles up to now.
CELERY_BEAT_SCHEDULE["settle-pay"] = {
    "task": "payments.settle_due",
    "schedule": crontab(minute=5, hour=0),
}
CELERY_BEAT_SCHEDULE["reprice-projects"] = {
    "task": "payments.reprice",
    "schedule": timedelta(minutes=10),
}
CELERY_BEAT_SCHEDULE["auto-approve-work"] = {
    "task": "payments.auto_approve",
    "schedule": crontab(minute=20, hour=0),
}
# Rehash the ledger entries written since the last checkpoints and advance them, so that a
# report rehashes only the last minutes' entries (payments.ledger.checkpoints_advance).
CELERY_BEAT_SCHEDULE["ledger-checkpoint"] = {
    "task": "payments.ledger_checkpoint",
    "schedule": timedelta(minutes=10),
}
# Nightly, rehash the whole ledger from its first entry (as `manage.py verify_ledger` does):
# what the checkpoints vouch for is checked again; a break moves its chain's checkpoint back.
CELERY_BEAT_SCHEDULE["ledger-verify-full"] = {
    "task": "payments.ledger_checkpoint",
    "schedule": crontab(minute=40, hour=2),
    "kwargs": {"full": True},
}

# Imports: the largest file accepted, and the most errors listed before a count.
FAIRLABEL_IMPORT_MAX_BYTES = env_int("FAIRLABEL_IMPORT_MAX_BYTES", 2 * 1024**3)
FAIRLABEL_IMPORT_MAX_ERRORS = env_int("FAIRLABEL_IMPORT_MAX_ERRORS", 1000)
FAIRLABEL_SUPPORT_CONTACT = env_str("FAIRLABEL_SUPPORT_CONTACT", "support@fairlabel.example")
# Worker voice (payments.models.VoiceMessage): anonymous messages an annotator may send the
# auditors per ISO week, all projects together (payments.policies.voice_per_week).
FAIRLABEL_VOICE_PER_WEEK = env_int("FAIRLABEL_VOICE_PER_WEEK", 5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "no_client_tracebacks": {"()": "fairlabel.log_filters.NoClientErrorTraceback"},
        # Records about the anonymous-message paths lose the request (its user, session and
        # address): see FAIRLABEL_LOG_WITHOUT_IDENTITY below.
        "identity_free_paths": {"()": "fairlabel.log_filters.IdentityFreePaths"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["identity_free_paths"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # Django's own console handler would print each of its records a second time beside
        # the root's: "django" writes through the root only.
        "django": {"handlers": [], "level": env_str("LOG_LEVEL", "INFO"), "propagate": True},
        "django.request": {"filters": ["no_client_tracebacks"], "propagate": True},
    },
}

# Paths (regular expressions over the URL path) whose log records must not say who asked: the
# worker-voice pages and API (payments.models.VoiceMessage). Applied to every record that
# reaches the console handler, and to gunicorn's access lines (gunicorn.conf.py).
FAIRLABEL_LOG_WITHOUT_IDENTITY = [r"^/(api/)?projects/[^/]+/voice/"]

# The embedded default keeps everything under var/: make sure the folders exist.
for _folder in (
    VAR_DIR,
    STATIC_ROOT,
    CELERY_DIR / "queue",
    CELERY_DIR / "processed",
    CELERY_DIR / "results",
    CELERY_DIR / "control",
):
    _folder.mkdir(parents=True, exist_ok=True)
