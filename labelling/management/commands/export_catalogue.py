from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labelling.catalogue import exports
from labelling.core import selectors
from labelling.core.errors import StarlingError
from labelling.management.commands._write import write_lines


class Command(BaseCommand):
    help = (
        "Export the catalogue: one row per subject (retired ones too) and question, with its file "
        "name, metadata, votes and the latest good model version's estimate."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("file", help="the CSV file to write ('-' for standard output)")

    def handle(self, *args, project: str, file: str, **options):
        try:
            target = selectors.project_get_by_slug(slug=project)
        except StarlingError as error:
            raise CommandError(error.message) from None
        rows = target.subjects.count() * len(selectors.project_tree(project=target).questions)
        written = write_lines(
            exports.catalogue_csv(project=target), file, rows, self.stdout, options["verbosity"]
        )
        if file != "-":
            self.stdout.write(
                f"wrote {written} rows of {target.slug!r}'s catalogue to {Path(file)}"
            )
