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
        parser.add_argument(
            "--manifest",
            help="a CSV naming each image's file (column file, file_name, filename or image) with "
            "its metadata in the other columns (default: the one .csv inside the folder or zip)",
        )

    def handle(self, *args, project: str, path: str, manifest: str | None, **options):
        try:
            target = selectors.project_get_by_slug(slug=project)
            given = _read_manifest(manifest) if manifest else None
            with tqdm(desc="importing", unit="file", disable=options["verbosity"] == 0) as bar:

                def progress(done, total):
                    bar.total = total
                    bar.update(1)

                lines = imports.subjects_import_path(
                    project=target, path=Path(path), progress=progress, manifest=given
                )
        except StarlingError as error:
            raise CommandError(error.message) from None
        for line in lines:
            if not line.ok:
                self.stderr.write(
                    f"refused {line.error}"
                    if line.manifest_line is None
                    else f"left out {line.name}: {line.error}"
                )
        imported = sum(line.ok for line in lines)
        files = sum(line.manifest_line is None for line in lines)
        self.stdout.write(
            f"imported {imported} of {files} files into {target.slug!r}; refused {files - imported}"
        )


def _read_manifest(path: str) -> tuple[str, bytes]:
    try:
        return Path(path).name, Path(path).read_bytes()
    except OSError as error:
        raise CommandError(f"Cannot read the manifest {path}: {error.strerror}") from None
