import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "starling.settings"
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from django.urls import get_resolver
get_resolver().url_patterns  # load every URL module
from labelling.core import projects, tree
from labelling.loop import claims
from starling.celery import app
app.loader.import_default_modules()  # Celery's autodiscovery, as a web process sending tasks does
project = projects.project_create(slug="web", title="Web", questions=tree.nodes_from_dicts(
    __import__("mlworker.synthetic", fromlist=["x"]).GALAXY_QUESTIONS))
client = Client()
for url in ["/", "/projects/web/classify/", "/api/projects/web/next", "/accounts/login/"]:
    assert client.get(url).status_code == 200, url
claims.retrain_request(project=project)
loaded = sorted(name for name in sys.modules if name.split(".")[0] in {"tensorflow", "keras", "tensorflow_probability"})
print("LOADED", loaded)
"""


def test_the_web_process_never_imports_tensorflow(tmp_path):
    environment = {
        "PATH": "/usr/bin:/bin",
        "STARLING_DATA_DIR": str(tmp_path),
        "CELERY_BROKER_FOLDER": str(tmp_path / "broker"),
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "LOADED []" in result.stdout, result.stdout[-2000:]
