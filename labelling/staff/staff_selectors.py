"""The staff pages' reads: dashboard totals, votes per hour, subject lists, prediction history."""

from datetime import timedelta

from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from labelling.catalogue import manifest
from labelling.loop import model_selectors
from labelling.models import (
    Classification,
    Prediction,
    Project,
    RetirementReason,
    Subject,
    SubjectStatus,
)


def project_dashboard_stats(*, project: Project) -> dict:
    """Totals for the dashboard in a handful of aggregate queries, whatever the project's size."""
    from django.db.models import Count, Q, Sum

    by_model = Q(status=SubjectStatus.RETIRED, retirement_reason=RetirementReason.MODEL)
    withdrawn = Q(retirement_reason=RetirementReason.WITHDRAWN)
    subjects = Subject.objects.filter(project=project).aggregate(
        withdrawn=Count("id", filter=withdrawn),
        total=Count("id"),
        active=Count("id", filter=Q(status=SubjectStatus.ACTIVE)),
        retired=Count("id", filter=Q(status=SubjectStatus.RETIRED)),
        retired_by_model=Count("id", filter=by_model),
        votes_at_model_retirement=Sum("classification_count", filter=by_model),
        votes=Sum("classification_count"),
    )
    # Votes the model-aware rule did not ask for: the limit minus what model-retired subjects had.
    spared = subjects.pop("votes_at_model_retirement") or 0
    subjects["votes_spared"] = subjects["retired_by_model"] * project.retirement_limit - spared
    subjects["retired_at_limit"] = (
        subjects["retired"] - subjects["retired_by_model"] - subjects["withdrawn"]
    )
    volunteers = Classification.objects.filter(project=project).aggregate(
        n=Count("volunteer", distinct=True)
    )["n"]
    votes = subjects["votes"] or 0
    wanted = subjects["total"] * project.retirement_limit
    return {
        **subjects,
        "votes": votes,
        "volunteers": volunteers,
        "retired_share": subjects["retired"] / subjects["total"] if subjects["total"] else 0.0,
        "vote_share": min(1.0, votes / wanted) if wanted else 0.0,
    }


def votes_per_hour_window(*, hours: int = 72, now=None) -> tuple:
    """(start, end) of the votes-per-hour chart: the last `hours` whole hours up to the end of the
    current one."""
    end = (now or timezone.now()).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return end - timedelta(hours=hours), end


def votes_per_hour(*, project: Project, since=None) -> list[tuple]:
    """[(hour, classifications)] from `since` (default: the chart's window), by hour."""
    from django.db.models import Count
    from django.db.models.functions import TruncHour

    since = since or votes_per_hour_window()[0]
    return list(
        Classification.objects.filter(project=project, created_at__gte=since)
        .annotate(hour=TruncHour("created_at"))
        .values_list("hour")
        .annotate(n=Count("id"))
        .order_by("hour")
    )


def subjects_for_staff(*, project: Project, status: str | None = None, search: str = ""):
    """The project's subjects, highest priority first; `search`: those whose file name or
    metadata (keys and values, as JSON text) contains it, ignoring case."""
    queryset = Subject.objects.filter(project=project).order_by("-priority", "pk")
    if status:
        queryset = queryset.filter(status=status)
    if search:
        queryset = queryset.annotate(metadata_text=Cast("metadata", TextField())).filter(
            Q(original_name__icontains=search) | Q(metadata_text__icontains=search)
        )
    return queryset.only(
        "pk",
        "image",
        "status",
        "retirement_reason",
        "classification_count",
        "priority",
        "original_name",
        "project_id",
    )


def subjects_next_in_queue(*, project: Project, count: int = 12):
    return list(
        Subject.objects.filter(project=project, status=SubjectStatus.ACTIVE).order_by(
            "-priority", "pk"
        )[:count]
    )


def subjects_next_described(*, project: Project, acquisition_round, count: int = 12) -> list:
    """The next subjects volunteers are served, each with its survey ID and why it is there:
    [(subject, survey ID or None, "the model's pick #3" / "acquisition score 0.042" / "random
    order, before the first model")]."""
    ranks = {}
    if acquisition_round is not None:
        ranks = dict(acquisition_round.picks.values_list("subject_id", "rank"))
    described = []
    for subject in subjects_next_in_queue(project=project, count=count):
        if subject.requested_by_model and subject.pk in ranks:
            why = f"the model's pick #{ranks[subject.pk]}"
        elif acquisition_round is not None:
            why = f"acquisition score {subject.priority:.3g}"
        else:
            why = "random order, before the first model"
        described.append((subject, manifest.survey_id(subject.metadata), why))
    return described


def first_model_progress(*, project: Project) -> dict | None:
    """Before the first ready model version: {"labelled", "needed", "share"} (labelled subjects
    so far out of the minimum a first retrain waits for); None once a version is ready."""
    if model_selectors.model_versions_ready(project=project).exists():
        return None
    labelled, total = model_selectors.labelled_subjects_count(project=project)
    needed = min(project.retrain_minimum_labelled_subjects, total)
    return {
        "labelled": labelled,
        "needed": needed,
        "share": min(1.0, labelled / needed) if needed else 0.0,
    }


def subject_volunteer_ids(*, subject: Subject) -> list[int]:
    """The volunteers who classified the subject."""
    return list(subject.classifications.values_list("volunteer_id", flat=True))


def subject_prediction_history(*, subject: Subject) -> list[Prediction]:
    """The subject's predictions, newest model version first."""
    return list(
        Prediction.objects.filter(subject=subject)
        .select_related("model_version")
        .order_by("-model_version__number")
    )
