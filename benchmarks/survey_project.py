"""The product the survey benchmark runs: Django with production's settings (starling/settings.py)
on a throwaway SQLite file, Celery's tasks run in this process (task_always_eager; no broker, no
worker), no Redis (the queue answers from SQL, as the product does when Redis is down or absent).
A project per arm, created, filled and exported with production's own functions, and the
catalogue's estimate read from production's export.

Nothing here imports the product at module level: `ready` has to configure Django first.
"""

import csv
import os
import random
import secrets
import warnings
from pathlib import Path

import numpy as np

# The settings the benchmark's process gets from the environment (starling/settings.py reads them):
# production's, but a database and data folder of its own, Celery's tasks called in this process,
# and no Redis.
ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "starling.settings",
    "DEBUG": "false",
    "CELERY_TASK_ALWAYS_EAGER": "true",
    "CELERY_BROKER_URL": "memory://",
    "CELERY_RESULT_BACKEND": "cache+memory://",
    "REDIS_URL": "",
    "STARLING_QUEUE_REDIS_URL": "",
    "LOG_LEVEL": "WARNING",
}
# The rounds' training fields a run may change, and production's variables for them.
TRAINING_VARIABLES = {
    "epochs": "STARLING_TRAIN_EPOCHS",
    "members": "STARLING_MEMBERS",
    "fresh_restarts": "STARLING_FRESH_RESTARTS",
}


def ready(folder: Path, training: dict) -> None:
    """Django set up on a fresh SQLite file in `folder` (media and model versions there too),
    migrated. Once per process: Django's settings cannot change after setup. `training`: fields of
    the rounds' TrainingSettings to change ({"epochs": 10}), through production's own variables
    (settings.TRAINING_VARIABLES); None values leave production's."""
    import django
    from django.apps import apps

    if apps.ready:
        from django.conf import settings

        if Path(settings.DATA_DIR) != folder:
            raise RuntimeError(
                f"Django is already set up on {settings.DATA_DIR}: the survey benchmark needs a "
                f"process of its own (expected {folder})"
            )
        return
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.update(ENVIRONMENT)
    os.environ["STARLING_DATA_DIR"] = str(folder)
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'survey.sqlite3'}"
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(32)
    for name, value in training.items():
        variable = TRAINING_VARIABLES[name]
        os.environ.pop(variable, None)
        if value is not None:
            os.environ[variable] = str(value)
    django.setup()
    from celery.exceptions import AlwaysEagerIgnored

    # beat's retrain request goes through send_task (to a broker nobody reads here); the
    # benchmark runs the task itself, as a worker would (survey_arms.beat_tick).
    warnings.filterwarnings("ignore", category=AlwaysEagerIgnored)
    from django.core.management import call_command

    import starling.celery  # noqa: F401  (the app the tasks run under, with its eager setting)

    call_command("migrate", verbosity=0)


def tree_dicts(questions) -> list[dict]:
    """The project's question tree in the dict form project_create takes: the galaxy tree, or a
    dataset's independent yes/no questions."""
    from mlworker.questions import GALAXY_QUESTIONS

    if [q["key"] for q in GALAXY_QUESTIONS] == [q.key for q in questions]:
        return GALAXY_QUESTIONS
    return [
        {
            "key": q.key,
            "text": f"Question {q.key}?",
            "answers": [
                {"key": answer, "text": answer.title(), "shortcut": answer[0], "next": None}
                for answer in q.answers
            ],
        }
        for q in questions
    ]


def project_with_subjects(slug: str, fields: dict, questions, pngs: list[bytes], seed: int):
    """A project (Project's defaults but `fields`) with production's import of every image (its
    pool index in the metadata); returns (project, {subject id: pool index}). `seed` makes the
    import's random first priorities the same for every arm."""
    from labelling.catalogue.imports import subject_import_image
    from labelling.core import projects, tree

    project = projects.project_create(
        slug=slug, title=slug, questions=tree.nodes_from_dicts(tree_dicts(questions)), **fields
    )
    random.seed(seed)
    index = {}
    for i, data in enumerate(pngs):
        subject = subject_import_image(
            project=project, name=f"{i}.png", data=data, metadata={"index": i}
        )
        index[subject.pk] = i
    return project, index


def project_remove(project) -> None:
    """The arm's project and its versions' files gone (the images stay for the seed's next arm)."""
    import shutil

    from django.conf import settings

    from labelling.core import projects

    projects.project_delete(slug=project.slug)
    shutil.rmtree(Path(settings.MODEL_ROOT) / project.slug, ignore_errors=True)


def catalogue_rows(project) -> list[dict]:
    """Production's catalogue export (`catalogue_csv`, what the owner downloads), as rows."""
    from labelling.catalogue import exports

    return list(csv.DictReader(exports.catalogue_csv(project=project)))


def best_estimate(row: dict, answer: str) -> float:
    """The catalogue's best estimate of `answer`'s probability in an export row (the
    `<answer>:estimate` column: the model's posterior and the weighted votes together, or the
    image-free baseline and the votes where no good model has scored the subject)."""
    return float(row[f"{answer}:estimate"])


def catalogue_estimates(rows: list[dict], index: dict, questions) -> np.ndarray:
    """[items, questions]: each question's first-answer estimate for every pool item, from the
    export's rows (`best_estimate`)."""
    column = {q.key: i for i, q in enumerate(questions)}
    first = {q.key: q.answers[0] for q in questions}
    estimates = np.full((len(index), len(questions)), np.nan)
    for row in rows:
        item = index[int(row["subject_id"])]
        estimates[item, column[row["question"]]] = best_estimate(row, first[row["question"]])
    if np.isnan(estimates).any():
        raise ValueError(f"The export left {int(np.isnan(estimates).sum())} estimates out")
    return estimates


def rows_with_model(rows: list[dict], index: dict, questions, samples: dict) -> list[dict]:
    """The export's rows as the owner would have them with a model of their own: the catalogue's
    best estimate (production's `best_estimate`) from that model's samples ({pool item: {question:
    [T, answers]}}) and each subject's weighted votes in the export (classic, then a model)."""
    from labelling.catalogue.estimate import best_estimate as estimate_from

    by_subject: dict[int, list[dict]] = {}
    for row in rows:
        by_subject.setdefault(int(row["subject_id"]), []).append(row)
    filled = []
    for subject_id, subject_rows in by_subject.items():
        item = index[subject_id]
        if item not in samples:
            filled += subject_rows
            continue
        answers = {q.key: q.answers for q in questions}
        counts = {
            row["question"]: np.array(
                [float(row[f"{a}:weighted_votes"]) for a in answers[row["question"]]]
            )
            for row in subject_rows
        }
        estimates = estimate_from(counts, questions, samples=samples[item])
        for row in subject_rows:
            estimate = estimates[row["question"]]
            row = dict(row)
            for a, answer in enumerate(answers[row["question"]]):
                row[f"{answer}:estimate"] = float(estimate.mean[a])
                row[f"{answer}:estimate_low90"] = float(estimate.low[a])
                row[f"{answer}:estimate_high90"] = float(estimate.high[a])
            filled.append(row)
    return filled


def write_rows(rows: list[dict], path: Path) -> None:
    """An export kept as the CSV the owner downloads (for the test that re-scores it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
