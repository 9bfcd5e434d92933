"""Taking things back: withdraw an image, archive a project, delete one with its files.

- A **withdrawn** image is retired with the reason "withdrawn": it leaves the queue at once, is
  never shown or served again (labelling/volunteer/media.py), takes no new vote, and is left out of
  training (labelling/loop/model_selectors.py) and of the exports unless they ask for it
  (labelling/catalogue/exports.py, `include_withdrawn`; labelling/core/selectors.py,
  `subjects_exported`). Its votes are kept, and it can be restored.
- An **archived** project is unpublished, off the staff home's default list and never retrained by
  the schedule; nothing of it is deleted, and it can be brought back.
- A **deleted** project loses its rows and its files: the images no other project holds and its
  model files (MODEL_ROOT/<slug>). `project_deletion_summary` says what will be lost, for the
  confirmation page.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labelling.core.errors import InvalidInput
from labelling.models import (
    Classification,
    ModelVersion,
    Project,
    RetirementReason,
    Subject,
    SubjectStatus,
)
from labelling.queue import redis_queue
from labelling.retirement import fixed_count


@transaction.atomic
def subject_withdraw(*, project: Project, subject_id: int) -> Subject:
    subject = Subject.objects.select_for_update().get(project=project, pk=subject_id)
    if subject.withdrawn:
        raise InvalidInput(f"Subject {subject_id} is withdrawn already")
    subject.status, subject.retired_at = SubjectStatus.RETIRED, timezone.now()
    subject.retirement_reason = RetirementReason.WITHDRAWN
    subject.save(update_fields=fixed_count.RETIRED_FIELDS)
    transaction.on_commit(
        lambda: redis_queue.subjects_retired(project_id=project.pk, subject_ids=[subject.pk])
    )
    return subject


@transaction.atomic
def subject_restore(*, project: Project, subject_id: int) -> Subject:
    """A withdrawn subject back in the queue (or retired at the limit, if its votes reach it)."""
    subject = Subject.objects.select_for_update().get(project=project, pk=subject_id)
    if not subject.withdrawn:
        raise InvalidInput(f"Subject {subject_id} is not withdrawn: nothing to restore")
    subject.status, subject.retired_at = SubjectStatus.ACTIVE, None
    subject.retirement_reason = RetirementReason.NONE
    fixed_count.subject_retire_at_limit(subject=subject, limit=project.retirement_limit)
    subject.save(update_fields=fixed_count.RETIRED_FIELDS)
    if subject.status == SubjectStatus.ACTIVE:
        version = Project.objects.values_list("serving_version", flat=True).get(pk=project.pk)
        transaction.on_commit(
            lambda: redis_queue.subject_added(
                project_id=project.pk,
                version=version,
                subject_id=subject.pk,
                priority=subject.priority,
                image=subject.image,
            )
        )
    return subject


def project_archive(*, project: Project) -> Project:
    Project.objects.filter(pk=project.pk).update(archived_at=timezone.now(), is_published=False)
    project.refresh_from_db(fields=["archived_at", "is_published"])
    return project


def project_unarchive(*, project: Project) -> Project:
    """Back on the staff home, still unpublished: its team publishes it again."""
    Project.objects.filter(pk=project.pk).update(archived_at=None)
    project.refresh_from_db(fields=["archived_at"])
    return project


@dataclass(frozen=True)
class DeletionSummary:
    """What deleting a project loses, for its confirmation page."""

    images: int
    image_files: int  # files only this project holds (others' copies of an image stay)
    withdrawn: int
    classifications: int
    volunteers: int
    model_versions: int
    model_folder: Path

    def lines(self) -> list[str]:
        return [
            f"{_count(self.images, 'image')} ({_count(self.image_files, 'file')} on disk, "
            f"{self.withdrawn} withdrawn)",
            f"{_count(self.classifications, 'classification')} by "
            f"{_count(self.volunteers, 'volunteer')}",
            f"{_count(self.model_versions, 'model version')} and the model files in "
            f"{self.model_folder}",
            "its settings, question tree and its changes, team, reviews and exports",
        ]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _own_image_files(project: Project) -> list[str]:
    """The media paths of the project's images that no other project's subject uses."""
    paths = set(Subject.objects.filter(project=project).values_list("image", flat=True))
    shared = set(
        Subject.objects.filter(image__in=paths)
        .exclude(project=project)
        .values_list("image", flat=True)
    )
    return sorted(paths - shared)


def project_deletion_summary(*, project: Project) -> DeletionSummary:
    votes = Classification.objects.filter(project=project)
    return DeletionSummary(
        images=project.subjects.count(),
        image_files=len(_own_image_files(project)),
        withdrawn=project.subjects.filter(retirement_reason=RetirementReason.WITHDRAWN).count(),
        classifications=votes.count(),
        volunteers=votes.values("volunteer_id").distinct().count(),
        model_versions=ModelVersion.objects.filter(project=project).count(),
        model_folder=Path(settings.MODEL_ROOT) / project.slug,
    )


def project_delete_with_files(*, project: Project) -> int:
    """Delete the project's rows, then its own image files and model folder once the deletion is
    committed. Returns how many image files it removes."""
    media = Path(settings.MEDIA_ROOT)
    with transaction.atomic():
        files = _own_image_files(project)
        folder = Path(settings.MODEL_ROOT) / project.slug
        Project.objects.filter(pk=project.pk).delete()

        def remove_files():
            # An image another project imported meanwhile keeps its file.
            taken = set(Subject.objects.filter(image__in=files).values_list("image", flat=True))
            for relative in set(files) - taken:
                (media / relative).unlink(missing_ok=True)
            shutil.rmtree(folder, ignore_errors=True)

        transaction.on_commit(remove_files)
    return len(files)
