"""Light Celery tasks on the default queue (no TensorFlow): beat's schedule check, and model-aware
retirement's check of new votes."""

import logging

from celery import shared_task

from labelling import loop, model_selectors, selectors
from labelling.retirement_checks import subjects_retire_settled

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
    for project in selectors.project_list_all():
        try:
            loop.retrain_reap_stale(project=project)
            if model_selectors.retraining_due(project=project) and loop.retrain_request(
                project=project
            ):
                queued.append(project.pk)
        except Exception:  # one project's trouble must not stop the others' schedule
            logger.exception("retraining check failed for project %s", project.pk)
    if queued:
        logger.info("queued retrains for projects %s", queued)
    return queued


@shared_task(
    name="labelling.tasks.check_retirements",
    ignore_result=True,
    soft_time_limit=300,
    time_limit=360,
)
def check_retirements(project_id: int | None = None, recheck_all: bool = False) -> dict:
    """Retire the subjects that model-aware projects' latest good model and votes have settled:
    those with votes since the last check (every beat tick), or all of a project's active ones
    (`recheck_all`, after a round brought new samples). Returns {project_id: subjects retired}."""
    projects = selectors.projects_model_aware(project_id=project_id)
    retired = {}
    for project in projects:
        try:
            check = subjects_retire_settled(project=project, recheck_all=recheck_all)
        except Exception:  # one project's trouble must not stop the others' checks
            logger.exception("retirement check failed for project %s", project.pk)
            continue
        retired[project.pk] = len(check.retired)
        if check.retired:
            logger.info(
                "project %s: %d subjects retired by model v%s (%d checked)",
                project.pk,
                len(check.retired),
                check.version,
                check.checked,
            )
    return retired
