"""Settings for the serving benchmark: the real settings plus a bare view (the framework's ceiling)."""

from starling.settings import *  # noqa: F401,F403

ROOT_URLCONF = "benchmarks.bench_urls"
