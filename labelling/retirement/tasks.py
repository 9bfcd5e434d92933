"""Model-aware retirement's Celery task (default queue, no TensorFlow): on every beat tick for the
subjects with new votes, and after each round for all of a project's active subjects."""

import logging

from celery import shared_task

from labelling.core import selectors
from labelling.retirement.checks import subjects_retire_settled

logger = logging.getLogger(__name__)


@shared_task(
    name="labelling.retirement.tasks.check_retirements",
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
