#!/usr/bin/env bash
# `make demo`: the whole product on the embedded default — SQLite, kombu's filesystem broker,
# local-memory cache; no servers to install. Web, one Celery worker and beat, plus (DEMO_SIMULATE=1,
# the default) simulated volunteers so that rounds happen while you watch.
set -euo pipefail
cd "$(dirname "$0")/.."
unset DATABASE_URL REDIS_URL CELERY_BROKER_URL
export DJANGO_SETTINGS_MODULE=labelling.settings
export STARLING_BEAT_INTERVAL_SECONDS="${STARLING_BEAT_INTERVAL_SECONDS:-20}"
# Small, quick rounds on a 2-core machine.
export STARLING_TRAIN_EPOCHS="${STARLING_TRAIN_EPOCHS:-8}"
PY=.venv/bin/python
CELERY=.venv/bin/celery
PORT="${PORT:-8000}"
mkdir -p var/logs

$PY manage.py migrate --verbosity 0
if ! $PY manage.py shell -c "from labelling.models import Project; raise SystemExit(0 if Project.objects.filter(slug='galaxy-zoo').exists() else 1)"; then
  $PY manage.py create_demo_project --subjects "${DEMO_SUBJECTS:-300}" --size 64 --retrain-after-new-votes 100
fi
$PY manage.py shell -c "
from django.contrib.auth import get_user_model
User = get_user_model()
if not User.objects.filter(username='staff').exists():
    User.objects.create_superuser('staff', 'staff@example.org', 'starling-demo')
"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

$CELERY -A labelling worker -Q celery,ml --concurrency 1 --loglevel INFO >var/logs/worker.log 2>&1 &
pids+=($!)
$CELERY -A labelling beat --loglevel INFO >var/logs/beat.log 2>&1 &
pids+=($!)
if [ "${DEMO_SIMULATE:-1}" = 1 ]; then
  $PY manage.py simulate_volunteers galaxy-zoo --forever --rate "${DEMO_RATE:-3}" --volunteers 40 --verbosity 0 \
    >var/logs/simulator.log 2>&1 &
  pids+=($!)
fi

cat <<MSG

  Starling demo: http://127.0.0.1:${PORT}/
  Staff dashboard: http://127.0.0.1:${PORT}/staff/  (user: staff, password: starling-demo)
  Worker, beat and simulated volunteers log to var/logs/. Ctrl-C stops everything.

MSG
$PY manage.py runserver "127.0.0.1:${PORT}" --noreload
