"""docs/reliability.md quotes only what the fault tests measured (docs/reliability.json)."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def reliability_doc():
    spec = importlib.util.spec_from_file_location(
        "reliability_doc", ROOT / "scripts" / "reliability_doc.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_documents_counts_are_the_results_files():
    module = reliability_doc()
    results = json.loads(module.RESULTS.read_text())
    document = module.DOCUMENT.read_text()
    assert module.updated(document, results) == document, "run `make reliability-doc`"
    for counts in results.values():
        assert str(counts.get("acknowledged", counts.get("seconds_to_close"))) in document


def test_every_load_fault_stored_every_acknowledged_vote():
    results = json.loads(reliability_doc().RESULTS.read_text())
    loads = {name: counts for name, counts in results.items() if "acknowledged" in counts}
    assert set(loads) >= {"fault-gunicorn", "fault-redis", "fault-database"}
    for name, counts in loads.items():
        assert counts["acknowledged"] > 0, name
        assert counts["acknowledged_and_stored"] == counts["acknowledged"], name
