"""A volunteer's vote: `classification_submit` and its two paths.

On PostgreSQL the vote is one prepared statement (SUBMIT_SQL: lock, insert, count, retire);
elsewhere (the embedded SQLite default) the same steps through the ORM in one transaction. Both
retire by labelling/retirement/fixed_count.py, answer a vote they did not store with
`_replay_or_refusal`, and then keep the queue in Redis right (labelling/queue/redis_queue.py; a
no-op when no Redis is configured).
"""

import functools
import json
import time

import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from labelling.core.errors import Conflict, InvalidInput, NotFound
from labelling.core.selectors import project_tree, subject_get_in_project, subject_id_parse
from labelling.core.tree import Tree, validate_annotations
from labelling.core.votes import counts_add
from labelling.models import (
    ROUND_PRIORITY_BASE,
    Classification,
    Project,
    RetirementReason,
    Subject,
    SubjectStatus,
    Volunteer,
    VolunteerReliability,
)
from labelling.queue import redis_queue
from labelling.retirement import fixed_count

IDEMPOTENCY_KEY_MAX_LENGTH = 64


class VolunteerGone(Conflict):
    """The volunteer a session points at was deleted."""


def _check_idempotency_key(idempotency_key: object) -> str:
    if not isinstance(idempotency_key, str) or not (
        1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_MAX_LENGTH
    ):
        raise InvalidInput(
            "Invalid value for idempotency_key: expected a string of 1 to "
            f"{IDEMPOTENCY_KEY_MAX_LENGTH} characters, "
            f"received {idempotency_key!r:.80}"
        )
    if "\x00" in idempotency_key:  # PostgreSQL's text refuses NUL
        raise InvalidInput(
            "Invalid value for idempotency_key: expected no NUL character (\\x00), "
            f"received {idempotency_key!r:.80}"
        )
    return idempotency_key


def _replay_or_refusal(
    *, volunteer_id: int, idempotency_key: str, subject_id: int
) -> tuple[Classification, bool]:
    """The answer to a vote that was not stored: the classification this volunteer stored under
    the key (created=False) when it is for this subject; else Conflict (the key was used for
    another subject, or the volunteer already classified this one)."""
    existing = Classification.objects.filter(
        volunteer_id=volunteer_id, idempotency_key=idempotency_key
    ).first()
    if existing is None:
        raise Conflict(
            f"You have already classified subject {subject_id}: one classification per subject"
        )
    if existing.subject_id != subject_id:
        raise Conflict(
            f"idempotency_key {idempotency_key!r} was already used for subject "
            f"{existing.subject_id}, not {subject_id}: use a new key for a new classification"
        )
    return existing, False


def classification_submit(
    *,
    project: Project,
    volunteer: Volunteer,
    subject_id: object,
    annotations: object,
    idempotency_key: object,
    tree: Tree | None = None,
) -> tuple[Classification, bool]:
    """Store one volunteer's classification and update the subject's counts in one transaction.

    Returns (classification, created). A replay of an earlier idempotency key returns the stored
    classification with created=False. A vote on a retired subject is kept and marked.
    `tree` is the project's question tree when the caller holds it (labelling/core/snapshots.py).
    On PostgreSQL the vote is one statement (one round trip, its own transaction); the queue's
    bookkeeping in Redis follows it (labelling/queue/redis_queue.py).
    """
    idempotency_key = _check_idempotency_key(idempotency_key)
    if connection.vendor == "postgresql":
        return _submit_in_one_statement(
            project=project,
            volunteer_id=volunteer.pk,
            subject_id=subject_id_parse(subject_id),
            annotations=annotations,
            idempotency_key=idempotency_key,
            tree=tree or project_tree(project=project),
        )
    return _submit_through_orm(
        project=project,
        volunteer=volunteer,
        subject_id=subject_id,
        annotations=annotations,
        idempotency_key=idempotency_key,
        tree=tree or project_tree(project=project),
    )


# Lock the subject row (a concurrent vote on it waits), insert the classification unless this
# volunteer already classified the subject or used the key, then count the answers and retire at
# the limit (labelling/retirement/fixed_count.py): all in one statement. The UPDATE re-reads the
# locked row, so counts stay exact.
# requested_by_model: the subject's priority was a round pick's (the model asked for it), read
# from the row the statement locks anyway. A vote from a volunteer the last round judged
# unreliable, or staff excluded (labelling/crowd), is stored and counted, but not toward the limit.
SUBMIT_SQL = (
    """
WITH target AS (
    SELECT id, status, priority >= {requested_floor} AS requested FROM labelling_subject
    WHERE id = %(subject)s AND project_id = %(project)s
      AND retirement_reason <> '{withdrawn}'
      AND %(tree_version)s = (SELECT tree_version FROM labelling_project WHERE id = %(project)s)
    FOR UPDATE
), voter AS (
    SELECT EXISTS (
        SELECT 1 FROM labelling_volunteerreliability
        WHERE project_id = %(project)s AND volunteer_id = %(volunteer)s AND untrusted
    ) AS untrusted
), inserted AS (
    INSERT INTO labelling_classification (project_id, subject_id, volunteer_id, annotations,
                                          idempotency_key, after_retirement, requested_by_model,
                                          tree_version, created_at)
    SELECT %(project)s, target.id, %(volunteer)s, %(annotations)s::jsonb, %(key)s,
           target.status = 'retired', target.requested, %(tree_version)s, now()
    FROM target
    ON CONFLICT DO NOTHING
    RETURNING id, after_retirement, requested_by_model
), updated AS (
    UPDATE labelling_subject AS subject SET
        classification_count = subject.classification_count + 1,
        untrusted_count = subject.untrusted_count + voter.untrusted::int,
        vote_counts = {counts},
        {retire_at_limit}
    FROM inserted, voter WHERE subject.id = %(subject)s
    RETURNING subject.status
)
SELECT EXISTS (SELECT 1 FROM target), inserted.id, inserted.after_retirement,
       inserted.requested_by_model, updated.status
FROM (SELECT 1) AS one LEFT JOIN inserted ON true LEFT JOIN updated ON true
""".replace("{requested_floor}", repr(float(ROUND_PRIORITY_BASE)))
    .replace("{withdrawn}", RetirementReason.WITHDRAWN.value)
    .replace(
        "{retire_at_limit}",
        fixed_count.retire_at_limit_sql(
            # the subject's trusted votes with this one
            trusted_votes="subject.classification_count - subject.untrusted_count"
            " + (NOT voter.untrusted)::int"
        ),
    )
)


def _counts_sql(walked: dict[str, str]) -> tuple[str, dict]:
    """The jsonb expression adding one to each answered (question, answer) count, and its params."""
    params = {}
    for index, (question_key, answer_key) in enumerate(walked.items()):
        params[f"question_{index}"] = question_key
        params[f"answer_{index}"] = answer_key
    return _counts_expression(len(walked)), params


@functools.cache
def _counts_expression(answered: int) -> str:
    pairs = []
    for index in range(answered):
        question, answer = f"%(question_{index})s::text", f"%(answer_{index})s::text"
        pairs.append(
            f"{question}, coalesce(subject.vote_counts -> {question}, '{{}}'::jsonb)"
            f" || jsonb_build_object({answer},"
            f" coalesce((subject.vote_counts -> {question} ->> {answer})::int, 0) + 1)"
        )
    expression = "coalesce(subject.vote_counts, '{}'::jsonb) || jsonb_build_object("
    return expression + ", ".join(pairs) + ")"


@functools.cache
def submit_statement(answered: int) -> str:
    """SUBMIT_SQL for a vote that answers `answered` questions: its parameters are those of
    `_counts_sql` (`%(question_<i>)s`, `%(answer_<i>)s`) and `_submit_in_one_statement`'s."""
    return SUBMIT_SQL.replace("{counts}", _counts_expression(answered))


def _submit_in_one_statement(
    *,
    project: Project,
    volunteer_id: int,
    subject_id: int,
    annotations: object,
    idempotency_key: str,
    tree: Tree,
) -> tuple[Classification, bool]:
    walked = validate_annotations(tree, annotations)
    _, params = _counts_sql(walked)
    params |= {
        "subject": subject_id,
        "project": project.pk,
        "volunteer": volunteer_id,
        "annotations": json.dumps(walked),
        "key": idempotency_key,
        "limit": project.retirement_limit,
        "tree_version": project.tree_version,
    }
    try:
        found, classification_id, after_retirement, requested, status = _execute_prepared(
            submit_statement(len(walked)), params
        )
    except IntegrityError:  # the session's volunteer no longer exists (the only foreign key left)
        raise VolunteerGone(
            f"Volunteer {volunteer_id} no longer exists: reload the page to start a new session"
        ) from None
    if not found:
        _refuse_unstored(project=project, subject_id=subject_id)
    if classification_id is None:
        return _replay_or_refusal(
            volunteer_id=volunteer_id, idempotency_key=idempotency_key, subject_id=subject_id
        )
    redis_queue.after_classification(
        project_id=project.pk,
        version=project.serving_version,
        volunteer_id=volunteer_id,
        subject_id=subject_id,
        retired=status == SubjectStatus.RETIRED,
    )
    classification = Classification(
        pk=classification_id,
        project_id=project.pk,
        subject_id=subject_id,
        volunteer_id=volunteer_id,
        annotations=walked,
        idempotency_key=idempotency_key,
        after_retirement=after_retirement,
        requested_by_model=requested,
        tree_version=project.tree_version,
    )
    return classification, True


def _refuse_unstored(*, project: Project, subject_id: int) -> None:
    """Why a vote found no subject to count on: it was withdrawn, or the questions changed shape
    while the volunteer answered (the vote was checked against the tree before), or it is unknown."""
    subject = Subject.objects.filter(pk=subject_id, project_id=project.pk).first()
    if subject is None:
        raise NotFound(f"Unknown subject {subject_id} in project {project.slug!r}")
    if subject.withdrawn:
        raise Conflict(
            f"Subject {subject_id} was withdrawn by the project's team: it takes no more votes"
        )
    current = Project.objects.values_list("tree_version", flat=True).get(pk=project.pk)
    raise Conflict(
        f"The questions of project {project.slug!r} changed while you answered (version "
        f"{project.tree_version}, now {current}): reload the page and answer again"
    )


def _execute_prepared(sql: str, params: dict) -> tuple:
    """Run one statement as a server-side prepared statement (planned once per connection, which
    saves the database more time than the statement takes to run) and return its one row."""
    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=settings.STARLING_SUBMIT_PREPARED)
        row = cursor.fetchone()
    if connection.queries_logged:  # as Django's debug cursor does: DEBUG and query counting see it
        connection.queries_log.append(
            {"sql": f"{sql} -- {params}", "time": f"{time.monotonic() - started:.3f}"}
        )
    return row


def _submit_through_orm(
    *,
    project: Project,
    volunteer: Volunteer,
    subject_id: object,
    annotations: object,
    idempotency_key: str,
    tree: Tree,
) -> tuple[Classification, bool]:
    """The vote through the ORM in one transaction (any database; the path SQLite takes), then the
    queue's bookkeeping in Redis as the one-statement path does it."""
    subject = subject_get_in_project(project=project, subject_id=subject_id)
    if Classification.objects.filter(volunteer=volunteer, idempotency_key=idempotency_key).exists():
        return _replay_or_refusal(
            volunteer_id=volunteer.pk, idempotency_key=idempotency_key, subject_id=subject.pk
        )
    walked = validate_annotations(tree, annotations)
    try:
        with transaction.atomic():
            stored = _store_classification(project, volunteer, subject.pk, walked, idempotency_key)
    except IntegrityError:  # a concurrent request with the same key (or subject) won the race
        stored = None
    if stored is None:
        return _replay_or_refusal(
            volunteer_id=volunteer.pk, idempotency_key=idempotency_key, subject_id=subject.pk
        )
    classification, retired = stored
    redis_queue.after_classification(
        project_id=project.pk,
        version=project.serving_version,
        volunteer_id=volunteer.pk,
        subject_id=subject.pk,
        retired=retired,
    )
    return classification, True


def _store_classification(
    project, volunteer, subject_id, walked, idempotency_key
) -> tuple[Classification, bool] | None:
    """Store the vote on the locked subject row: (classification, whether the subject is retired
    now), or None when the volunteer already classified the subject."""
    subject = Subject.objects.select_for_update().get(pk=subject_id)
    current = Project.objects.values_list("tree_version", flat=True).get(pk=project.pk)
    if subject.withdrawn or current != project.tree_version:
        _refuse_unstored(project=project, subject_id=subject_id)
    if Classification.objects.filter(subject=subject, volunteer=volunteer).exists():
        return None
    classification = Classification.objects.create(
        project=project,
        subject=subject,
        volunteer=volunteer,
        annotations=walked,
        idempotency_key=idempotency_key,
        after_retirement=subject.status == SubjectStatus.RETIRED,
        requested_by_model=subject.requested_by_model,
        tree_version=project.tree_version,
    )
    subject.vote_counts = counts_add(subject.vote_counts or {}, walked)
    # The row is locked (select_for_update), so plain arithmetic is safe here.
    subject.classification_count += 1
    subject.untrusted_count += int(
        VolunteerReliability.objects.filter(
            project=project, volunteer=volunteer, untrusted=True
        ).exists()
    )
    update_fields = ["vote_counts", "classification_count", "untrusted_count"]
    update_fields += fixed_count.subject_retire_at_limit(
        subject=subject, limit=project.retirement_limit
    )
    subject.save(update_fields=update_fields)
    return classification, subject.status == SubjectStatus.RETIRED
