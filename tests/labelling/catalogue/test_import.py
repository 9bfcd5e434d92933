import io
import os
import stat
import zipfile

import pytest
from PIL import Image

from labelling.catalogue import imports
from labelling.core.errors import InvalidInput
from labelling.models import Subject
from tests.conftest import png_bytes

pytestmark = pytest.mark.django_db


def truncated_png() -> bytes:
    image = Image.frombytes("L", (64, 64), os.urandom(64 * 64))  # noise: does not compress
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


def bomb_png(width=12000, height=12000) -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, format="PNG")  # compresses to a few KB
    return buffer.getvalue()


def write_zip(path, members: dict[str, bytes], links: dict[str, str] | None = None):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def test_a_zip_imports_the_good_files_and_refuses_each_bad_one_with_its_reason(
    make_project, tmp_path, settings
):
    settings.IMPORT_MAX_FILE_BYTES = 50_000
    project = make_project(slug="imports", subjects=1)
    existing = project.subjects.get()
    archive = write_zip(
        tmp_path / "upload.zip",
        {
            "good/a.png": png_bytes(101),
            "good/b.png": png_bytes(102),
            "notes.txt": b"not an image at all",
            "empty.png": b"",
            "cut.png": truncated_png(),
            "bomb.png": bomb_png(),
            "huge.bin": b"\x89PNG" + b"0" * 60_000,
            "../escape.png": png_bytes(103),
            "/etc/absolute.png": png_bytes(104),
            "copy-of-existing.png": png_bytes(1),
            "good/a-again.png": png_bytes(101),
        },
        links={"link.png": "/etc/passwd"},
    )
    lines = {
        line.name: line for line in imports.subjects_import_path(project=project, path=archive)
    }
    assert {name for name, line in lines.items() if line.ok} == {"good/a.png", "good/b.png"}
    reasons = {name: line.error for name, line in lines.items() if not line.ok}
    assert "not an image" in reasons["notes.txt"]
    assert "empty file" in reasons["empty.png"]
    assert "truncated" in reasons["cut.png"]
    assert "decompression bomb" in reasons["bomb.png"]
    assert "over the limit" in reasons["huge.bin"]
    assert "'..'" in reasons["../escape.png"]
    assert "absolute path" in reasons["/etc/absolute.png"]
    assert "symbolic link" in reasons["link.png"]
    assert f"duplicate of subject {existing.pk}" in reasons["copy-of-existing.png"]
    assert "duplicate" in reasons["good/a-again.png"]
    assert Subject.objects.filter(project=project).count() == 3
    existing.refresh_from_db()
    assert existing.original_name == "imports-0.png"


def test_a_folder_imports_and_refuses_symlinks(make_project, tmp_path):
    project = make_project(slug="folder", subjects=0)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "one.png").write_bytes(png_bytes(5))
    os.symlink("/etc/hostname", tmp_path / "images" / "sneaky.png")
    lines = imports.subjects_import_path(project=project, path=tmp_path / "images")
    assert [(line.name, line.ok) for line in lines] == [("one.png", True), ("sneaky.png", False)]


def test_images_are_stored_once_under_their_content_hash(make_project, settings):
    first = make_project(slug="first", subjects=0)
    second = make_project(slug="second", subjects=0)
    a = imports.subject_import_image(project=first, name="x.png", data=png_bytes(9))
    b = imports.subject_import_image(project=second, name="y.png", data=png_bytes(9))
    assert a.image == b.image and a.content_hash in a.image
    assert (settings.MEDIA_ROOT / a.image).read_bytes() == png_bytes(9)


@pytest.mark.parametrize(
    "name, data", [("broken.zip", b"PK\x03\x04garbage"), ("missing.zip", None)]
)
def test_an_unreadable_or_missing_archive_is_refused_whole(make_project, tmp_path, name, data):
    project = make_project(slug="broken", subjects=0)
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(InvalidInput):
        imports.subjects_import_path(project=project, path=path)
    assert project.subjects.count() == 0


MANIFEST = (
    "file,survey_id,ra,dec\n"  # line 1
    "images/a.png,J001,150.1,2.2\n"  # 2: good, named by its path
    "b.png,J002,150.2,2.3\n"  # 3: good, named by its file name
    "c.png,J003,150.3\n"  # 4: a field short
    "d.png,J002,150.4,2.5\n"  # 5: repeats line 3's survey_id
    "b.png,J005,150.5,2.6\n"  # 6: names b.png again
    "missing.png,J006,150.6,2.7\n"  # 7: names no file of the zip
)


def test_a_manifest_gives_metadata_and_reports_each_bad_row_by_line(make_project, tmp_path):
    project = make_project(slug="manifest", subjects=1)
    before = {s.pk: (s.metadata, s.original_name) for s in project.subjects.all()}
    manifest = MANIFEST.encode() + b"e.png,J\xff08,1,2\n"  # 8: not UTF-8
    archive = write_zip(
        tmp_path / "survey.zip",
        {
            "images/a.png": png_bytes(201),
            "images/b.png": png_bytes(202),
            "c.png": png_bytes(203),
            "d.png": png_bytes(204),
            "e.png": png_bytes(205),
            "unlisted.png": png_bytes(206),
            "manifest.csv": manifest,
        },
    )
    lines = imports.subjects_import_path(project=project, path=archive)
    imported = {line.name: line.subject_id for line in lines if line.ok}
    assert set(imported) == {"images/a.png", "images/b.png"}
    a = Subject.objects.get(pk=imported["images/a.png"])
    assert a.metadata == {"survey_id": "J001", "ra": "150.1", "dec": "2.2"}
    assert Subject.objects.get(pk=imported["images/b.png"]).metadata["survey_id"] == "J002"
    reported = {line.name: line.error for line in lines if not line.ok}
    assert reported["unlisted.png"] == "unlisted.png: no usable row of manifest.csv names it"
    assert reported["c.png"] == "c.png: no usable row of manifest.csv names it"
    assert (
        "expected 4 fields (file, survey_id, ra, dec), received 3"
        in reported["manifest.csv line 4"]
    )
    assert "survey_id 'J002' repeats line 3" in reported["manifest.csv line 5"]
    assert "'b.png' is already named on line 3" in reported["manifest.csv line 6"]
    assert "'missing.png', which is not among the files" in reported["manifest.csv line 7"]
    assert "not UTF-8" in reported["manifest.csv line 8"]
    assert [line.manifest_line for line in lines if line.manifest_line] == [4, 5, 6, 7, 8]
    for subject in Subject.objects.filter(pk__in=before):
        assert (subject.metadata, subject.original_name) == before[subject.pk]


def test_a_manifest_without_a_file_column_is_refused_before_anything_is_stored(
    make_project, tmp_path
):
    project = make_project(slug="no-file-column", subjects=0)
    archive = write_zip(
        tmp_path / "survey.zip",
        {"a.png": png_bytes(301), "list.csv": b"name,ra\na.png,1\n"},
    )
    with pytest.raises(InvalidInput, match=r"expected a column naming each image's file"):
        imports.subjects_import_path(project=project, path=archive)
    assert not project.subjects.exists()


def test_import_subjects_takes_a_manifest_beside_a_folder(make_project, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    project = make_project(slug="manifest-cli", subjects=0)
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.png").write_bytes(png_bytes(401))
    (folder / "b.png").write_bytes(png_bytes(402))
    (tmp_path / "list.csv").write_text("image,objid_id\na.png,7\nb.png,7\n")
    out, err = StringIO(), StringIO()
    call_command(
        "import_subjects",
        project.slug,
        str(folder),
        "--manifest",
        str(tmp_path / "list.csv"),
        stdout=out,
        stderr=err,
        verbosity=0,
    )
    assert "imported 1 of 2 files" in out.getvalue()
    assert "left out list.csv line 3: objid_id '7' repeats line 2" in err.getvalue()
    assert "b.png: no usable row of list.csv names it" in err.getvalue()
    assert project.subjects.get().metadata == {"objid_id": "7"}
