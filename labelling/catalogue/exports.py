"""Streamed CSV exports: raw classifications, vote counts per subject, a model version's catalogue.

Each function yields CSV lines, reading the database in chunks (`.iterator(chunk_size=...)`), so a
million subjects stream in constant memory to a file or an HTTP response.
"""

import csv
import io
import json
from collections.abc import Iterator

from labelling.core.selectors import project_tree
from labelling.core.votes import answer_counts
from labelling.models import Classification, ModelVersion, Prediction, Project, Subject

CHUNK = 2000


def _line(values: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def classifications_csv(*, project: Project) -> Iterator[str]:
    """One row per classification: who, when, whether it came after retirement and whether the
    model had asked for the subject (a round's pick when the vote was cast), the answers."""
    yield _line(
        [
            "classification_id",
            "subject_id",
            "volunteer_id",
            "created_at",
            "after_retirement",
            "requested_by_model",
            "answers",
        ]
    )
    rows = (
        Classification.objects.filter(project=project)
        .order_by("pk")
        .values_list(
            "pk",
            "subject_id",
            "volunteer_id",
            "created_at",
            "after_retirement",
            "requested_by_model",
            "annotations",
        )
    )
    for pk, subject_id, volunteer_id, created_at, late, requested, annotations in rows.iterator(
        chunk_size=CHUNK
    ):
        yield _line(
            [
                pk,
                subject_id,
                volunteer_id,
                created_at.isoformat(),
                int(late),
                int(requested),
                json.dumps(annotations, sort_keys=True),
            ]
        )


def vote_counts_csv(*, project: Project) -> Iterator[str]:
    """One row per subject: count per answer (question:answer columns) and N per question; how
    and when it retired ("limit" or "model", and the model version behind a model retirement);
    for a subject the model retired, each answer's predicted final vote fraction at the limit
    (`question:answer:final_estimate`, the catalogue's estimate; empty otherwise)."""
    tree = project_tree(project=project)
    keys = tree.ordered_keys()
    header = ["subject_id", "original_name", "status", "classifications"]
    header += ["retirement_reason", "retired_by_version", "retired_at"]
    for key in keys:
        header += [f"{key}:{answer.key}" for answer in tree.questions[key].answers] + [f"{key}:N"]
        header += [f"{key}:{answer.key}:final_estimate" for answer in tree.questions[key].answers]
    yield _line(header)
    rows = (
        Subject.objects.filter(project=project)
        .order_by("pk")
        .values_list(
            "pk",
            "original_name",
            "status",
            "classification_count",
            "retirement_reason",
            "retired_by_version__number",
            "retired_at",
            "vote_counts",
            "retirement_forecast",
        )
    )
    for *described, retired_at, votes, forecast in rows.iterator(chunk_size=CHUNK):
        line = [*described, retired_at.isoformat() if retired_at else ""]
        for key in keys:
            answers = tree.questions[key].answers
            counts = answer_counts(votes, tree, key)
            estimates = ((forecast or {}).get(key) or {}).get("answers", {})
            line += counts + [sum(counts)]
            line += [estimates.get(answer.key, {}).get("mean", "") for answer in answers]
        yield _line(line)


def predictions_csv(*, version: ModelVersion) -> Iterator[str]:
    """One row per scored subject: per answer the posterior mean vote fraction and 90% interval,
    per question the mutual information; the acquisition score."""
    tree = project_tree(project=version.project)
    keys = tree.ordered_keys()
    header = ["subject_id", "model_version", "score"]
    for key in keys:
        for answer in tree.questions[key].answers:
            header += [
                f"{key}:{answer.key}:mean",
                f"{key}:{answer.key}:low90",
                f"{key}:{answer.key}:high90",
            ]
        header.append(f"{key}:mutual_information")
    yield _line(header)
    rows = (
        Prediction.objects.filter(model_version=version)
        .order_by("subject_id")
        .values_list("subject_id", "score", "per_question")
    )
    for subject_id, score, per_question in rows.iterator(chunk_size=CHUNK):
        line = [subject_id, version.number, round(score, 6)]
        for key in keys:
            question = per_question.get(key, {})
            for answer in tree.questions[key].answers:
                values = question.get("answers", {}).get(answer.key, {})
                line += [values.get("mean"), values.get("low"), values.get("high")]
            line.append(question.get("mutual_information"))
        yield _line(line)
