"""The survey's arms, each a project run start to finish through production's own functions.

A simulated volunteer asks for a next subject (`labelling.queue.choice.subjects_next_for_volunteer`,
as the next endpoint does: a random run of the pool before a round has ranked it, then one of the
top few by priority) and classifies it (`labelling.volunteer.submission.classification_submit`,
fixed-count retirement in the vote's own transaction). Every `votes_per_tick` votes is a beat tick:
production's two scheduled tasks, called as beat calls them — `check_retraining_schedules` (the
cadence and the minimum before a first model, from the project's fields) and `check_retirements`
(model-aware retirement) — and a retrain the tick queued is run at once as a worker runs it
(`retrain.apply` with the claim's token: reliability_update, the fit, score_pool in chunks,
select_round, the round's write and its retirement re-check; Celery's eager mode runs the chord
and the re-check in this process). Volunteers wait for the round: it takes no votes' time.

At each checkpoint the catalogue is production's export (survey_project.catalogue_rows), scored
against the true p. "classic, then a model" is classic's own run: at its checkpoints a model is
fitted with production's round functions on classic's votes so far and fills the model column of
classic's export.
"""

import contextlib
import time
from dataclasses import dataclass, field
from unittest import mock

import numpy as np

from benchmarks import common, survey_crowd, survey_project

# Each arm: Project fields it changes from Project's defaults, and whether volunteers are weighed.
# "classic" has no model at all (no retrain is ever due): random order, 15 votes each, no weights.
ARMS = {
    "classic": {
        "fields": {
            "retirement_rule": "fixed_count",
            "retirement_limit": 15,
            "retrain_after_new_votes": 0,
            "retrain_after_minutes": 0,
        },  # fmt: skip
        "weighting": True,  # nobody is weighed without a round; Project's default stands
        "loop": False,
    },
    "default": {"fields": {}, "weighting": True, "loop": True},
    "no_picks": {"fields": {"acquisition_strategy": "random"}, "weighting": True, "loop": True},
    "no_model_retirement": {
        "fields": {"retirement_rule": "fixed_count"},
        "weighting": True,
        "loop": True,
    },  # fmt: skip
    "no_weighting": {"fields": {}, "weighting": False, "loop": True},
    # Model-aware retirement is off in Project's defaults: this arm turns it on, so that its share
    # is measured too (lever_share's model_retirement compares it with no_model_retirement).
    "model_retirement": {
        "fields": {"retirement_rule": "model_aware"},
        "weighting": True,
        "loop": True,
    },  # fmt: skip
}
# Issue 39's point 4, the candidates to close the gap (not run unless --arms names them): each a
# product switch, with Project's default unchanged. "cadence" scales the run's cadence of rounds.
SCREEN = {
    # Galaxy Zoo Enhanced's split: half the requests random checks spread over the pool, the rest
    # the ranked queue (the round's picks first, to the full count).
    "random_checks": {"random_request_share": 0.5},
    # The first model as soon as the minimum of labelled subjects is reached (not the cadence).
    "first_at_minimum": {"retrain_first_at_minimum": True},
    "first_at_minimum_100": {
        "retrain_first_at_minimum": True,
        "retrain_minimum_labelled_subjects": 100,
    },  # fmt: skip
    "cadence_x2": {},  # a round every half as many votes: twice the rounds
    "combined": {
        "retirement_rule": "model_aware",
        "random_request_share": 0.5,
        "retrain_first_at_minimum": True,
        "retrain_minimum_labelled_subjects": 100,
    },  # fmt: skip
}
ARMS |= {
    name: {"fields": fields, "weighting": True, "loop": True} for name, fields in SCREEN.items()
}
ARMS["cadence_x2"]["cadence"] = 0.5
# Each lever: (the arm with it on, the arm with it off).
LEVERS = {
    "picks": ("default", "no_picks"),
    "model_retirement": ("model_retirement", "no_model_retirement"),
    "weighting": ("default", "no_weighting"),
}
CLASSIC_THEN_MODEL = "classic_then_model"


@dataclass
class Seed:
    """What every arm of one seed shares."""

    seed: int
    arguments: object
    questions: tuple
    p: np.ndarray  # [items, questions] true first-answer probabilities
    reach: np.ndarray  # [items, questions] true reach shares
    pngs: list  # the images as the owner imports them
    channels: int  # 1 (greyscale) or 3 (RGB)
    crowd: dict
    volunteers: list = field(default_factory=list)  # Volunteer rows, one per session

    @property
    def budget(self) -> int:
        return 15 * len(self.p)


def project_fields(arm: str, arguments, image_size: int, channels: int) -> dict:
    """The arm's Project fields: the image side and channels of the data, the run's cadence of
    rounds for the looping arms (arguments.retrain_after_new_votes), and the arm's changes."""
    fields = {"image_size": image_size, "image_channels": channels}
    if ARMS[arm]["loop"] and arguments.retrain_after_new_votes:
        cadence = ARMS[arm].get("cadence", 1.0) * arguments.retrain_after_new_votes
        fields["retrain_after_new_votes"] = int(round(cadence))
    return fields | ARMS[arm]["fields"]


def same_as(arm: str, arms: list[str], arguments) -> str | None:
    """An earlier arm of `arms` that is the same project as `arm` (the same fields once Project's
    defaults are filled in, the same weighting): it is not run again."""
    from labelling.models import Project

    def resolved(name):
        fields = project_fields(name, arguments, 0, 0)
        defaults = {f.name: f.default for f in Project._meta.fields if f.name in fields}
        changed = {k: v for k, v in fields.items() if v != defaults[k]}
        return changed, ARMS[name]["weighting"], ARMS[name]["loop"], ARMS[name].get("cadence")

    earlier = [name for name in arms[: arms.index(arm)] if name in ARMS]
    return next((name for name in earlier if resolved(name) == resolved(arm)), None)


def unit_weights(votes, **_):
    """The weighting lever off: every volunteer weight 1, nobody flagged (the product has no
    switch for it: this stands in for mlworker.reliability.estimate in that arm alone)."""
    from mlworker import reliability

    count = votes.volunteers
    return reliability.Reliability(
        weight=np.ones(count),
        posterior=np.tile([1.0, 0.0, 0.0], (count, 1)),
        votes=np.bincount(votes.volunteer, minlength=count),
        agreement=np.full((count, len(votes.answers_per_question)), np.nan),
        group_weight=np.ones(count),
    )


def beat_tick(project, seconds: dict) -> bool:
    """Beat's two tasks for the project, and a retrain it queued run at once as a worker would
    (its duration added to seconds["rounds"]); returns whether a round has ranked the queue."""
    from labelling.core import selectors
    from labelling.loop import tasks
    from labelling.models import ModelVersion, ModelVersionStatus, Project
    from labelling.retirement import tasks as retirement_tasks

    if project.pk in tasks.check_retraining_schedules():
        token = Project.objects.values_list("retrain_token", flat=True).get(pk=project.pk)
        started = time.time()
        tasks.retrain.apply(args=[project.pk], task_id=token)
        seconds["rounds"] += time.time() - started
        version = ModelVersion.objects.filter(project=project).order_by("-number").first()
        if version is None or version.status == ModelVersionStatus.FAILED:
            raise RuntimeError(f"{project.slug}: the retrain failed: {version and version.error}")
    retirement_tasks.check_retirements(project_id=project.pk)
    return selectors.project_has_round(project_id=project.pk)


def run_arm(arm: str, shared: Seed, checkpoints: list[int], extra=None) -> dict:
    """One arm of a seed: a project run until classic's budget is spent or every subject is
    retired; the catalogue's RMSE at each checkpoint (votes spent). `extra(project, index, votes,
    rows)`: called at each checkpoint with the export (classic, then a model)."""
    import random

    from labelling.core.selectors import project_tree
    from labelling.models import Subject, SubjectStatus
    from labelling.queue import choice
    from labelling.volunteer import submission

    started, arguments = time.time(), shared.arguments
    project, index = survey_project.project_with_subjects(
        f"s{shared.seed}-{arm}".replace("_", "-"),
        project_fields(arm, arguments, arguments.image_size, shared.channels),
        shared.questions,
        shared.pngs,
        shared.seed,
    )
    tree, rng = project_tree(project=project), random.Random(shared.seed)
    arrivals = survey_crowd.arrivals(shared.crowd, shared.seed)
    votes, misses, model_ranked, curve, pending = 0, 0, False, [], sorted(set(checkpoints))
    weighting = (
        contextlib.nullcontext()
        if ARMS[arm]["weighting"]
        else mock.patch("mlworker.reliability.estimate", unit_weights)
    )

    seconds = {"rounds": 0.0, "checkpoints": 0.0}

    def checkpoint():
        begun = time.time()
        rows = survey_project.catalogue_rows(project)
        estimates = survey_project.catalogue_estimates(rows, index, shared.questions)
        curve.append((votes, common.catalogue_rmse(estimates, shared.p, shared.reach)))
        seconds["checkpoints"] += time.time() - begun
        if extra is not None:
            extra(project, index, votes, rows)
        return rows

    with weighting:
        while True:
            if pending and votes >= pending[0]:
                rows = checkpoint()
                pending = [point for point in pending if point > votes]
                continue
            if votes >= shared.budget:
                break
            session = next(arrivals)
            volunteer = shared.volunteers[session]
            found = choice.subjects_next_for_volunteer(
                project=project, volunteer_id=volunteer.pk, rng=rng, model_ranked=model_ranked
            )
            if not found:
                misses += 1
                active = Subject.objects.filter(project=project, status=SubjectStatus.ACTIVE)
                if not active.exists() or misses > 20 * len(shared.volunteers):
                    break  # every subject retired (or no session left that has not seen them)
                continue
            misses, subject_id = 0, found[0]["id"]
            submission.classification_submit(
                project=project,
                volunteer=volunteer,
                subject_id=subject_id,
                annotations=survey_crowd.annotations(
                    shared.crowd, shared.p, index[subject_id], session, shared.questions
                ),
                idempotency_key=f"{subject_id}-{volunteer.pk}",
                tree=tree,
            )
            votes += 1
            if ARMS[arm]["loop"] and votes % arguments.votes_per_tick == 0:
                model_ranked = beat_tick(project, seconds)
        if not curve or curve[-1][0] != votes:
            rows = checkpoint()
    result = {
        "votes": [v for v, _ in curve],
        "rmse": [round(r, 6) for _, r in curve],
        "votes_spent": votes,
        "final_rmse": round(curve[-1][1], 6),
        **arm_record(project),
        "seconds": round(time.time() - started, 1),
        "round_seconds": round(seconds["rounds"], 1),
        "checkpoint_seconds": round(seconds["checkpoints"], 1),
    }
    if arguments.keep_catalogues:
        survey_project.write_rows(rows, catalogue_path(arguments, shared.seed, arm))
    survey_project.project_remove(project)
    return result


def catalogue_path(arguments, seed: int, arm: str):
    return arguments.keep_catalogues / f"{arguments.dataset_name}-seed{seed}-{arm}.csv"


def arm_record(project) -> dict:
    """What the product did in the arm: its versions and rounds, subjects retired by the model,
    volunteers flagged at the last round, and the share of votes cast on a round's picks."""
    from labelling.models import (
        Classification,
        ModelVersion,
        RetirementReason,
        Subject,
        VolunteerReliability,
    )

    versions = ModelVersion.objects.filter(project=project)
    classifications = Classification.objects.filter(project=project)
    return {
        "versions": versions.count(),
        "versions_worse_than_baseline": versions.filter(worse_than_baseline=True).count(),
        "first_version_votes": min(
            versions.values_list("classifications_at_start", flat=True), default=None
        ),  # fmt: skip
        "retired_by_model": Subject.objects.filter(
            project=project, retirement_reason=RetirementReason.MODEL
        ).count(),
        "flagged": VolunteerReliability.objects.filter(project=project, flagged=True).count(),
        "votes_on_picks": classifications.filter(requested_by_model=True).count(),
    }


def classic_then_model(shared: Seed, points: list[int], found: dict):
    """The `extra` of classic's run (run_arm) that adds "classic, then a model": at each of
    `points` (votes spent), production's round fit (`pipeline.fit_and_evaluate` with the project's
    model config and training settings, as `retrain` calls it) on every subject with votes so far,
    counted as classic counts them (unweighted), scored on every subject; the catalogue's best
    estimate is then production's function of its samples and each subject's votes in classic's
    export (`rows_with_model`): the model where a subject has no votes, the votes where it has
    many. A model worse than the image-free baseline on its held-out split is not used (as
    production does not use one): the export's estimate stands. Fills `found` {votes: point}."""

    def extra(project, index, votes, rows):
        if votes not in points:
            return
        started = time.time()
        samples, fit = model_samples(project, index, shared.questions, seed=votes)
        filled = survey_project.rows_with_model(rows, index, shared.questions, samples)
        estimates = survey_project.catalogue_estimates(filled, index, shared.questions)
        found[votes] = {
            "rmse": round(common.catalogue_rmse(estimates, shared.p, shared.reach), 6),
            "labelled": int(
                fit.metrics["_split"]["training"]
                + fit.metrics["_split"]["validation"]
                + fit.metrics["_split"]["held_out"]
            ),  # fmt: skip
            "worse_than_baseline": bool(fit.worse_than_baseline),
            "seconds": round(time.time() - started, 1),
        }
        if shared.arguments.keep_catalogues and votes == max(points):
            survey_project.write_rows(
                filled, catalogue_path(shared.arguments, shared.seed, CLASSIC_THEN_MODEL)
            )

    return extra


def model_samples(project, index: dict, questions, seed: int) -> tuple[dict, object]:
    """({pool item: {question: [T, answers]}} MC samples of every subject, the fit) of a model
    fitted on the project's votes so far (no samples when it is worse than the image-free
    baseline on its held-out split: production would not use it either)."""
    from labelling.loop import model_selectors, tasks
    from mlworker import data, pipeline

    training = model_selectors.training_set_for_project(project=project)
    images = data.load_image_files(training.image_paths, project.image_size, project.image_channels)
    fit = pipeline.fit_and_evaluate(
        images,
        training.counts,
        training.subject_ids,
        tasks.model_config_for(project),
        settings=tasks.training_settings(),
        samples=project.mc_samples,
        seed=seed,
        rotation_invariant=project.rotation_invariant,
    )
    if fit.worse_than_baseline:
        return {}, fit
    paths = model_selectors.subject_image_paths(subject_ids=list(index))
    ids = sorted(paths)
    pool = data.load_image_files(
        [paths[pk] for pk in ids], project.image_size, project.image_channels
    )
    scored = pipeline.score(
        fit.model, pool, volunteers=project.retirement_limit, samples=project.mc_samples
    )
    return {
        index[pk]: {q.key: scored.samples[q.key][row].T for q in questions}
        for row, pk in enumerate(ids)
    }, fit
