"""The catalogue's files: CSV (streamed line by line), VOTable and FITS (astropy; the formats
TOPCAT and astropy read directly), all from the one table of catalogue_table.py, with each column's
unit and description in VOTable and FITS.

VOTable and FITS are built as one astropy Table in memory (about a hundred bytes per row and
column), then written to a file; CSV streams in constant memory.
"""

import csv
import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from labelling.catalogue.catalogue_table import CatalogueTable, Column
from labelling.models import Project

MISSING_INT = np.iinfo(np.int64).min
# format: (file suffix, content type)
FORMATS = {
    "csv": (".csv", "text/csv"),
    "votable": (".vot", "application/x-votable+xml"),
    "fits": (".fits", "application/fits"),
}


def format_check(name: str) -> str:
    if name not in FORMATS:
        raise ValueError(
            f"Invalid catalogue format: expected one of {', '.join(FORMATS)}, received {name!r}"
        )
    return name


def _line(values: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(["" if value is None else value for value in values])
    return buffer.getvalue()


def catalogue_csv(*, project: Project) -> Iterator[str]:
    """The header, then one CSV line per subject and question (catalogue_table.py)."""
    table = CatalogueTable(project=project)
    yield _line([column.name for column in table.columns])
    for row in table.rows():
        yield _line(row)


def catalogue_astropy_table(*, project: Project):
    """The catalogue as an astropy Table: typed, masked where a value is missing, with units and
    descriptions."""
    from astropy.table import MaskedColumn, Table

    table = CatalogueTable(project=project)
    values: list[list] = [[] for _ in table.columns]
    for row in table.rows():
        for column_values, value in zip(values, row, strict=True):
            column_values.append(value)
    return Table(
        [
            MaskedColumn(
                _array(column, column_values),
                name=column.name,
                mask=[value is None for value in column_values],
                # FITS's TNULL for a missing integer: a value no integer column holds (int64's
                # minimum; manifest integers are within +-2**63, exclusive)
                fill_value=MISSING_INT if column.kind == "int" else None,
                unit=column.unit,
                description=column.description,
            )
            for column, column_values in zip(table.columns, values, strict=True)
        ],
        meta={"description": f"Starling catalogue of project {project.slug!r}: {project.title}"},
    )


def _array(column: Column, values: list) -> np.ndarray:
    if column.kind == "int":
        return np.array([0 if value is None else value for value in values], dtype=np.int64)
    if column.kind == "float":
        return np.array([np.nan if value is None else value for value in values], dtype=float)
    return np.array(["" if value is None else str(value) for value in values], dtype=str)


def catalogue_write(*, project: Project, path: Path, file_format: str) -> int:
    """Write the catalogue to `path` in `file_format` (FORMATS); returns the rows written."""
    format_check(file_format)
    if file_format == "csv":
        rows = -1
        with open(path, "w", newline="") as stream:
            for line in catalogue_csv(project=project):
                stream.write(line)
                rows += 1
        return max(rows, 0)
    table = catalogue_astropy_table(project=project)
    # VOTable: each column's name, unit and DESCRIPTION (astropy reads the names back with
    # use_names_over_ids=True). FITS: TTYPE/TUNIT, and astropy's serialized-columns block in the
    # header carries the descriptions.
    if file_format == "fits":  # FITS keywords are 8 letters: the title as the extension's name
        table.meta = {"EXTNAME": "CATALOGUE", "COMMENT": [table.meta["description"]]}
    with warnings.catch_warnings():
        # W03: each VOTable FIELD's ID is its name with ':' as '_' (the name itself is kept)
        warnings.filterwarnings("ignore", message=".*Implicitly generating an ID from a name")
        table.write(path, format=file_format, overwrite=True)
    return len(table)
