from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labelling.catalogue import catalogue_formats, exports
from labelling.catalogue.catalogue_table import catalogue_subjects
from labelling.core import selectors
from labelling.core.errors import StarlingError
from labelling.management.commands._write import write_lines


class Command(BaseCommand):
    help = (
        "Export the catalogue: one row per subject (retired ones too) and question, with its file "
        "name, manifest columns, votes and the latest good model version's estimate; as CSV, "
        "VOTable or FITS (these two with each column's unit and description)."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("file", help="the file to write ('-' for standard output, CSV only)")
        parser.add_argument(
            "--format",
            dest="file_format",
            default="csv",
            help=f"one of {', '.join(catalogue_formats.FORMATS)} (default csv)",
        )

    def handle(self, *args, project: str, file: str, file_format: str, **options):
        try:
            catalogue_formats.format_check(file_format)
            target = selectors.project_get_by_slug(slug=project)
        except ValueError as error:
            raise CommandError(str(error)) from None
        except StarlingError as error:
            raise CommandError(error.message) from None
        if file_format == "csv":
            questions = len(selectors.project_tree(project=target).questions)
            rows = catalogue_subjects(project=target).count() * questions
            written = write_lines(
                exports.catalogue_csv(project=target), file, rows, self.stdout, options["verbosity"]
            )
        else:
            written = self._write_table(target, file, file_format)
        if file != "-":
            self.stdout.write(
                f"wrote {written} rows of {target.slug!r}'s catalogue to {Path(file)}"
            )

    def _write_table(self, project, file: str, file_format: str) -> int:
        if file == "-":
            raise CommandError(f"Cannot write {file_format} to standard output: give a file name")
        target = Path(file)
        if not target.parent.exists():
            raise CommandError(f"Cannot write {target}: folder {target.parent} does not exist")
        temporary = target.with_name(f".{target.name}.partial")
        try:
            written = catalogue_formats.catalogue_write(
                project=project, path=temporary, file_format=file_format
            )
            temporary.replace(target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return written
