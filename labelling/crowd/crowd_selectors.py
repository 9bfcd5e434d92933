"""Reads of the crowd's standing: exclusions, address digests, untrusted and trusted vote counts,
the least reliable volunteers for the dashboard, and weighted counts for the exports."""

from django.db.models import Count

from labelling.core.selectors import question_versions
from labelling.core.votes import annotations_counted, counts_add
from labelling.models import (
    Classification,
    Project,
    Volunteer,
    VolunteerExclusion,
    VolunteerReliability,
)


def excluded_volunteer_ids(*, project: Project) -> set[int]:
    """Volunteers whose exclusion from the project stands (not lifted)."""
    return set(
        VolunteerExclusion.objects.filter(project=project, lifted_at__isnull=True).values_list(
            "volunteer_id", flat=True
        )
    )


def address_digests(*, volunteer_ids: list[int]) -> dict[int, str]:
    return dict(Volunteer.objects.filter(pk__in=volunteer_ids).values_list("pk", "address_digest"))


def untrusted_volunteer_ids(*, project: Project) -> set[int]:
    return set(
        VolunteerReliability.objects.filter(project=project, untrusted=True).values_list(
            "volunteer_id", flat=True
        )
    )


def untrusted_counts(*, project: Project, subject_ids: list[int]) -> dict[int, int]:
    """Per subject, its classifications by volunteers the project does not trust now."""
    return dict(
        Classification.objects.filter(
            project=project,
            subject_id__in=subject_ids,
            volunteer_id__in=VolunteerReliability.objects.filter(
                project=project, untrusted=True
            ).values("volunteer_id"),
        )
        .values("subject_id")
        .annotate(votes=Count("pk"))
        .values_list("subject_id", "votes")
    )


def trusted_vote_counts(*, project: Project, subject_ids: list[int]) -> dict[int, dict]:
    """Per subject, vote counts ({question: {answer: votes}}) from trusted volunteers only."""
    untrusted = untrusted_volunteer_ids(project=project)
    since = question_versions(project_id=project.pk)
    counts: dict[int, dict] = {pk: {} for pk in subject_ids}
    for subject_id, volunteer_id, annotations, made_under in Classification.objects.filter(
        project=project, subject_id__in=subject_ids
    ).values_list("subject_id", "volunteer_id", "annotations", "tree_version"):
        if volunteer_id not in untrusted:
            counts_add(counts[subject_id], annotations_counted(annotations, made_under, since))
    return counts


def vote_weights(*, project: Project, volunteer_ids: list[int] | None = None) -> dict[int, float]:
    """Each volunteer's weight as the last round estimated it, 0 for an excluded one (a volunteer
    no round has weighed yet is missing: `weighted_vote_counts` gives them the prior weight);
    every volunteer of the project's, or those of `volunteer_ids`."""
    rows = VolunteerReliability.objects.filter(project=project)
    if volunteer_ids is not None:
        rows = rows.filter(volunteer_id__in=volunteer_ids)
    weights = dict(rows.values_list("volunteer_id", "weight"))
    excluded = excluded_volunteer_ids(project=project)
    if volunteer_ids is not None:
        excluded &= set(volunteer_ids)
    return weights | dict.fromkeys(excluded, 0.0)


def weighted_vote_counts(
    *, project: Project, subject_ids: list[int], weights: dict[int, float]
) -> dict[int, dict]:
    """Per subject, each vote counted with its volunteer's weight (`vote_weights`)."""
    from mlworker.reliability import KIND_PRIOR

    since = question_versions(project_id=project.pk)
    counts: dict[int, dict] = {pk: {} for pk in subject_ids}
    for subject_id, volunteer_id, annotations, made_under in Classification.objects.filter(
        project=project, subject_id__in=subject_ids
    ).values_list("subject_id", "volunteer_id", "annotations", "tree_version"):
        counts_add(
            counts[subject_id],
            annotations_counted(annotations, made_under, since),
            weights.get(volunteer_id, float(KIND_PRIOR[0])),
        )
    return counts


def least_reliable(*, project: Project, limit: int = 20) -> list[VolunteerReliability]:
    """The volunteers with the lowest weight (untrusted first), with their evidence."""
    return list(
        VolunteerReliability.objects.filter(project=project)
        .select_related("volunteer", "volunteer__user")
        .order_by("-untrusted", "weight", "-classifications")[:limit]
    )


def standing_summary(*, project: Project) -> dict:
    """{"weighed", "flagged", "excluded"}: volunteers the last round weighed, flagged, and those
    staff excluded (standing exclusions)."""
    rows = VolunteerReliability.objects.filter(project=project)
    return {
        "weighed": rows.count(),
        "flagged": rows.filter(flagged=True).count(),
        "excluded": len(excluded_volunteer_ids(project=project)),
    }
