from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labelling.catalogue import exports
from labelling.core import selectors
from labelling.core.errors import StarlingError
from labelling.management.commands._write import write_lines


class Command(BaseCommand):
    help = "Export a project's votes as CSV: raw classifications, or counts per subject and answer with N per question."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("file", help="the CSV file to write ('-' for standard output)")
        parser.add_argument("--kind", choices=["raw", "counts"], default="counts")

    def handle(self, *args, project: str, file: str, kind: str, **options):
        try:
            target = selectors.project_get_by_slug(slug=project)
        except StarlingError as error:
            raise CommandError(error.message) from None
        if kind == "raw":
            lines, total = (
                exports.classifications_csv(project=target),
                target.classifications.count(),
            )
        else:
            lines, total = exports.vote_counts_csv(project=target), target.subjects.count()
        written = write_lines(lines, file, total, self.stdout, options["verbosity"])
        if file != "-":
            self.stdout.write(f"wrote {written} rows to {Path(file)}")
