import time

from django.core.management.base import BaseCommand, CommandError

from labelling import loop, selectors
from labelling.errors import StarlingError
from labelling.models import AcquisitionRound, ModelVersion, Project, RetrainState


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
        before = (
            ModelVersion.objects.filter(project=target)
            .order_by("-number")
            .values_list("number", flat=True)
            .first()
            or 0
        )
        if not loop.retrain_request(project=target):
            raise CommandError(f"A retrain of {target.slug!r} is already queued or running")
        self.stdout.write(f"queued a retrain of {target.slug!r}")
        if not wait:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(1.0)
            state = Project.objects.values_list("retrain_state", flat=True).get(pk=target.pk)
            version = (
                ModelVersion.objects.filter(project=target, number__gt=before)
                .order_by("-number")
                .first()
            )
            if version and version.status == "failed":
                raise CommandError(f"model version {version.number} failed: {version.error}")
            if (
                version
                and state == RetrainState.IDLE
                and AcquisitionRound.objects.filter(model_version=version).exists()
            ):
                metrics = {
                    k: round(v["nll"], 3)
                    for k, v in version.metrics.items()
                    if isinstance(v, dict) and v.get("nll") is not None
                }
                self.stdout.write(
                    f"model version {version.number} ready; round recorded; validation NLL {metrics}; timings {version.timings}"
                )
                return
        raise CommandError(
            f"Timed out after {timeout:.0f} s waiting for the retrain of {target.slug!r}"
        )
