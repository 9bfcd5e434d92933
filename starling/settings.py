"""Starling settings: every value comes from the environment, with defaults that run the demo.

The embedded default (no variables set) is SQLite + a broker that needs no server + a local-memory
cache. Production sets DATABASE_URL (PostgreSQL), REDIS_URL, SECRET_KEY, ALLOWED_HOSTS, DEBUG=false.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"Invalid value for {name}: expected true/false, received {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"Invalid value for {name}: expected an integer, received {raw!r}"
        ) from None


def env_number(name: str, kind: type[int] | type[float]) -> int | float:
    """A set variable as an int or a float; ImproperlyConfigured naming it when it is neither."""
    raw = os.environ[name]
    try:
        return kind(raw)
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise ImproperlyConfigured(
            f"Invalid value for {name}: expected {expected}, received {raw!r}"
        ) from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEFAULT_SECRET_KEY = "starling-demo-secret-key-do-not-use-in-production"
DEBUG = env_bool("DEBUG", default=True)
SECRET_KEY = env_str("SECRET_KEY", DEFAULT_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the built-in demo key while DEBUG is off: set SECRET_KEY in the environment."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The API answers a CSRF failure in JSON like its other refusals; pages keep Django's page.
CSRF_FAILURE_VIEW = "labelling.volunteer.api.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_results",
    "axes",
    "csp",
    "labelling",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django's and django-csp's, narrowed for the JSON API under /api/ (starling/middleware.py).
    "starling.middleware.PageMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "starling.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "starling.urls"
WSGI_APPLICATION = "starling.wsgi.application"

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
                # What the account may do in the staff page's project (labelling/staff/access.py).
                "labelling.staff.access.project_access",
            ],
        },
    },
]

DATA_DIR = Path(env_str("STARLING_DATA_DIR", str(BASE_DIR / "var")))
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'starling.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web, worker, beat and the simulator share the file. WAL lets readers run beside the one
    # writer; IMMEDIATE takes the write lock when a transaction begins, so two writers queue for
    # it (up to `timeout` seconds) instead of one failing at once with "database is locked" when
    # its read lock cannot be upgraded.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env_int("SQLITE_TIMEOUT_SECONDS", 30),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
# Trained model versions (weights + config), written atomically by mlworker.registry.
MODEL_ROOT = Path(env_str("MODEL_ROOT", str(DATA_DIR / "models")))

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# Project teams (labelling/teams/). Who may start a project: "anyone" signed in, or
# "administrators" (superusers) only; whether a project goes public only once a site administrator
# approved the owner's review request (true), or when its team publishes it (false).
STARLING_PROJECT_CREATORS = env_str("STARLING_PROJECT_CREATORS", "anyone")
if STARLING_PROJECT_CREATORS not in ("anyone", "administrators"):
    raise ImproperlyConfigured(
        "Invalid value for STARLING_PROJECT_CREATORS: expected anyone or administrators, "
        f"received {STARLING_PROJECT_CREATORS!r}"
    )
STARLING_PROJECT_REVIEW = env_bool("STARLING_PROJECT_REVIEW", True)

# Mail (password resets): SMTP when EMAIL_HOST is set, else printed on the web process's console.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "starling@localhost")

# Sign-in throttling (django-axes): after AXES_FAILURE_LIMIT failed sign-ins for one username from
# one address, that pair is refused (429, templates/registration/locked_out.html) for the cool-off.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = (
    "labelling.volunteer.ratelimit.client_ip_or_none"  # honours TRUSTED_PROXY_COUNT
)
AXES_VERBOSE = False  # no start-up banner on every manage.py command

# Content-Security-Policy on every response (django-csp): scripts, styles, images and requests
# from this site only; no inline script or style anywhere (the templates use static files).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Import limits (Pillow validates every file against these).
IMPORT_MAX_FILE_BYTES = env_int("IMPORT_MAX_FILE_BYTES", 20 * 1024 * 1024)
IMPORT_MAX_PIXELS = env_int("IMPORT_MAX_PIXELS", 40_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)

# Celery: Redis when REDIS_URL is set, otherwise kombu's filesystem transport (no server).
CELERY_BROKER_FOLDER = Path(env_str("CELERY_BROKER_FOLDER", str(DATA_DIR / "broker")))
if REDIS_URL:
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 4 * 3600}
else:
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "control_folder": str((CELERY_BROKER_FOLDER / "control").absolute()),
        "polling_interval": 0.2,
    }
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "django-db")
CELERY_RESULT_EXTENDED = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The tasks that run TensorFlow go to the `ml` queue (labelling/loop/tasks.py).
ML_TASKS = ("retrain", "score_pool", "select_round")
CELERY_TASK_ROUTES = {f"labelling.loop.tasks.{name}": {"queue": "ml"} for name in ML_TASKS}
CELERY_BEAT_SCHEDULE = {
    "check-projects-for-retraining": {
        "task": "labelling.loop.tasks.check_retraining_schedules",
        "schedule": float(env_int("STARLING_BEAT_INTERVAL_SECONDS", 60)),
    },
    "check-model-aware-retirement": {
        "task": "labelling.retirement.tasks.check_retirements",
        "schedule": float(env_int("STARLING_BEAT_INTERVAL_SECONDS", 60)),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# Per-volunteer and per-address submit limits (requests per minute); 0 switches a limit off.
RATE_LIMIT_SUBMITS_PER_VOLUNTEER = env_int("RATE_LIMIT_SUBMITS_PER_VOLUNTEER", 120)
RATE_LIMIT_SUBMITS_PER_ADDRESS = env_int("RATE_LIMIT_SUBMITS_PER_ADDRESS", 600)
# Number of reverse proxies in front of the web process (0: use REMOTE_ADDR as the client address).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# The active-learning loop (labelling/loop/).
# A retrain claim not refreshed for this long is taken over (the worker holding it died).
STARLING_RETRAIN_LEASE_SECONDS = env_int("STARLING_RETRAIN_LEASE_SECONDS", 15 * 60)
# Training: each of these variables, when set, overrides one field of
# mlworker.training_settings.TrainingSettings, where every default lives (labelling/loop/tasks.py).
# A version is `members` networks whose MC samples are pooled (with one member, a first model is
# trained `fresh_restarts` times, the lowest validation NLL kept); the validation
# and held-out shares of labelled subjects are kept (by a hash of their id, for good) for early
# stopping and for the held-out metrics staff see; a model started from another's trunk trains its
# new head alone `frozen_epochs`, then every layer at `fine_tune_rate` times the rate.
TRAINING_VARIABLES = {
    "epochs": ("STARLING_TRAIN_EPOCHS", int),
    "batch_size": ("STARLING_TRAIN_BATCH_SIZE", int),
    "members": ("STARLING_MEMBERS", int),
    "fresh_restarts": ("STARLING_FRESH_RESTARTS", int),
    "validation_share": ("STARLING_VALIDATION_SHARE", float),
    "held_out_share": ("STARLING_HELD_OUT_SHARE", float),
    "frozen_epochs": ("STARLING_FROZEN_EPOCHS", int),
    "fine_tune_rate": ("STARLING_FINE_TUNE_RATE", float),
}
STARLING_TRAINING = {
    field: env_number(name, kind)
    for field, (name, kind) in TRAINING_VARIABLES.items()
    if os.environ.get(name, "") != ""
}
STARLING_SCORE_CHUNK = env_int("STARLING_SCORE_CHUNK", 500)
STARLING_POWER_BALD_BETA = float(env_str("STARLING_POWER_BALD_BETA", "1.0"))
# Soft / hard time limits of the ML tasks, in seconds.
STARLING_RETRAIN_TIME_LIMIT = env_int("STARLING_RETRAIN_TIME_LIMIT", 3 * 3600)
STARLING_SCORE_TIME_LIMIT = env_int("STARLING_SCORE_TIME_LIMIT", 1800)
# A Keras file staff upload as a starting trunk (labelling/staff/start_models.py): the largest accepted,
# and how long the check (a child process that loads it in Keras' safe mode) may take.
STARLING_MAX_TRUNK_MB = env_int("STARLING_MAX_TRUNK_MB", 100)
STARLING_TRUNK_CHECK_SECONDS = env_int("STARLING_TRUNK_CHECK_SECONDS", 180)

# --- Serving at peak (issue 12): sessions, the Redis queue ------------------------------------
# Sessions: signed cookies. A session costs no query and no Redis round trip (it travels in the
# cookie, signed with SECRET_KEY, and holds only the auth fields and the volunteer id), so next and
# submit have no session store that can be down. cached_db would cost a Redis read per request, and
# Django's cached_db fails the request when the cache is down on a cache miss. The price: logout
# cannot revoke a copied cookie server-side; it expires after SESSION_COOKIE_AGE, and a password
# change voids a staff member's sessions at once (Django's session hash). starling/sessions.py is
# Django's signed cookies with each process remembering the cookies it verified for a minute (the
# signature check was a visible share of an API request's CPU): a session can outlive
# SESSION_COOKIE_AGE by at most that minute.
SESSION_ENGINE = "starling.sessions"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 7 * 24 * 3600)
# Each project's ranked queue (labelling/queue/redis_queue.py): this Redis, else the cache's; none means SQL.
STARLING_QUEUE_REDIS_URL = env_str("STARLING_QUEUE_REDIS_URL")
# A Redis that does not answer within this long counts as down: next and submit answer without it.
STARLING_QUEUE_REDIS_TIMEOUT_SECONDS = float(
    env_str("STARLING_QUEUE_REDIS_TIMEOUT_SECONDS", "0.25")
)
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    CACHES["default"]["OPTIONS"] = {
        "socket_connect_timeout": STARLING_QUEUE_REDIS_TIMEOUT_SECONDS,
        "socket_timeout": STARLING_QUEUE_REDIS_TIMEOUT_SECONDS,
    }
# The submit's statement is a server-side prepared statement (planned once per connection). Behind a
# pooler in transaction mode that cannot carry prepared statements (PgBouncer < 1.21), set false.
STARLING_SUBMIT_PREPARED = env_bool("STARLING_SUBMIT_PREPARED", True)
# starling/api_fastpath.py answers next and submit in front of Django's handler; false: Django
# answers every request.
API_FAST_PATH = env_bool("API_FAST_PATH", True)
# --- end of serving block ---------------------------------------------------------------------
