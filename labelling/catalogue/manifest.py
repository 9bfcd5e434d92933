"""A subject manifest: the CSV a survey team keeps beside its images, one row per image.

One column names the file (`file`, `file_name`, `filename` or `image`); every other column becomes
the subject's metadata (the survey's ID, coordinates, anything), kept as text. A column `id` or
ending in `_id` is the survey's ID and must not repeat. Bad rows are reported with their line
numbers and left out; the good rest is used.
"""

import csv
from dataclasses import dataclass, field
from pathlib import PurePosixPath

FILE_COLUMNS = ("file", "file_name", "filename", "image")


@dataclass
class ManifestRow:
    line: int
    file: str
    metadata: dict[str, str]


@dataclass
class Manifest:
    name: str
    rows: list[ManifestRow] = field(default_factory=list)
    # (line, message) for every row that was left out
    problems: list[tuple[int, str]] = field(default_factory=list)

    def match(self, member_name: str) -> ManifestRow | None:
        """The row naming this file: by its path inside the archive or folder, else by its name."""
        by_path = {row.file: row for row in self.rows}
        if member_name in by_path:
            return by_path[member_name]
        base = PurePosixPath(member_name.replace("\\", "/")).name
        candidates = [row for row in self.rows if PurePosixPath(row.file).name == base]
        return candidates[0] if len(candidates) == 1 else None


def is_survey_id_column(name: str) -> bool:
    """Whether a manifest column is the survey's ID: "id" or a name ending in "_id"."""
    return name.lower() == "id" or name.lower().endswith("_id")


def survey_id(metadata: dict | None) -> str | None:
    """A subject's survey ID from its metadata (the manifest's ID column), or None."""
    return next(
        (str(value) for key, value in (metadata or {}).items() if is_survey_id_column(key)), None
    )


def manifest_parse(name: str, data: bytes) -> Manifest:
    """Read a manifest; raises ValueError when it has no usable header (no row could be read)."""
    manifest = Manifest(name=name)
    lines = data.split(b"\n")
    text_lines = []
    for number, raw in enumerate(lines, start=1):
        raw = raw.removesuffix(b"\r")
        try:
            text_lines.append(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
        except UnicodeDecodeError as error:
            manifest.problems.append(
                (
                    number,
                    f"not UTF-8 text (byte {raw[error.start]:#04x} at column {error.start + 1})",
                )
            )
            text_lines.append("")
    reader = csv.reader(text_lines)
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise ValueError(
            f"{name}: expected a header row naming a file column ({', '.join(FILE_COLUMNS)}) "
            "and any others, received an empty first line"
        )
    header = [cell.strip() for cell in header]
    lowered = [cell.lower() for cell in header]
    file_index = next((lowered.index(c) for c in FILE_COLUMNS if c in lowered), None)
    if file_index is None:
        raise ValueError(
            f"{name}: expected a column naming each image's file ({', '.join(FILE_COLUMNS)}), "
            f"received columns {header}"
        )
    id_index = next((i for i, c in enumerate(lowered) if is_survey_id_column(c)), None)
    _read_rows(manifest, reader, header, file_index, id_index)
    return manifest


def _read_rows(manifest, reader, header, file_index, id_index) -> None:
    files: dict[str, int] = {}
    ids: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not cells or not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            manifest.problems.append(
                (
                    line,
                    f"expected {len(header)} fields ({', '.join(header)}), received {len(cells)}",
                )
            )
            continue
        file = cells[file_index].strip()
        if not file:
            manifest.problems.append((line, f"no file name in column {header[file_index]!r}"))
            continue
        if file in files:
            manifest.problems.append((line, f"{file!r} is already named on line {files[file]}"))
            continue
        if id_index is not None:
            survey_id = cells[id_index].strip()
            if survey_id in ids:
                manifest.problems.append(
                    (line, f"{header[id_index]} {survey_id!r} repeats line {ids[survey_id]}")
                )
                continue
            ids[survey_id] = line
        files[file] = line
        metadata = {
            column: cell.strip()
            for index, (column, cell) in enumerate(zip(header, cells, strict=True))
            if index != file_index and column
        }
        manifest.rows.append(ManifestRow(line=line, file=file, metadata=metadata))
