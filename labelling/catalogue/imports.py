"""Importing images as subjects: validate with Pillow, store once under the content hash."""

import hashlib
import io
import os
import random
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from PIL import Image, UnidentifiedImageError

from labelling.catalogue.archive import open_members
from labelling.catalogue.manifest import manifest_parse
from labelling.core.errors import ImportRefused, InvalidInput
from labelling.models import Project, Subject
from labelling.queue import redis_queue

PILLOW_FORMATS = {
    "PNG": "png",
    "JPEG": "jpg",
    "GIF": "gif",
    "BMP": "bmp",
    "TIFF": "tif",
    "WEBP": "webp",
}


def _check_image(name: str, data: bytes) -> str:
    """Validate one image with Pillow; return its file extension. Raises ImportRefused."""
    if not data:
        raise ImportRefused(f"{name}: empty file")
    if len(data) > settings.IMPORT_MAX_FILE_BYTES:
        raise ImportRefused(
            f"{name}: {len(data)} bytes, over the limit of {settings.IMPORT_MAX_FILE_BYTES} bytes"
        )
    max_pixels = settings.IMPORT_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImportRefused(
                        f"{name}: {width}x{height} pixels, over the limit of {max_pixels} pixels "
                        "(possible decompression bomb)"
                    )
                image_format = image.format
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # verify() does not decode: load() finds truncated data
    except ImportRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImportRefused(f"{name}: too many pixels (decompression bomb)") from None
    except UnidentifiedImageError:
        raise ImportRefused(f"{name}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImportRefused(f"{name}: damaged or truncated image ({error})") from None
    if image_format not in PILLOW_FORMATS:
        raise ImportRefused(
            f"{name}: image format {image_format} not accepted, expected one of "
            f"{sorted(PILLOW_FORMATS)}"
        )
    return PILLOW_FORMATS[image_format]


def _store_image_file(content_hash: str, extension: str, data: bytes) -> str:
    """Write the image once under its content hash (atomically); return its media-relative path."""
    relative = f"subjects/{content_hash[:2]}/{content_hash}.{extension}"
    target = Path(settings.MEDIA_ROOT) / relative
    if target.exists():
        return relative
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)
    os.replace(temporary, target)
    return relative


def subject_import_image(
    *, project: Project, name: str, data: bytes, metadata: dict | None = None
) -> Subject:
    """Validate and store one image as a new subject. Raises ImportRefused with the reason."""
    extension = _check_image(name, data)
    content_hash = hashlib.sha256(data).hexdigest()
    duplicate = Subject.objects.filter(project=project, content_hash=content_hash).first()
    if duplicate is not None:
        raise ImportRefused(f"{name}: duplicate of subject {duplicate.pk} already in the project")
    relative = _store_image_file(content_hash, extension, data)
    try:
        with transaction.atomic():
            subject = Subject.objects.create(
                project=project,
                image=relative,
                content_hash=content_hash,
                original_name=name[:300],
                metadata=metadata or {},
                priority=random.random(),  # before the first model, priority is random
            )
    except IntegrityError:
        raise ImportRefused(f"{name}: duplicate of an image already in the project") from None
    transaction.on_commit(
        lambda: redis_queue.subject_added(
            project_id=project.pk,
            version=Project.objects.values_list("serving_version", flat=True).get(pk=project.pk),
            subject_id=subject.pk,
            priority=subject.priority,
            image=subject.image,
        )
    )
    return subject


def _import_member(project, name, read, refusal, metadata=None) -> "ImportLine":
    if refusal is not None:
        return ImportLine(name=name, subject_id=None, error=refusal)
    try:
        subject = subject_import_image(project=project, name=name, data=read(), metadata=metadata)
    except ImportRefused as refused:
        return ImportLine(name=name, subject_id=None, error=refused.message)
    return ImportLine(name=name, subject_id=subject.pk, error=None)


@dataclass
class ImportLine:
    name: str
    subject_id: int | None
    error: str | None
    # The manifest's line this reports on (a bad row, a row naming no file here), else None.
    manifest_line: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def subjects_import_path(
    *,
    project: Project,
    path: Path,
    progress=None,
    name: str | None = None,
    manifest: tuple[str, bytes] | None = None,
) -> list[ImportLine]:
    """Import every image in a folder or a zip file; one ImportLine per file, good and refused.

    Each file is imported on its own: a refused file changes nothing, the good ones are kept.
    `progress`, if given, is called with (done, total) after each file. `name` is what messages
    call the folder or zip (an uploaded file's own name); the path's name by default.

    A manifest (catalogue/manifest.py) gives each image its metadata: the one .csv inside the
    folder or zip, or `manifest` (its name and bytes) given beside it. With one, a file it does
    not name is refused, and each bad row or row naming no file here is reported by line.
    """
    lines: list[ImportLine] = []
    label = name or Path(path).name
    with open_members(Path(path), name=name) as members:
        images = [member for member in members if not member[0].lower().endswith(".csv")]
        listed = _manifest_from(label, members, manifest)
        if not images:
            raise InvalidInput(
                f"{label}: no files inside to import; expected images "
                f"({', '.join(sorted(PILLOW_FORMATS))}); folders, __MACOSX and .DS_Store are "
                "skipped"
            )
        used: set[int] = set()
        for done, (member_name, read, refusal) in enumerate(images, start=1):
            row = listed.match(member_name) if listed else None
            if listed and row is None:
                refusal = refusal or f"{member_name}: no usable row of {listed.name} names it"
            if row is not None:
                used.add(row.line)
            lines.append(
                _import_member(project, member_name, read, refusal, row.metadata if row else None)
            )
            if progress is not None:
                progress(done, len(images))
    return lines + _manifest_lines(listed, used)


def _manifest_from(label: str, members, given: tuple[str, bytes] | None):
    """The manifest given beside the images, else the one .csv among them, else None."""
    inside = [member for member in members if member[0].lower().endswith(".csv")]
    if given is None and len(inside) > 1:
        raise InvalidInput(
            f"{label}: expected at most one manifest (.csv), received "
            f"{sorted(member[0] for member in inside)}"
        )
    if given is None and not inside:
        return None
    manifest_name, data = given if given is not None else (inside[0][0], inside[0][1]())
    try:
        return manifest_parse(manifest_name, data)
    except ValueError as error:
        raise InvalidInput(str(error)) from None


def _manifest_lines(listed, used: set[int]) -> list[ImportLine]:
    """Report lines for the manifest's bad rows and for rows naming no file that was there."""
    if listed is None:
        return []
    reported = [(line, message) for line, message in listed.problems]
    reported += [
        (row.line, f"names {row.file!r}, which is not among the files")
        for row in listed.rows
        if row.line not in used
    ]
    return [
        ImportLine(
            name=f"{listed.name} line {line}", subject_id=None, error=message, manifest_line=line
        )
        for line, message in sorted(reported)
    ]
