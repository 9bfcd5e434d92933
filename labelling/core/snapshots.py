"""Projects and their question trees, cached in each web process.

A snapshot is re-checked against the database at most once a second (one query on the project row,
whatever the request rate); the tree (two queries) is reloaded only when the project's
`serving_version` stamp changed, which staff edits of the tree bump. Settings changes (publishing,
retirement limit) reach every process within a second.
"""

import threading
import time
from dataclasses import dataclass

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from labelling.core.errors import NotFound
from labelling.core.selectors import project_has_round, project_tree
from labelling.core.tree import Tree
from labelling.models import Project

RECHECK_SECONDS = 1.0


@dataclass(frozen=True)
class ProjectSnapshot:
    project: Project
    tree: Tree
    checked_at: float
    # The tree's loops (computed once per tree): volunteers cannot finish such a tree.
    loops: tuple[tuple[str, ...], ...] = ()
    # Whether a model has ranked the queue (a round was recorded). Read with the tree: a round
    # bumps serving_version (labelling/queue/builder.py, after_round), which reloads both.
    model_ranked: bool = True

    @property
    def version(self) -> int:
        return self.project.serving_version


_snapshots: dict[str, ProjectSnapshot] = {}
_lock = threading.Lock()


def project_snapshot(*, slug: str) -> ProjectSnapshot:
    """The project (published or not) and its tree; NotFound for an unknown slug."""
    now = time.monotonic()
    cached = _snapshots.get(slug)
    if cached is not None and now - cached.checked_at < RECHECK_SECONDS:
        return cached
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        _snapshots.pop(slug, None)
        raise NotFound(f"Unknown project {slug!r}")
    if (
        cached is not None
        and cached.project.pk == project.pk
        and cached.version == project.serving_version
    ):
        tree, loops, model_ranked = cached.tree, cached.loops, cached.model_ranked
    else:
        tree = project_tree(project=project)
        loops = tuple(tuple(loop) for loop in tree.loops())
        model_ranked = project_has_round(project_id=project.pk)
    snapshot = ProjectSnapshot(
        project=project, tree=tree, checked_at=now, loops=loops, model_ranked=model_ranked
    )
    with _lock:
        _snapshots[slug] = snapshot
    return snapshot


def tree_loop_message(snapshot: ProjectSnapshot) -> str | None:
    """What volunteers are told when the project's stored tree loops, else None."""
    if not snapshot.loops:
        return None
    return loop_message(slug=snapshot.project.slug, loop=snapshot.loops[0])


def loop_message(*, slug: str, loop) -> str:
    """What the classify page says instead of a tree that loops (`loop`: its question keys)."""
    return (
        f"The questions of project {slug!r} loop ({' -> '.join(loop)}), so no classification "
        "could ever finish: nothing can be classified here until its staff fix the question tree"
    )


def forget(slug: str | None = None) -> None:
    """Drop one cached project (or all): the next request reads it again."""
    with _lock:
        if slug is None:
            _snapshots.clear()
        else:
            _snapshots.pop(slug, None)


@receiver(post_save, sender=Project)
@receiver(post_delete, sender=Project)
def _project_changed(sender, instance: Project, **kwargs) -> None:
    forget(instance.slug)
