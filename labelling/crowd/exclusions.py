"""Staff exclude a volunteer from a project, or lift the exclusion: recorded (who, when, why),
never deleted, and in force at once — the volunteer's votes stop counting (or count again) toward
retirement, in the weighted export, and in the next round's training and judgement."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labelling.core.errors import Conflict, NotFound
from labelling.crowd.reliability import untrusted_recount
from labelling.models import Project, Volunteer, VolunteerExclusion, VolunteerReliability


def _volunteer_in_project(project: Project, volunteer_id: int) -> Volunteer:
    volunteer = Volunteer.objects.filter(pk=volunteer_id, classifications__project=project).first()
    if volunteer is None:
        raise NotFound(
            f"Volunteer {volunteer_id} has no classifications in project {project.slug!r}"
        )
    return volunteer


def volunteer_exclude(
    *, project: Project, volunteer_id: int, by, reason: str = ""
) -> VolunteerExclusion:
    volunteer = _volunteer_in_project(project, volunteer_id)
    with transaction.atomic():
        if VolunteerExclusion.objects.filter(
            project=project, volunteer=volunteer, lifted_at__isnull=True
        ).exists():
            raise Conflict(f"Volunteer {volunteer_id} is already excluded from {project.slug!r}")
        exclusion = VolunteerExclusion.objects.create(
            project=project, volunteer=volunteer, excluded_by=by, reason=reason[:300]
        )
        _set_untrusted(project, volunteer, True)
    untrusted_recount(project=project, volunteer_ids=[volunteer.pk])
    return exclusion


def volunteer_exclusion_lift(*, project: Project, volunteer_id: int, by) -> VolunteerExclusion:
    with transaction.atomic():
        exclusion = (
            VolunteerExclusion.objects.select_for_update()
            .filter(project=project, volunteer_id=volunteer_id, lifted_at__isnull=True)
            .first()
        )
        if exclusion is None:
            raise NotFound(f"Volunteer {volunteer_id} is not excluded from {project.slug!r}")
        exclusion.lifted_by, exclusion.lifted_at = by, timezone.now()
        exclusion.save(update_fields=["lifted_by", "lifted_at"])
        # Back to the round's own judgement of them.
        VolunteerReliability.objects.filter(project=project, volunteer_id=volunteer_id).update(
            untrusted=F("flagged")
        )
    untrusted_recount(project=project, volunteer_ids=[volunteer_id])
    return exclusion


def _set_untrusted(project: Project, volunteer: Volunteer, untrusted: bool) -> None:
    updated = VolunteerReliability.objects.filter(project=project, volunteer=volunteer).update(
        untrusted=untrusted
    )
    if not updated:  # no round has weighed them yet
        VolunteerReliability.objects.create(
            project=project,
            volunteer=volunteer,
            weight=0.0,
            kind="unknown",
            untrusted=untrusted,
            answers=0,
            classifications=volunteer.classifications.filter(project=project).count(),
            computed_at=timezone.now(),
        )
