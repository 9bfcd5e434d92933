"""The catalogue for survey tools: manifest columns as typed columns, VOTable and FITS that astropy
opens with every column's unit and description, and no fraction outside [0, 1] in any export."""

import csv
import io
from io import StringIO

import numpy as np
import pytest
from astropy.table import Table
from django.core.management import CommandError, call_command
from django.test import Client

from labelling.catalogue import exports
from labelling.catalogue.catalogue_table import CatalogueTable
from labelling.models import ModelVersion, Subject
from tests.conftest import submit_votes
from tests.labelling.catalogue.test_catalogue_export import predict, volunteers, weigh

pytestmark = pytest.mark.django_db

MANIFEST = [
    {"survey_id": "J0001", "ra": "150.25", "dec": "-2.5", "field": "7", "code": "007", "note": ""},
    {"survey_id": "J0002", "ra": "150.5", "dec": "2", "field": "8", "code": "8", "note": "odd"},
    {"survey_id": "J0003", "ra": "", "dec": "1.25", "field": "9", "code": "9"},
]
# What a probability, fraction or interval end is called in any export.
FRACTION_ENDINGS = (
    ":fraction", ":weighted_fraction", ":mean", ":low90", ":high90",
    ":estimate", ":estimate_low90", ":estimate_high90", ":final_estimate",
)  # fmt: skip


@pytest.fixture
def surveyed(make_project):
    """Three subjects with a manifest, votes from a volunteer of weight 0.12344 (the total
    rounded to 4 decimals first made weighted_fraction 1.000324), a model version that scored two."""
    project = make_project(slug="survey", subjects=3)
    subjects = list(project.subjects.order_by("pk"))
    for subject, metadata in zip(subjects, MANIFEST, strict=True):
        Subject.objects.filter(pk=subject.pk).update(metadata=metadata)
    odd, careful = volunteers(1, "odd"), volunteers(2, "careful")
    weigh(project, odd[0], 0.12344)
    for volunteer in careful:
        weigh(project, volunteer, 1.0)
    submit_votes(project, subjects[0], odd, {"smooth-or-featured": "smooth"}, "odd")
    submit_votes(
        project, subjects[1], careful, {"smooth-or-featured": "featured", "bar": "bar"}, "c"
    )
    version = ModelVersion.objects.create(project=project, number=1, status="ready")
    for subject in subjects[:2]:
        predict(version, subject, {"smooth-or-featured": [[0.9, 0.1]], "bar": [[0.3, 0.7]]})
    return project


def csv_rows(lines) -> list[dict]:
    return list(csv.DictReader(io.StringIO("".join(lines))))


def test_manifest_columns_are_columns_typed_where_they_parse_as_numbers(surveyed):
    table = CatalogueTable(project=surveyed)
    kinds = {column.name: column.kind for column in table.columns}
    assert {name: kinds[name] for name in ("survey_id", "ra", "dec", "field", "code", "note")} == {
        "survey_id": "str",
        "ra": "float",
        "dec": "float",
        "field": "int",
        "code": "str",  # "007" keeps its zeros
        "note": "str",
    }
    rows = csv_rows(exports.catalogue_csv(project=surveyed))
    first = next(row for row in rows if row["survey_id"] == "J0003")
    assert (first["ra"], first["dec"], first["code"], first["metadata"] != "") == (
        "",
        "1.25",
        "9",
        True,
    )


@pytest.mark.parametrize("file_format", ["votable", "fits"])
def test_votable_and_fits_open_with_astropy_with_every_manifest_column_unit_and_description(
    surveyed, tmp_path, file_format
):
    path = tmp_path / f"catalogue.{file_format}"
    call_command(
        "export_catalogue", surveyed.slug, str(path), "--format", file_format, stdout=StringIO()
    )
    if file_format == "votable":
        table = Table.read(path, format="votable", use_names_over_ids=True)
    else:
        table = Table.read(path, format="fits")
    expected = CatalogueTable(project=surveyed).columns
    assert table.colnames == [column.name for column in expected]
    assert len(table) == 3 * 2  # every subject, both questions
    for column in expected:
        read = table[column.name]
        # VOTable wraps a long DESCRIPTION over lines
        assert " ".join((read.description or "").split()) == column.description, column.name
        assert (str(read.unit) if read.unit else None) == ("ct" if column.unit == "ct" else None), (
            column.name
        )
    assert table["ra"].dtype.kind == "f" and table["field"].dtype.kind == "i"
    assert table["survey_id"].dtype.kind in "US"
    by_id = {str(row["survey_id"]): row for row in table if row["question"] == "smooth-or-featured"}
    assert by_id["J0001"]["ra"] == 150.25 and by_id["J0002"]["field"] == 8
    assert np.ma.is_masked(by_id["J0003"]["ra"])  # the empty value is missing, not 0
    assert np.ma.is_masked(by_id["J0003"]["model_version"])  # no version scored it
    assert by_id["J0001"]["model_version"] == 1
    assert table.meta or file_format == "fits"


def fraction_values(rows: list[dict]) -> list[float]:
    return [
        float(value)
        for row in rows
        for name, value in row.items()
        if name.endswith(FRACTION_ENDINGS) and value not in ("", None)
    ]


def test_no_fraction_is_outside_zero_to_one_in_any_export(surveyed, tmp_path):
    catalogue = csv_rows(exports.catalogue_csv(project=surveyed))
    odd = next(r for r in catalogue if r["survey_id"] == "J0001" and r["smooth:votes"] == "1")
    assert odd["smooth:weighted_fraction"] == "1.0"  # was 1.000324: the total rounded first
    version = ModelVersion.objects.get(project=surveyed)
    exported = [
        catalogue,
        csv_rows(exports.vote_counts_csv(project=surveyed)),
        csv_rows(exports.predictions_csv(version=version)),
    ]
    for file_format in ("votable", "fits"):
        path = tmp_path / f"c.{file_format}"
        call_command("export_catalogue", surveyed.slug, str(path), "--format", file_format)
        names = {"use_names_over_ids": True} if file_format == "votable" else {}
        table = Table.read(path, format=file_format, **names)
        exported.append(
            [
                {name: row[name] for name in table.colnames if not np.ma.is_masked(row[name])}
                for row in table
            ]
        )
    values = [fraction_values(rows) for rows in exported]
    assert [len(found) > 0 for found in values] == [True, False, True, True, True]
    assert all(0.0 <= value <= 1.0 for found in values for value in found)


def test_the_staff_page_serves_votable_and_fits_and_an_unknown_format_is_refused(
    surveyed, staff, tmp_path
):
    client = Client()
    client.force_login(staff)
    for suffix, file_format in (("vot", "votable"), ("fits", "fits")):
        response = client.get(f"/staff/projects/{surveyed.slug}/export/catalogue.{suffix}")
        assert response.status_code == 200, response.status_code
        path = tmp_path / f"page.{suffix}"
        path.write_bytes(b"".join(response.streaming_content))
        assert "survey_id" in Table.read(path, format=file_format).colnames
    assert Client().get(f"/staff/projects/{surveyed.slug}/export/catalogue.fits").status_code in (
        302,
        403,
    )
    with pytest.raises(CommandError, match="expected one of csv, votable, fits, received 'xml'"):
        call_command("export_catalogue", surveyed.slug, str(tmp_path / "c.xml"), "--format", "xml")
