"""Light Celery tasks on the default queue (no TensorFlow): beat's schedule check."""

import logging

from celery import shared_task

from labelling import loop
from labelling.models import Project

logger = logging.getLogger(__name__)


@shared_task(
    name="labelling.tasks.check_retraining_schedules",
    ignore_result=True,
    soft_time_limit=60,
    time_limit=90,
)
def check_retraining_schedules() -> list[int]:
    """Release retrain claims whose lease expired (a worker died), then queue a retrain for every
    project whose schedule says so; returns the queued project ids."""
    queued = []
    for project in Project.objects.all():
        try:
            loop.retrain_reap_stale(project=project)
            if loop.retraining_due(project=project) and loop.retrain_request(project=project):
                queued.append(project.pk)
        except Exception:  # one project's trouble must not stop the others' schedule
            logger.exception("retraining check failed for project %s", project.pk)
    if queued:
        logger.info("queued retrains for projects %s", queued)
    return queued
