#!/usr/bin/env bash
# `make demo`: the whole product on the embedded default — SQLite, kombu's filesystem broker,
# local-memory cache; no servers to install. Web, one Celery worker and beat, plus (DEMO_SIMULATE=1,
# the default) simulated volunteers so that rounds happen while you watch.
set -euo pipefail
cd "$(dirname "$0")/.."
unset DATABASE_URL REDIS_URL CELERY_BROKER_URL
export DJANGO_SETTINGS_MODULE=starling.settings
export STARLING_BEAT_INTERVAL_SECONDS="${STARLING_BEAT_INTERVAL_SECONDS:-20}"
# Small, quick rounds on a 2-core machine.
export STARLING_TRAIN_EPOCHS="${STARLING_TRAIN_EPOCHS:-8}"
PY=.venv/bin/python
CELERY=.venv/bin/celery
PORT="${PORT:-8000}"
# STARLING_DATA_DIR (default var/) holds the database, the broker's folders, images, models, logs.
LOGS="${STARLING_DATA_DIR:-var}/logs"
mkdir -p "$LOGS"

$PY manage.py migrate --verbosity 0
if ! $PY manage.py shell -c "from labelling.models import Project; raise SystemExit(0 if Project.objects.filter(slug='galaxy-zoo').exists() else 1)"; then
  $PY manage.py create_demo_project --subjects "${DEMO_SUBJECTS:-300}" --size "${DEMO_IMAGE_SIZE:-64}" \
    --retrain-after-new-votes "${DEMO_RETRAIN_AFTER_VOTES:-100}"
fi
$PY manage.py shell -c "
from django.contrib.auth import get_user_model
User = get_user_model()
if not User.objects.filter(username='staff').exists():
    User.objects.create_superuser('staff', 'staff@example.org', 'starling-demo')
"

# Every background piece runs in its own process group (job control on), so that stopping the demo
# — Ctrl-C, or a SIGTERM to this script or to make — ends each piece with its children.
set -m
pids=()
# The leaders get SIGTERM (the worker's warm shutdown finishes its task); whatever of a group is
# still there after 30 s gets SIGKILL.
cleanup() {
  trap - EXIT INT TERM
  echo "stopping the demo (the worker may finish its current task first)" >&2
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 60); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.5
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

$CELERY -A starling worker -Q celery,ml --concurrency 1 --loglevel INFO >"$LOGS/worker.log" 2>&1 &
pids+=($!)
$CELERY -A starling beat --loglevel INFO >"$LOGS/beat.log" 2>&1 &
pids+=($!)
if [ "${DEMO_SIMULATE:-1}" = 1 ]; then
  $PY manage.py simulate_volunteers galaxy-zoo --forever --rate "${DEMO_RATE:-3}" --volunteers 40 --careless 2 --verbosity 0 \
    >"$LOGS/simulator.log" 2>&1 &
  pids+=($!)
fi
$PY manage.py runserver "127.0.0.1:${PORT}" --noreload >"$LOGS/web.log" 2>&1 &
pids+=($!)

cat <<MSG

  Starling demo: http://127.0.0.1:${PORT}/
  Staff dashboard: http://127.0.0.1:${PORT}/staff/  (user: staff, password: starling-demo)
  Web, worker, beat and simulated volunteers log to ${LOGS}/. Ctrl-C stops everything.

MSG
# Until any piece exits (or a signal arrives: the traps then stop the rest).
wait -n
echo "a demo process exited; stopping the others (see ${LOGS}/)" >&2
exit 1
