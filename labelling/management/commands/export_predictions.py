from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labelling.catalogue import exports
from labelling.core import selectors
from labelling.core.errors import StarlingError
from labelling.loop import model_selectors
from labelling.management.commands._write import write_lines


class Command(BaseCommand):
    help = "Export a model version's catalogue: posterior mean vote fraction, 90% interval and MI per question."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("file", help="the CSV file to write ('-' for standard output)")
        parser.add_argument(
            "--model-version",
            type=int,
            dest="model_version",
            help="model version number (default: the latest ready one)",
        )

    def handle(self, *args, project: str, file: str, model_version: int | None, **options):
        version = model_version
        try:
            target = selectors.project_get_by_slug(slug=project)
        except StarlingError as error:
            raise CommandError(error.message) from None
        chosen = model_selectors.model_version_get_ready(project=target, number=version)
        if chosen is None:
            raise CommandError(
                f"No ready model version {version or ''} in project {target.slug!r}".replace(
                    "  ", " "
                )
            )
        missing = exports.predictions_missing_reason(version=chosen)
        if missing:
            raise CommandError(missing)
        written = write_lines(
            exports.predictions_csv(version=chosen),
            file,
            chosen.predictions.count(),
            self.stdout,
            options["verbosity"],
        )
        if file != "-":
            self.stdout.write(f"wrote {written} rows of model v{chosen.number} to {Path(file)}")
