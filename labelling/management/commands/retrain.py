import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

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
            version = model_selectors.model_version_of_run(project=target, task_id=token)
            if version is not None and model_selectors.round_exists(version=version):
                self.stdout.write(_ready_message(version))
                return
            failure = _run_failure(target, token, version)
            if failure:
                raise CommandError(failure)
        raise CommandError(
            f"Timed out after {timeout:.0f} s waiting for the retrain of {target.slug!r} "
            f"(task {token}); it may still finish: see the dashboard"
        )


def _run_failure(project: Project, token: str, version: ModelVersion | None) -> str:
    """Why the run `token` can no longer record its round ("" while it still can)."""
    if version is not None and version.status == ModelVersionStatus.FAILED:
        return f"model version {version.number} failed: {version.error}"
    if version is not None and version.error:
        return f"model version {version.number}: {version.error}"
    state, holder, claimed_at = selectors.project_retrain_claim(project_id=project.pk)
    if holder != token or state == RetrainState.IDLE:
        if version is None:
            return (
                f"the retrain task {token} ended without creating a model version "
                "(see the worker log for its error)"
            )
        select_error = version.timings.get("select_error", "no round recorded")
        return f"model version {version.number} is ready but its round failed: {select_error}"
    lease = timedelta(seconds=settings.STARLING_RETRAIN_LEASE_SECONDS)
    if claimed_at is not None and claimed_at < timezone.now() - lease:
        return (
            f"the retrain task {token} made no progress for more than the lease "
            f"({lease.total_seconds():.0f} s): its worker died or no worker takes the 'ml' queue"
        )
    return ""


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
