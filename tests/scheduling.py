"""How `make test` shares the suite between two pytest-xdist processes (`-n 2 --dist loadfile`).

xdist's loadfile gives each process whole files, so that a module's shared fixtures run once. Two
changes, made by the scheduler below:

- The files that drive a real Celery worker (tests/worker.py's fixtures: they stop, start and kill
  workers and wait on leases and redelivered tasks) are one unit, run in one process in the serial
  run's order, so that two of those processes never race for a worker nor start two of them.
  (`--dist loadgroup` with an `xdist_group` marker would say the same, but xdist 3.8 writes the
  group into `item._nodeid`, which pytest 9 no longer reads: the groups were silently ignored.)
- Units are handed out longest first, as far as the file says so: that worker unit, then the
  benchmarks' tiny runs (a minute of setup each), then the rest in collection order, so that no
  long file is left for the end while the other process idles.
"""

from functools import cache
from pathlib import Path

WORKER_FIXTURES = ("celery_worker", "start_worker", "only_own_workers")
WORKER_UNIT = "files driving a Celery worker"
LONG_FILES_UNDER = ("tests/benchmarks/", "tests/labelling/project/", "tests/faults/")


@cache
def drives_a_worker(path: str) -> bool:
    """Whether a test file asks for one of tests/worker.py's fixtures (read as text: the
    scheduling process does not collect)."""
    file = Path(path)
    return file.suffix == ".py" and any(name in file.read_text() for name in WORKER_FIXTURES)


def _priority(scope: str) -> int:
    if scope == WORKER_UNIT:
        return 0
    return 1 if scope.startswith(LONG_FILES_UNDER) else 2


def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class WorkerFilesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return WORKER_UNIT if drives_a_worker(str(config.rootpath / path)) else path

        def _assign_work_unit(self, node) -> None:
            # the queue is in collection order (or by size); hand out the most urgent unit first
            first = min(self.workqueue, key=_priority)
            self.workqueue.move_to_end(first, last=False)
            super()._assign_work_unit(node)

    return WorkerFilesTogether(config, log)
