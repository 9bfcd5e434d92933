"""Streamed CSV exports: raw classifications, vote counts per subject, a model version's
predictions, and the catalogue of every subject (votes, the latest good model's posterior, and the
best estimate from both).

Each function yields CSV lines, reading the database in chunks (`.iterator(chunk_size=...)`), so a
million subjects stream in constant memory to a file or an HTTP response.
"""

import csv
import io
import json
from collections.abc import Iterator

from labelling.catalogue.catalogue_estimates import SubjectEstimates
from labelling.core.selectors import project_tree, subjects_exported
from labelling.core.votes import answer_counts
from labelling.crowd import crowd_selectors
from labelling.models import Classification, ModelVersion, Prediction, Project

CHUNK = 2000


def _line(values: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def classifications_csv(*, project: Project, include_withdrawn: bool = False) -> Iterator[str]:
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
            "tree_version",
            "answers",
            "original_name",
            "metadata",
        ]
    )
    rows = (
        Classification.objects.filter(
            subject__in=subjects_exported(project=project, include_withdrawn=include_withdrawn)
        )
        .order_by("pk")
        .values_list(
            "pk",
            "subject_id",
            "volunteer_id",
            "created_at",
            "after_retirement",
            "requested_by_model",
            "tree_version",
            "annotations",
            "subject__original_name",
            "subject__metadata",
        )
    )
    for (
        pk,
        subject_id,
        volunteer_id,
        created_at,
        late,
        requested,
        made_under,
        annotations,
        name,
        metadata,
    ) in rows.iterator(chunk_size=CHUNK):
        yield _line(
            [
                pk,
                subject_id,
                volunteer_id,
                created_at.isoformat(),
                int(late),
                int(requested),
                made_under,
                json.dumps(annotations, sort_keys=True),
                name,
                json.dumps(metadata, sort_keys=True),
            ]
        )


def vote_counts_csv(*, project: Project, include_withdrawn: bool = False) -> Iterator[str]:
    """One row per subject: count per answer (question:answer columns) and N per question, beside
    them the same with each vote weighted by its volunteer's reliability (":weighted"); how
    and when it retired ("limit" or "model", and the model version behind a model retirement);
    for a subject the model retired, each answer's predicted final vote fraction at the limit
    (`question:answer:final_estimate`, the retirement rule's forecast; empty otherwise; the
    catalogue's best estimate of the answer probabilities is catalogue_csv's)."""
    tree = project_tree(project=project)
    keys = tree.ordered_keys()
    header = ["subject_id", "original_name", "metadata", "status", "classifications"]
    header += ["retirement_reason", "retired_by_version", "retired_at"]
    for key in keys:
        answers = tree.questions[key].answers
        header += [f"{key}:{answer.key}" for answer in answers] + [f"{key}:N"]
        header += [f"{key}:{answer.key}:weighted" for answer in answers] + [f"{key}:N:weighted"]
        header += [f"{key}:{answer.key}:final_estimate" for answer in answers]
    yield _line(header)
    weights = crowd_selectors.vote_weights(project=project)
    rows = (
        subjects_exported(project=project, include_withdrawn=include_withdrawn)
        .order_by("pk")
        .values_list(
            "pk",
            "original_name",
            "metadata",
            "status",
            "classification_count",
            "retirement_reason",
            "retired_by_version__number",
            "retired_at",
            "vote_counts",
            "retirement_forecast",
        )
    )
    last = 0
    while True:
        chunk = list(rows.filter(pk__gt=last)[:CHUNK])
        if not chunk:
            return
        last = chunk[-1][0]
        weighted = crowd_selectors.weighted_vote_counts(
            project=project, subject_ids=[row[0] for row in chunk], weights=weights
        )
        for pk, name, metadata, *described, retired_at, votes, forecast in chunk:
            line = [pk, name, json.dumps(metadata, sort_keys=True), *described]
            line.append(retired_at.isoformat() if retired_at else "")
            for key in keys:
                answers = tree.questions[key].answers
                counts = answer_counts(votes, tree, key)
                weighted_counts = [round(w, 4) for w in answer_counts(weighted[pk], tree, key)]
                estimates = ((forecast or {}).get(key) or {}).get("answers", {})
                line += counts + [sum(counts)] + weighted_counts + [round(sum(weighted_counts), 4)]
                line += [estimates.get(answer.key, {}).get("mean", "") for answer in answers]
            yield _line(line)


def predictions_csv(*, version: ModelVersion, include_withdrawn: bool = False) -> Iterator[str]:
    """One row per scored subject (its file name and metadata): per answer the posterior mean vote
    fraction and 90% interval, per question the mutual information; the acquisition score."""
    tree = project_tree(project=version.project)
    keys = tree.ordered_keys()
    header = ["subject_id", "original_name", "metadata", "model_version", "score"]
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
        Prediction.objects.filter(
            model_version=version,
            subject__in=subjects_exported(
                project=version.project, include_withdrawn=include_withdrawn
            ),
        )
        .order_by("subject_id")
        .values_list(
            "subject_id", "subject__original_name", "subject__metadata", "score", "per_question"
        )
    )
    for subject_id, name, metadata, score, per_question in rows.iterator(chunk_size=CHUNK):
        line = [subject_id, name, json.dumps(metadata, sort_keys=True), version.number]
        line.append(round(score, 6))
        for key in keys:
            question = per_question.get(key, {})
            for answer in tree.questions[key].answers:
                values = question.get("answers", {}).get(answer.key, {})
                line += [values.get("mean"), values.get("low"), values.get("high")]
            line.append(question.get("mutual_information"))
        yield _line(line)


def predictions_missing_reason(*, version: ModelVersion) -> str | None:
    """Why a ready version has no predictions to export, or None when it has some."""
    if Prediction.objects.filter(model_version=version).exists():
        return None
    if version.worse_than_baseline:
        return (
            f"Model version {version.number} has no predictions: it scored worse than the "
            "image-free baseline on its held-out subjects, so it scored no subject (the catalogue "
            "keeps the latest good version's estimates)"
        )
    if version.error:
        return f"Model version {version.number} has no predictions: {version.error}"
    return (
        f"Model version {version.number} has no predictions yet: its scoring of the pool has not "
        "finished (see the dashboard's jobs)"
    )


# Raw votes and, beside them, each vote counted with its volunteer's weight (labelling/crowd):
# votes from volunteers judged unreliable or excluded count for little or nothing there. Then the
# model's own posterior mean vote fraction (mean, low90, high90), and the best estimate of the
# answer's probability from the model and the weighted votes together (catalogue_estimates.py).
CATALOGUE_VALUES = (
    "votes", "fraction", "weighted_votes", "weighted_fraction", "mean", "low90", "high90",
    "estimate", "estimate_low90", "estimate_high90",
)  # fmt: skip


def catalogue_csv(*, project: Project, include_withdrawn: bool = False) -> Iterator[str]:
    """One row per subject and question, every subject (retired ones too): who it is (id, file
    name, metadata as JSON), how it retired, the question's N and per answer the votes, their
    fraction, the same weighted by each volunteer's reliability (N_weighted, weighted_votes,
    weighted_fraction), the posterior mean vote fraction with its 90% interval from the latest good
    model version that scored the subject (`model_version`; empty when none has), and the best
    estimate of the answer's probability with its 90% credible interval (estimate,
    estimate_low90, estimate_high90: labelling/catalogue/estimate.py)."""
    tree = project_tree(project=project)
    keys = tree.ordered_keys()
    answer_keys = list(dict.fromkeys(a.key for key in keys for a in tree.questions[key].answers))
    header = ["subject_id", "original_name", "metadata", "status", "retirement_reason"]
    header += ["retired_at", "question", "N", "N_weighted"]
    header += [f"{answer}:{value}" for answer in answer_keys for value in CATALOGUE_VALUES]
    header += ["model_version", "mutual_information"]
    yield _line(header)
    estimator = SubjectEstimates(project=project, tree=tree)
    subjects = subjects_exported(project=project, include_withdrawn=include_withdrawn).order_by(
        "pk"
    )
    fields = ["pk", "original_name", "metadata", "status", "retirement_reason", "retired_at"]
    last = 0
    while True:
        chunk = list(subjects.filter(pk__gt=last).values_list(*fields, "vote_counts")[:CHUNK])
        if not chunk:
            return
        last = chunk[-1][0]
        weighted = estimator.weighted_counts([row[0] for row in chunk])
        estimated = estimator.chunk(weighted)
        for pk, name, metadata, status, reason, retired_at, votes in chunk:
            latest, estimates = estimated[pk]
            described = [pk, name, json.dumps(metadata, sort_keys=True), status, reason]
            described.append(retired_at.isoformat() if retired_at else "")
            per_question = latest.per_question if latest else {}
            for key in keys:
                total, weighted_total, cells, information = _catalogue_cells(
                    tree, key, votes, weighted[pk], per_question, estimates[key]
                )
                blank = [""] * len(CATALOGUE_VALUES)
                answers = [value for answer in answer_keys for value in cells.get(answer, blank)]
                number = latest.number if latest else ""
                yield _line([*described, key, total, weighted_total, *answers, number, information])


def _catalogue_cells(tree, key: str, votes, weighted, per_question: dict, estimate) -> tuple:
    """(N, weighted N, {answer: CATALOGUE_VALUES}, mutual information) of a question."""
    counts = answer_counts(votes, tree, key)
    weighted_counts = answer_counts(weighted, tree, key)
    total, weighted_total = sum(counts), round(sum(weighted_counts), 4)
    question = per_question.get(key, {})
    cells = {}
    for index, (answer, count, weight) in enumerate(
        zip(tree.questions[key].answers, counts, weighted_counts, strict=True)
    ):
        model = question.get("answers", {}).get(answer.key, {})
        cells[answer.key] = [
            count,
            round(count / total, 6) if total else "",
            round(weight, 4),
            round(weight / weighted_total, 6) if weighted_total else "",
            model.get("mean", ""),
            model.get("low", ""),
            model.get("high", ""),
            *(round(float(end[index]), 6) for end in estimate),
        ]
    return total, weighted_total, cells, question.get("mutual_information", "")
