import time

from django.core.management.base import BaseCommand, CommandError

from labelling.core import selectors
from labelling.core.errors import StarlingError
from labelling.loop import claims, model_selectors
from labelling.models import (
    ModelVersion,
    ModelVersionStatus,
    Project,
    RetrainState,
)


class Command(BaseCommand):
    help = "Queue a retrain of a project's model (retrain -> score the pool -> select a round)."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument(
            "--wait", action="store_true", help="wait until the round is recorded or the run failed"
        )
        parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait at most")

    def handle(self, *args, project: str, wait: bool, timeout: float, **options):
        try:
            target = selectors.project_get_by_slug(slug=project)
        except StarlingError as error:
            raise CommandError(error.message) from None
        if timeout <= 0:
            raise CommandError(
                f"Invalid value for --timeout: expected seconds > 0, received {timeout}"
            )
        if not claims.retrain_request(project=target):
            raise CommandError(f"A retrain of {target.slug!r} is already queued or running")
        _, token, _ = selectors.project_retrain_claim(project_id=target.pk)
        self.stdout.write(f"queued a retrain of {target.slug!r} (task {token})")
        if not wait:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(1.0)
            version, failure = _run_outcome(target, token)
            if failure:
                raise CommandError(failure)
            if version is not None:
                self.stdout.write(_ready_message(version))
                return
        raise CommandError(
            f"Timed out after {timeout:.0f} s waiting for the retrain of {target.slug!r} "
            f"(task {token}); it may still finish: see the dashboard"
        )


def _run_outcome(project: Project, token: str) -> tuple[ModelVersion | None, str]:
    """(the run's version once its round is recorded, else None; why the run can no longer
    record its round, "" while it still can).

    The claim is read first, the version and its round after: a run records its round and
    releases its claim in one transaction, so once the claim reads as released, the reads after it
    see the round if there is one. (Read the other way round, a round recorded between the two
    reads looked like a run that ended without one.)"""
    state, holder, claimed_at = selectors.project_retrain_claim(project_id=project.pk)
    version = model_selectors.model_version_of_run(project=project, task_id=token)
    if version is not None and model_selectors.round_exists(version=version):
        return version, ""
    if version is not None and version.status == ModelVersionStatus.FAILED:
        return None, f"model version {version.number} failed: {version.error}"
    if version is not None and version.error:
        return None, f"model version {version.number}: {version.error}"
    if holder != token or state == RetrainState.IDLE:
        if version is None:
            return None, (
                f"the retrain task {token} ended without creating a model version "
                "(see the worker log for its error)"
            )
        select_error = version.timings.get("select_error", "no round recorded")
        return None, f"model version {version.number} is ready but its round failed: {select_error}"
    if claimed_at is not None and claims.lease_expired(claimed_at):
        return None, (
            f"the retrain task {token} made no progress for more than the lease "
            f"({claims.lease().total_seconds():.0f} s): its worker died or no worker takes the "
            "'ml' queue"
        )
    return None, ""


def _ready_message(version: ModelVersion) -> str:
    metrics = {
        key: round(value["nll"], 3)
        for key, value in version.metrics.items()
        if isinstance(value, dict) and value.get("nll") is not None
    }
    return (
        f"model version {version.number} ready; round recorded; validation NLL {metrics}; "
        f"timings {version.timings}"
    )
