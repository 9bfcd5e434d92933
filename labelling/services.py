"""Every write: plain functions, keyword-only arguments, one transaction each."""

import functools
import hashlib
import io
import json
import logging
import os
import random
import secrets
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from labelling import queue
from labelling.archive import open_members
from labelling.errors import Conflict, ImportRefused, InvalidInput, NotFound
from labelling.models import (
    Answer,
    Classification,
    Project,
    Question,
    RetirementReason,
    Subject,
    SubjectStatus,
    Volunteer,
)
from labelling.selectors import (
    project_tree,
    subject_get_in_project,
    subject_id_parse,
    subject_recount,
)
from labelling.tree import Tree, validate_annotations

logger = logging.getLogger(__name__)

# --- volunteers ---------------------------------------------------------------------------------


def volunteer_get_or_create(*, user=None, session_key: str | None = None) -> Volunteer:
    """The Volunteer behind a request: the account when logged in, else the anonymous session."""
    if user is not None and user.is_authenticated:
        volunteer, _ = Volunteer.objects.get_or_create(user=user)
        return volunteer
    if not session_key:
        raise InvalidInput("No session: enable cookies to classify anonymously")
    volunteer, _ = Volunteer.objects.get_or_create(session_key=session_key)
    return volunteer


def volunteer_create_anonymous() -> Volunteer:
    """A new anonymous volunteer; its id lives in the browser's session (a signed cookie)."""
    return Volunteer.objects.create(session_key=f"anonymous-{secrets.token_urlsafe(32)}")


# --- projects and their question trees -----------------------------------------------------------


@dataclass(frozen=True)
class AnswerSpec:
    key: str
    text: str
    shortcut: str
    next_question: str | None = None


@dataclass(frozen=True)
class QuestionSpec:
    key: str
    text: str
    answers: tuple[AnswerSpec, ...]


def question_specs_from_dicts(questions: list[dict]) -> list[QuestionSpec]:
    """[{key, text, answers: [{key, text, shortcut, next}]}] (the synthetic tree's shape) -> specs."""
    return [
        QuestionSpec(
            key=question["key"],
            text=question["text"],
            answers=tuple(
                AnswerSpec(
                    key=a["key"],
                    text=a["text"],
                    shortcut=a["shortcut"],
                    next_question=a.get("next"),
                )
                for a in question["answers"]
            ),
        )
        for question in questions
    ]


@transaction.atomic
def project_create(
    *, slug: str, title: str, questions: list[QuestionSpec], **settings_values
) -> Project:
    """Create a project and its question tree; the first question is the root."""
    if Project.objects.filter(slug=slug).exists():
        raise Conflict(f"A project with slug {slug!r} already exists")
    project = Project(slug=slug, title=title, **settings_values)
    project.full_clean()
    project.save()
    project_tree_replace(project=project, questions=questions)
    return project


@transaction.atomic
def project_tree_replace(*, project: Project, questions: list[QuestionSpec]) -> None:
    """Replace the project's question tree. Refused once votes exist (they would lose meaning)."""
    _check_tree_spec(questions)
    if Classification.objects.filter(project=project).exists():
        raise Conflict(
            f"Project {project.slug!r} already has classifications: its questions can no longer "
            "be replaced (create a new project instead)"
        )
    Question.objects.filter(project=project).delete()
    # Web processes cache the tree by this stamp (labelling/snapshots.py).
    Project.objects.filter(pk=project.pk).update(serving_version=F("serving_version") + 1)
    project.refresh_from_db(fields=["serving_version"])
    by_key = {}
    for position, spec in enumerate(questions):
        by_key[spec.key] = Question.objects.create(
            project=project, key=spec.key, text=spec.text, position=position, is_root=position == 0
        )
    for spec in questions:
        for position, answer in enumerate(spec.answers):
            Answer.objects.create(
                question=by_key[spec.key],
                key=answer.key,
                text=answer.text,
                shortcut=answer.shortcut,
                position=position,
                next_question=by_key[answer.next_question] if answer.next_question else None,
            )


def _check_tree_spec(questions: list[QuestionSpec]) -> None:
    if not questions:
        raise InvalidInput("Invalid question tree: expected at least one question, received none")
    keys = [question.key for question in questions]
    if len(set(keys)) != len(keys):
        raise InvalidInput(f"Invalid question tree: question keys repeat in {keys}")
    for question in questions:
        if len(question.answers) < 2:
            raise InvalidInput(
                f"Invalid question {question.key!r}: expected at least 2 answers, "
                f"received {len(question.answers)}"
            )
        answer_keys = [answer.key for answer in question.answers]
        shortcuts = [answer.shortcut for answer in question.answers]
        if len(set(answer_keys)) != len(answer_keys):
            raise InvalidInput(f"Invalid question {question.key!r}: answer keys repeat")
        if len(set(shortcuts)) != len(shortcuts) or any(len(s) != 1 for s in shortcuts):
            raise InvalidInput(
                f"Invalid question {question.key!r}: expected one distinct single-character "
                f"shortcut per answer, received {shortcuts}"
            )
        for answer in question.answers:
            if answer.next_question is not None and answer.next_question not in keys:
                raise InvalidInput(
                    f"Invalid answer {question.key}:{answer.key}: it leads to unknown question "
                    f"{answer.next_question!r}"
                )
            if answer.next_question == question.key:
                raise InvalidInput(f"Invalid answer {question.key}:{answer.key}: it loops back")


# --- classifications -----------------------------------------------------------------------------


class VolunteerGone(Conflict):
    """The volunteer a session points at was deleted."""


def _check_idempotency_key(idempotency_key: object) -> str:
    if not isinstance(idempotency_key, str) or not (1 <= len(idempotency_key) <= 64):
        raise InvalidInput(
            "Invalid value for idempotency_key: expected a string of 1 to 64 characters, "
            f"received {idempotency_key!r:.80}"
        )
    return idempotency_key


def _replay(*, volunteer: Volunteer, idempotency_key: str, subject_id: int):
    existing = Classification.objects.filter(
        volunteer=volunteer, idempotency_key=idempotency_key
    ).first()
    if existing is None:
        return None
    if existing.subject_id != subject_id:
        raise Conflict(
            f"idempotency_key {idempotency_key!r} was already used for subject "
            f"{existing.subject_id}, not {subject_id}: use a new key for a new classification"
        )
    return existing


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
    `tree` is the project's question tree when the caller holds it (labelling/snapshots.py).
    On PostgreSQL the vote is one statement (one round trip, its own transaction); the queue's
    bookkeeping in Redis follows it (labelling/queue.py).
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
    subject = subject_get_in_project(project=project, subject_id=subject_id)
    existing = _replay(volunteer=volunteer, idempotency_key=idempotency_key, subject_id=subject.pk)
    if existing is not None:
        return existing, False
    walked = validate_annotations(tree or project_tree(project=project), annotations)
    try:
        with transaction.atomic():
            return _store_classification(project, volunteer, subject.pk, walked, idempotency_key)
    except IntegrityError:
        # A concurrent request with the same key (or for the same subject) won the race.
        existing = _replay(
            volunteer=volunteer, idempotency_key=idempotency_key, subject_id=subject.pk
        )
        if existing is not None:
            return existing, False
        raise Conflict(
            f"You have already classified subject {subject.pk}: one classification per subject"
        ) from None


# Lock the subject row (a concurrent vote on it waits), insert the classification unless this
# volunteer already classified the subject or used the key, then count the answers and retire at
# the limit: all in one statement. The UPDATE re-reads the locked row, so counts stay exact.
SUBMIT_SQL = """
WITH target AS (
    SELECT id, status FROM labelling_subject WHERE id = %(subject)s AND project_id = %(project)s
    FOR UPDATE
), inserted AS (
    INSERT INTO labelling_classification (project_id, subject_id, volunteer_id, annotations,
                                          idempotency_key, after_retirement, created_at)
    SELECT %(project)s, target.id, %(volunteer)s, %(annotations)s::jsonb, %(key)s,
           target.status = 'retired', now()
    FROM target
    ON CONFLICT DO NOTHING
    RETURNING id, after_retirement
), updated AS (
    UPDATE labelling_subject AS subject SET
        classification_count = subject.classification_count + 1,
        vote_counts = {counts},
        status = CASE WHEN subject.status = 'active'
                       AND subject.classification_count + 1 >= %(limit)s
                      THEN 'retired' ELSE subject.status END,
        retired_at = CASE WHEN subject.status = 'active'
                           AND subject.classification_count + 1 >= %(limit)s
                          THEN now() ELSE subject.retired_at END,
        retirement_reason = CASE WHEN subject.status = 'active'
                                  AND subject.classification_count + 1 >= %(limit)s
                                 THEN 'limit' ELSE subject.retirement_reason END
    FROM inserted WHERE subject.id = %(subject)s
    RETURNING subject.status
)
SELECT EXISTS (SELECT 1 FROM target), inserted.id, inserted.after_retirement, updated.status
FROM (SELECT 1) AS one LEFT JOIN inserted ON true LEFT JOIN updated ON true
"""


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
def _submit_sql(answered: int) -> str:
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
    }
    try:
        found, classification_id, after_retirement, status = _execute_prepared(
            _submit_sql(len(walked)), params
        )
    except IntegrityError:  # the session's volunteer no longer exists (the only foreign key left)
        raise VolunteerGone(
            f"Volunteer {volunteer_id} no longer exists: reload the page to start a new session"
        ) from None
    if not found:
        raise NotFound(f"Unknown subject {subject_id} in project {project.slug!r}")
    if classification_id is None:
        return _refused_or_replayed(volunteer_id, idempotency_key, subject_id)
    queue.after_classification(
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
    )
    return classification, True


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


def _refused_or_replayed(volunteer_id: int, idempotency_key: str, subject_id: int):
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


def _store_classification(project, volunteer, subject_id, walked, idempotency_key):
    subject = Subject.objects.select_for_update().get(pk=subject_id)
    if Classification.objects.filter(subject=subject, volunteer=volunteer).exists():
        raise Conflict(
            f"You have already classified subject {subject.pk}: one classification per subject"
        )
    classification = Classification.objects.create(
        project=project,
        subject=subject,
        volunteer=volunteer,
        annotations=walked,
        idempotency_key=idempotency_key,
        after_retirement=subject.status == SubjectStatus.RETIRED,
    )
    counts = subject.vote_counts or {}
    for question_key, answer_key in walked.items():
        per_question = counts.setdefault(question_key, {})
        per_question[answer_key] = per_question.get(answer_key, 0) + 1
    subject.vote_counts = counts
    # The row is locked (select_for_update), so plain arithmetic is safe here.
    subject.classification_count += 1
    update_fields = ["vote_counts", "classification_count"]
    if (
        subject.status == SubjectStatus.ACTIVE
        and subject.classification_count >= project.retirement_limit
    ):
        subject.status = SubjectStatus.RETIRED
        subject.retired_at = timezone.now()
        subject.retirement_reason = RetirementReason.LIMIT
        update_fields += ["status", "retired_at", "retirement_reason"]
    subject.save(update_fields=update_fields)
    return classification, True


@transaction.atomic
def subject_counts_rebuild(*, subject: Subject) -> Subject:
    """Recompute a subject's counts from its raw classifications."""
    subject = Subject.objects.select_for_update().get(pk=subject.pk)
    subject.vote_counts = subject_recount(subject=subject)
    subject.classification_count = subject.classifications.count()
    subject.save(update_fields=["vote_counts", "classification_count"])
    return subject


# --- importing images ----------------------------------------------------------------------------

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}
PILLOW_FORMATS = {
    "PNG": "png",
    "JPEG": "jpg",
    "GIF": "gif",
    "BMP": "bmp",
    "TIFF": "tif",
    "WEBP": "webp",
}


def _check_image(name: str, data: bytes) -> str:
    """Validate one image with Pillow; return its file extension. Raises ImportRefused."""
    if not data:
        raise ImportRefused(f"{name}: empty file")
    if len(data) > settings.IMPORT_MAX_FILE_BYTES:
        raise ImportRefused(
            f"{name}: {len(data)} bytes, over the limit of {settings.IMPORT_MAX_FILE_BYTES} bytes"
        )
    max_pixels = settings.IMPORT_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImportRefused(
                        f"{name}: {width}x{height} pixels, over the limit of {max_pixels} pixels "
                        "(possible decompression bomb)"
                    )
                image_format = image.format
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # verify() does not decode: load() finds truncated data
    except ImportRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImportRefused(f"{name}: too many pixels (decompression bomb)") from None
    except UnidentifiedImageError:
        raise ImportRefused(f"{name}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImportRefused(f"{name}: damaged or truncated image ({error})") from None
    if image_format not in PILLOW_FORMATS:
        raise ImportRefused(
            f"{name}: image format {image_format} not accepted, expected one of "
            f"{sorted(PILLOW_FORMATS)}"
        )
    return PILLOW_FORMATS[image_format]


def _store_image_file(content_hash: str, extension: str, data: bytes) -> str:
    """Write the image once under its content hash (atomically); return its media-relative path."""
    relative = f"subjects/{content_hash[:2]}/{content_hash}.{extension}"
    target = Path(settings.MEDIA_ROOT) / relative
    if target.exists():
        return relative
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)
    os.replace(temporary, target)
    return relative


def subject_import_image(
    *, project: Project, name: str, data: bytes, metadata: dict | None = None
) -> Subject:
    """Validate and store one image as a new subject. Raises ImportRefused with the reason."""
    extension = _check_image(name, data)
    content_hash = hashlib.sha256(data).hexdigest()
    duplicate = Subject.objects.filter(project=project, content_hash=content_hash).first()
    if duplicate is not None:
        raise ImportRefused(f"{name}: duplicate of subject {duplicate.pk} already in the project")
    relative = _store_image_file(content_hash, extension, data)
    try:
        with transaction.atomic():
            subject = Subject.objects.create(
                project=project,
                image=relative,
                content_hash=content_hash,
                original_name=name[:300],
                metadata=metadata or {},
                priority=random.random(),  # before the first model, priority is random
            )
    except IntegrityError:
        raise ImportRefused(f"{name}: duplicate of an image already in the project") from None
    transaction.on_commit(
        lambda: queue.subject_added(
            project_id=project.pk,
            version=Project.objects.values_list("serving_version", flat=True).get(pk=project.pk),
            subject_id=subject.pk,
            priority=subject.priority,
            image=subject.image,
        )
    )
    return subject


def _import_member(project, name, read, refusal) -> "ImportLine":
    if refusal is not None:
        return ImportLine(name=name, subject_id=None, error=refusal)
    try:
        subject = subject_import_image(project=project, name=name, data=read())
    except ImportRefused as refused:
        return ImportLine(name=name, subject_id=None, error=refused.message)
    return ImportLine(name=name, subject_id=subject.pk, error=None)


@dataclass
class ImportLine:
    name: str
    subject_id: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def subjects_import_path(*, project: Project, path: Path, progress=None) -> list[ImportLine]:
    """Import every image in a folder or a zip file; one ImportLine per file, good and refused.

    Each file is imported on its own: a refused file changes nothing, the good ones are kept.
    `progress`, if given, is called with (done, total) after each file.
    """
    lines: list[ImportLine] = []
    with open_members(Path(path)) as members:
        for done, (name, read, refusal) in enumerate(members, start=1):
            lines.append(_import_member(project, name, read, refusal))
            if progress is not None:
                progress(done, len(members))
    return lines


# --- staff ---------------------------------------------------------------------------------------


@transaction.atomic
def project_update(
    *, project: Project, questions: list[QuestionSpec] | None = None, **settings_values
) -> Project:
    """Change a project's settings (and its tree while it has no votes)."""
    for name, value in settings_values.items():
        setattr(project, name, value)
    project.full_clean()
    # Not serving_version: a stale copy of it must never overwrite a bump (labelling/queue.py).
    project.save(
        update_fields=[
            field.name
            for field in Project._meta.concrete_fields
            if field.name not in ("id", "serving_version")
        ]
    )
    if questions is not None:
        from labelling.selectors import project_tree

        current = project_tree(project=project)
        if _specs_differ(current, questions):
            project_tree_replace(project=project, questions=questions)
    return project


def _specs_differ(tree, questions: list[QuestionSpec]) -> bool:
    current = [
        (
            key,
            tree.questions[key].text,
            [(a.key, a.text, a.shortcut, a.next_question) for a in tree.questions[key].answers],
        )
        for key in tree.ordered_keys()
    ]
    wanted = [
        (q.key, q.text, [(a.key, a.text, a.shortcut, a.next_question) for a in q.answers])
        for q in questions
    ]
    return sorted(current) != sorted(wanted) or (questions and tree.root != questions[0].key)
