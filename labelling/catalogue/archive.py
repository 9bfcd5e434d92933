"""Walk a folder or a zip of images safely: each member is (name, read, refusal).

`read()` returns the bytes; `refusal` is a message when the member must not be read at all
(unsafe path, link, too large when unpacked).
"""

import stat
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from django.conf import settings

from labelling.core.errors import InvalidInput

Member = tuple[str, Callable[[], bytes], str | None]
SKIPPED_NAMES = {".DS_Store", "Thumbs.db"}


def _unsafe_reason(name: str) -> str | None:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return f"{name}: absolute path inside the archive refused"
    if ".." in pure.parts:
        return f"{name}: path leaves the archive ('..') refused"
    return None


@contextmanager
def open_members(path: Path, *, name: str | None = None) -> Iterator[list[Member]]:
    """The members of a folder or a zip file, readable while the context is open. `name` is what
    messages call it (the path's own name by default)."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"No such file or folder: {path}")
    if path.is_dir():
        yield list(_folder_members(path))
        return
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InvalidInput(
            f"{name or path.name}: not a valid zip file (expected a folder or a .zip)"
        ) from None
    with archive:
        yield list(_archive_members(archive))


def _archive_members(archive: zipfile.ZipFile) -> Iterator[Member]:
    for info in archive.infolist():
        if info.is_dir() or PurePosixPath(info.filename).name in SKIPPED_NAMES:
            continue
        if info.filename.startswith("__MACOSX/"):
            continue
        reason = _unsafe_reason(info.filename)
        mode = info.external_attr >> 16
        if reason is None and stat.S_ISLNK(mode):
            reason = f"{info.filename}: symbolic link inside the archive refused"
        if reason is None and info.file_size > settings.IMPORT_MAX_FILE_BYTES:
            reason = (
                f"{info.filename}: {info.file_size} bytes unpacked, over the limit of "
                f"{settings.IMPORT_MAX_FILE_BYTES} bytes"
            )
        yield info.filename, _reader(archive, info), reason


def _reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        # Read at most the limit + 1 bytes whatever the header claims (zip bombs lie).
        with archive.open(info) as stream:
            return stream.read(settings.IMPORT_MAX_FILE_BYTES + 1)

    return read


def _folder_members(folder: Path) -> Iterator[Member]:
    root = folder.resolve()
    for entry in sorted(folder.rglob("*")):
        name = str(entry.relative_to(folder))
        if entry.name in SKIPPED_NAMES or entry.is_dir():
            continue
        if entry.is_symlink():
            yield name, (lambda: b""), f"{name}: symbolic link refused"
            continue
        if not entry.resolve().is_relative_to(root):
            yield name, (lambda: b""), f"{name}: path leaves the folder refused"
            continue
        yield name, (lambda entry=entry: entry.read_bytes()), None
