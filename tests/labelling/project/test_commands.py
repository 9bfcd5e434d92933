import subprocess
import sys
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from labelling.models import Classification, Project
from tests.conftest import png_bytes

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db


def test_import_subjects_reports_refused_files_and_imports_the_rest(make_project, tmp_path):
    project = make_project(slug="cli-import", subjects=0)
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("a.png", png_bytes(1))
        handle.writestr("bad.png", b"nope")
    out, err = StringIO(), StringIO()
    call_command("import_subjects", project.slug, str(archive), stdout=out, stderr=err, verbosity=0)
    assert "imported 1 of 2 files" in out.getvalue()
    assert "bad.png: not an image" in err.getvalue()
    assert project.subjects.count() == 1


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["import_subjects", "no-such-project", "."], "Unknown project 'no-such-project'"),
        (["import_subjects", "cli", "/no/such/folder"], "No such file or folder"),
        (["import_subjects", "cli", "EMPTY"], "EMPTY-FOLDER: no files inside to import"),
        (["simulate_volunteers", "cli", "--classifications", "-1"], "Invalid options"),
        (["create_demo_project", "--subjects", "0"], "Invalid value for --subjects"),
        (["retrain", "nowhere"], "Unknown project 'nowhere'"),
    ],
)
def test_commands_given_bad_input_fail_with_a_clear_message(
    make_project, tmp_path, arguments, message
):
    make_project(slug="cli", subjects=1)
    (tmp_path / "EMPTY-FOLDER").mkdir()
    arguments = [str(tmp_path / "EMPTY-FOLDER") if a == "EMPTY" else a for a in arguments]
    with pytest.raises(CommandError, match=message):
        call_command(*arguments, verbosity=0)
    assert Project.objects.filter(slug="cli").get().subjects.count() == 1


def test_create_demo_project_and_simulate_volunteers_follow_the_truth():
    call_command(
        "create_demo_project",
        "--subjects",
        "30",
        "--size",
        "16",
        "--slug",
        "demo",
        stdout=StringIO(),
        verbosity=0,
    )
    project = Project.objects.get(slug="demo")
    assert project.subjects.count() == 30
    assert set(project.subjects.first().metadata["truth"]) == {
        "smooth-or-featured",
        "edge-on",
        "bar",
    }
    # The demo comes with a tutorial and a field guide of the clearest galaxies of each answer.
    assert "field guide" in project.tutorial_markdown and project.image_alt_text
    smooth = project.field_guide_examples.filter(
        question_key="smooth-or-featured", answer_key="smooth"
    )
    assert smooth.count() == 3
    truths = sorted(
        (s.metadata["truth"]["smooth-or-featured"] for s in project.subjects.all()), reverse=True
    )
    assert (
        sorted((e.subject.metadata["truth"]["smooth-or-featured"] for e in smooth), reverse=True)
        == truths[:3]
    )
    assert project.field_guide_examples.count() == 3 * 6
    call_command(
        "simulate_volunteers", "demo", "--classifications", "60", stdout=StringIO(), verbosity=0
    )
    assert Classification.objects.filter(project=project).count() == 60
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_demo_project", "--subjects", "3", "--slug", "demo", verbosity=0)


def test_a_failing_command_exits_non_zero_with_one_line(tmp_path):
    environment = {
        "PATH": "/usr/bin:/bin",
        "STARLING_DATA_DIR": str(tmp_path),
    }  # a fresh SQLite file
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        env=environment,
        check=True,
        timeout=120,
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "import_subjects", "no-such-project", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "CommandError: Unknown project 'no-such-project'"
