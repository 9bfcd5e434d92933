"""Test settings: the real PostgreSQL and Redis on 127.0.0.1 (the test command starts them).

Override with TEST_DATABASE_URL / TEST_REDIS_URL. pytest-django creates `test_<name>`.
"""

import os

# Under pytest-xdist (`make test` runs two processes) each process has its own Redis databases:
# gw0 takes 15 (broker) and 14 (cache), gw1 13 and 12, and so on; pytest-django gives each its
# own test database (test_starling_gw0, ...). Set in the environment so that the processes the
# tests start (celery workers, gunicorn) follow.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER.startswith("gw"):
    _index = int(_XDIST_WORKER[2:])
    os.environ.setdefault("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 - 2 * _index}")
    os.environ.setdefault("TEST_CACHE_REDIS_URL", f"redis://127.0.0.1:6379/{14 - 2 * _index}")
    # Two processes (and the workers they start) share the machine's cores: TensorFlow in each
    # runs its ops on one thread instead of a pool per core that spins while the other waits.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

os.environ.setdefault(
    "DATABASE_URL",
    os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/starling"),
)
os.environ.setdefault("REDIS_URL", os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
os.environ.setdefault(
    "STARLING_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "test", _XDIST_WORKER)
)
# pytest-django's live_server runs in a thread next to async Playwright machinery.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from starling.settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests exercise the limiter on purpose; other tests should not trip it.
RATE_LIMIT_SUBMITS_PER_VOLUNTEER = 10_000
RATE_LIMIT_SUBMITS_PER_ADDRESS = 100_000

# The cache (rate-limit counters) on its own Redis database, cleared before every test; the
# broker keeps REDIS_URL's database.
CACHES["default"]["LOCATION"] = os.environ.get(  # noqa: F405
    "TEST_CACHE_REDIS_URL", "redis://127.0.0.1:6379/14"
)
