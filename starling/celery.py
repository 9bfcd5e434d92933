"""The Celery app. Broker and backend come from Django settings (CELERY_* names).

Tasks live in labelling/loop/tasks.py (retraining; its ML tasks are routed to the `ml` queue) and
labelling/retirement/tasks.py. This module imports no TensorFlow.
"""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "starling.settings")

app = Celery("starling")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["labelling.loop", "labelling.retirement"])


def ensure_broker_folders() -> None:
    """kombu's filesystem transport creates no folders: make them before a worker or client starts."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


ensure_broker_folders()
