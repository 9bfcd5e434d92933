"""A client generated from `GET /api/schema` with openapi-python-client classifies and replays,
using only what the schema and the README say: the README's example block runs as it stands,
against gunicorn serving production's WSGI application (the API's fast path in front of Django)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from labelling.models import Classification
from tests.faults.conftest import start_gunicorn  # noqa: F401 - the fixture
from tests.processes import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLE = re.compile(
    r"<!-- generated-client-example -->\s*```python\n(.*?)```\s*<!-- /generated-client-example -->",
    re.DOTALL,
)


def readme_example() -> str:
    found = EXAMPLE.search((ROOT / "README.md").read_text())
    assert found, "README.md has no generated-client example block"
    return found.group(1)


def generate_client(schema_url: str, folder: Path) -> None:
    """`openapi-python-client generate` as the README says, into folder/starling_client."""
    bin_folder = Path(sys.executable).parent
    environment = {**os.environ, "PATH": f"{bin_folder}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [bin_folder / "openapi-python-client", "generate", "--url", schema_url, "--meta", "none"]
        + ["--output-path", str(folder / "starling_client")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def generated_client_on_path(tmp_path):
    """Puts the generated package on sys.path for one test, then forgets it."""
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [name for name in sys.modules if name.split(".")[0] == "starling_client"]:
        del sys.modules[name]


def test_a_generated_client_classifies_and_replays_as_the_readme_says(
    make_project,
    start_gunicorn,  # noqa: F811 - the imported fixture
    generated_client_on_path,
):
    project = make_project(slug="generated", subjects=3)
    server = start_gunicorn()
    base_url = f"http://127.0.0.1:{server.port}"
    # gunicorn's workers load Django after the port opens: the first answer can take seconds
    assert httpx.get(f"{base_url}/api/schema", timeout=60).status_code == 200
    generate_client(f"{base_url}/api/schema", generated_client_on_path)

    exec(readme_example(), {"BASE_URL": base_url, "SLUG": project.slug})  # noqa: S102

    stored = Classification.objects.get(project=project)
    assert stored.idempotency_key == "my-key-1" and stored.annotations == {
        "smooth-or-featured": "smooth"
    }

    # Without the exchange (no cookie, no header) the same request is refused, as documented.
    from starling_client import AuthenticatedClient
    from starling_client.api.volunteer import submit_classification
    from starling_client.models import Answers, Error, NewClassification

    stranger = AuthenticatedClient(base_url=base_url, token="", prefix="", auth_header_name="X")
    body = NewClassification(
        subject=stored.subject_id,
        answers=Answers.from_dict({"smooth-or-featured": "smooth"}),
        idempotency_key="stranger",
    )
    refused = submit_classification.sync_detailed(project.slug, client=stranger, body=body)
    assert refused.status_code == 403 and isinstance(refused.parsed, Error)
    assert "CSRF" in refused.parsed.error
