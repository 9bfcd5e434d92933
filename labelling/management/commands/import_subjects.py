from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from labelling.catalogue import imports
from labelling.core import selectors
from labelling.core.errors import StarlingError


class Command(BaseCommand):
    help = "Import images from a folder or a .zip as subjects of a project. Bad files are reported and skipped."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("path", help="a folder of images or a .zip file")

    def handle(self, *args, project: str, path: str, **options):
        try:
            target = selectors.project_get_by_slug(slug=project)
            with tqdm(desc="importing", unit="file", disable=options["verbosity"] == 0) as bar:

                def progress(done, total):
                    bar.total = total
                    bar.update(1)

                lines = imports.subjects_import_path(
                    project=target, path=Path(path), progress=progress
                )
        except StarlingError as error:
            raise CommandError(error.message) from None
        for line in lines:
            if not line.ok:
                self.stderr.write(f"refused {line.error}")
        imported = sum(line.ok for line in lines)
        self.stdout.write(
            f"imported {imported} of {len(lines)} files into {target.slug!r}; refused {len(lines) - imported}"
        )
