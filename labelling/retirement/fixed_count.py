"""Fixed-count retirement: an active subject retires once its trusted votes (its classifications
less the untrusted ones, labelling/crowd) reach the project's retirement limit; its reason is
`RetirementReason.LIMIT`. Model-aware retirement (rule.py) keeps the same limit as its cap.

Both vote paths of labelling/volunteer/submission.py apply this one definition: the one-statement
path (PostgreSQL) through `retire_at_limit_sql`, the ORM path through `subject_retire_at_limit`.
The reasons' values are labelling/retirement_reasons.py (the tables and labelling/crowd, below
this package, use them too).
"""

from django.utils import timezone

from labelling.models import RetirementReason, Subject, SubjectStatus

RETIRED_FIELDS = ["status", "retired_at", "retirement_reason"]


def reaches_limit(*, status: str, trusted_votes: int, limit: int) -> bool:
    """An active subject with `trusted_votes` retires at `limit`."""
    return status == SubjectStatus.ACTIVE and trusted_votes >= limit


def subject_retire_at_limit(*, subject: Subject, limit: int) -> list[str]:
    """Retire `subject` (a row the caller holds locked, counts already updated) if its trusted votes
    reach `limit`; returns the fields it changed (none when it stays)."""
    trusted_votes = subject.classification_count - subject.untrusted_count
    if not reaches_limit(status=subject.status, trusted_votes=trusted_votes, limit=limit):
        return []
    subject.status = SubjectStatus.RETIRED
    subject.retired_at = timezone.now()
    subject.retirement_reason = RetirementReason.LIMIT
    return list(RETIRED_FIELDS)


def retire_at_limit_sql(*, trusted_votes: str) -> str:
    """The same rule as SET clauses of `UPDATE labelling_subject AS subject`: `trusted_votes` is the
    SQL expression of the subject's trusted votes, `%(limit)s` the parameter holding the limit."""
    retires = f"subject.status = '{SubjectStatus.ACTIVE.value}' AND {trusted_votes} >= %(limit)s"
    return ",\n        ".join(
        [
            f"status = CASE WHEN {retires} THEN '{SubjectStatus.RETIRED.value}'"
            " ELSE subject.status END",
            f"retired_at = CASE WHEN {retires} THEN now() ELSE subject.retired_at END",
            f"retirement_reason = CASE WHEN {retires} THEN '{RetirementReason.LIMIT.value}'"
            " ELSE subject.retirement_reason END",
        ]
    )
