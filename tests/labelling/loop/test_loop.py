"""The active-learning loop end to end: real PostgreSQL, real Redis, a real celery worker process."""

import csv
import time
from pathlib import Path

import numpy as np
import pytest
from django.test import Client
from django.utils import timezone

from labelling.catalogue import exports, imports
from labelling.core import projects, tree
from labelling.loop import claims
from labelling.models import (
    AcquisitionRound,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    Project,
    RetrainState,
    SubjectStatus,
)
from labelling.volunteer import accounts, submission
from mlworker import synthetic
from tests.conftest import submit_votes

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def demo_project(
    slug: str, subjects: int = 200, votes_per_subject_share: float = 0.5, size: int = 24
) -> Project:
    """A synthetic-galaxy project; about half the subjects get 5 simulated votes each."""
    project = projects.project_create(
        slug=slug,
        title=slug,
        questions=tree.nodes_from_dicts(synthetic.GALAXY_QUESTIONS),
        image_size=size,
        retirement_limit=15,
        acquisition_batch_size=20,
        exploration_share=0.2,
    )
    galaxies = synthetic.make_galaxies(subjects, size=size, seed=len(slug))
    rng = np.random.default_rng(0)
    volunteers = [
        accounts.volunteer_get_or_create(session_key=f"{slug}-volunteer-{i}") for i in range(5)
    ]
    for index in range(subjects):
        subject = imports.subject_import_image(
            project=project,
            name=f"{index}.png",
            data=synthetic.image_to_png_bytes(galaxies.images[index]),
            metadata={
                "truth": dict(zip(synthetic.QUESTION_KEYS, galaxies.p[index].tolist(), strict=True))
            },
        )
        if index < subjects * votes_per_subject_share:
            for number, volunteer in enumerate(volunteers):
                submission.classification_submit(
                    project=project,
                    volunteer=volunteer,
                    subject_id=subject.pk,
                    annotations=synthetic.simulate_annotations(galaxies.p[index], rng),
                    idempotency_key=f"{index}-{number}",
                )
    return project


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_for_version(project, status: str, timeout: float, what: str) -> ModelVersion:
    return wait_for(
        lambda: ModelVersion.objects.filter(project=project, status=status).first(), timeout, what
    )


def round_recorded(project):
    return AcquisitionRound.objects.filter(project=project).first()


def test_triggered_retrain_trains_scores_every_subject_and_reorders_the_queue(
    celery_worker, worker_settings
):
    project = demo_project("loop-end-to-end")
    # Ten subjects retired before the round: scored for the catalogue, never picked.
    retired = list(project.subjects.order_by("pk").values_list("pk", flat=True)[:10])
    project.subjects.filter(pk__in=retired).update(
        status=SubjectStatus.RETIRED, retirement_reason="limit", retired_at=timezone.now()
    )
    assert claims.retrain_request(project=project)
    acquisition_round = wait_for(lambda: round_recorded(project), 180, "the acquisition round")
    # select_round records its timings just after the round
    wait_for(
        lambda: "select_seconds" in ModelVersion.objects.get(project=project).timings,
        30,
        "the round's timings",
    )

    version = ModelVersion.objects.get(project=project)
    assert version.status == ModelVersionStatus.READY, version.error
    assert version.training_set_size == 100
    assert version.metrics["_split"]["held_out"] == 0 and not version.worse_than_baseline
    assert version.metrics["_split"]["training"] + version.metrics["_split"]["validation"] == 100
    assert {"train_seconds", "score_seconds", "select_seconds"} <= set(version.timings)
    # Production's default: two networks, both saved, their samples pooled; no "up" in galaxies.
    assert version.config["members"] == 2 and version.config["test_time_symmetries"] == 8
    assert (Path(version.artefact_path) / "member-1.weights.h5").is_file()
    assert set(
        Prediction.objects.filter(model_version=version).values_list("subject_id", flat=True)
    ) == set(project.subjects.values_list("pk", flat=True))
    picks = list(acquisition_round.picks.order_by("rank"))
    assert len(picks) == 20 and sum(pick.is_exploration for pick in picks) == 4
    assert not {pick.subject_id for pick in picks} & set(retired)
    # Every catalogue row, the retired subjects' too, carries this version's posterior.
    rows = list(csv.DictReader(exports.catalogue_csv(project=project)))
    assert len(rows) == 200 * len(synthetic.GALAXY_QUESTIONS)
    assert {row["model_version"] for row in rows} == {str(version.number)}
    assert {int(row["subject_id"]) for row in rows if row["status"] == "retired"} == set(retired)
    project.refresh_from_db()
    assert project.retrain_state == RetrainState.IDLE

    # A brand-new volunteer is served one of the round's top picks first (random among the top 5).
    response = Client().get(f"/api/projects/{project.slug}/next")
    assert response.status_code == 200
    assert response.json()["subject"]["id"] in [pick.subject_id for pick in picks[:5]]


def brute_force_joint_mi(samples: dict, volunteers: int) -> float:
    """MI between the galaxy tree's whole vote outcome and the mask, by scipy.stats.binom sums.

    samples: {question: [answers, T]} of one subject (featured is answer 1 of the root).
    """
    from scipy import stats
    from scipy.special import entr

    root, edge_on, bar = (samples[k] for k in ("smooth-or-featured", "edge-on", "bar"))
    columns = []  # one outcome a column, every mask a row
    for featured in range(volunteers + 1):
        for yes in range(featured + 1):
            for barred in range(featured - yes + 1):
                columns.append(
                    stats.binom.pmf(featured, volunteers, root[1])
                    * stats.binom.pmf(yes, featured, edge_on[0])
                    * stats.binom.pmf(barred, featured - yes, bar[0])
                )
    per_mask = np.stack(columns, axis=1)  # [T, outcomes]
    return entr(per_mask.mean(0)).sum() - entr(per_mask).sum(1).mean()


def test_stored_scores_are_the_joint_mi_of_the_trees_vote_outcome(celery_worker, worker_settings):
    """Recomputed from the stored MC samples by brute force, independently of mlworker."""
    project = demo_project("loop-scores", subjects=60)
    assert claims.retrain_request(project=project)
    wait_for(lambda: round_recorded(project), 180, "the acquisition round")
    predictions = list(Prediction.objects.filter(model_version__project=project).order_by("-score"))
    assert len(predictions) == 60
    for prediction in predictions[:2] + predictions[-2:]:
        samples = {key: np.array(value).T for key, value in prediction.samples.items()}
        expected = brute_force_joint_mi(samples, project.retirement_limit)
        assert prediction.score == pytest.approx(expected, rel=2e-3, abs=1e-4)


def test_a_version_worse_than_the_baseline_does_not_reorder_the_queue(
    only_own_workers, start_worker, worker_settings
):
    """Bright galaxies are 'featured' in the training and validation subjects and 'smooth' in the
    held-out ones: the CNN learns a rule the held-out votes contradict, the image-free baseline
    does not, so the version is judged worse and must leave the queue alone."""
    from mlworker.pipeline import split_roles

    project = projects.project_create(
        slug="loop-gate",
        title="gate",
        questions=tree.nodes_from_dicts(synthetic.GALAXY_QUESTIONS),
        image_size=16,
        acquisition_batch_size=10,
    )
    rng = np.random.default_rng(0)
    subjects = []
    for index in range(160):
        brightness = 0.8 if index % 2 else 0.2
        image = np.clip(brightness + rng.normal(0, 0.02, (16, 16)), 0, 1)
        subjects.append(
            imports.subject_import_image(
                project=project, name=f"{index}.png", data=synthetic.image_to_png_bytes(image)
            )
        )
    roles = split_roles([s.pk for s in subjects], validation_share=0.15, held_out_share=0.3)
    volunteers = [
        accounts.volunteer_get_or_create(session_key=f"gate-volunteer-{i}") for i in range(4)
    ]
    featured = {"smooth-or-featured": "featured", "edge-on": "no", "bar": "bar"}
    for index, (subject, role) in enumerate(zip(subjects[:120], roles, strict=False)):
        bright = index % 2 == 1
        answers = featured if bright != (role == "held_out") else {"smooth-or-featured": "smooth"}
        submit_votes(project, subject, volunteers, answers, key_prefix=f"gate-{index}")
    priorities_before = dict(project.subjects.values_list("pk", "priority"))
    start_worker(STARLING_HELD_OUT_SHARE="0.3", STARLING_TRAIN_EPOCHS="6")
    assert claims.retrain_request(project=project)
    wait_for(
        lambda: Project.objects.get(pk=project.pk).retrain_state == RetrainState.IDLE,
        180,
        "the run to end",
    )
    version = ModelVersion.objects.get(project=project)
    assert version.status == ModelVersionStatus.READY, version.error
    held_out = version.metrics["_held_out"]
    assert version.worse_than_baseline and held_out["nll"] > held_out["baseline_nll"]
    assert held_out["items"] > 20 and set(version.metrics["bar"]) >= {"nll", "coverage"}
    assert not AcquisitionRound.objects.filter(project=project).exists()
    assert not Prediction.objects.filter(model_version=version).exists()
    assert dict(project.subjects.values_list("pk", "priority")) == priorities_before


def one_failed_run(project):
    """The claimed run reaches the worker and fails (nobody voted): exactly one version results."""
    wait_for(
        lambda: Project.objects.get(pk=project.pk).retrain_state == RetrainState.IDLE,
        120,
        "the run to end",
    )
    assert list(ModelVersion.objects.filter(project=project).values_list("status", flat=True)) == [
        "failed"
    ]


def test_two_triggers_at_once_make_one_retrain(celery_worker, worker_settings, make_project):
    project = make_project(slug="two-triggers", subjects=3)
    results = [claims.retrain_request(project=project), claims.retrain_request(project=project)]
    assert sorted(results) == [False, True]
    project.refresh_from_db()
    assert project.retrain_state in (RetrainState.QUEUED, RetrainState.RUNNING)
    one_failed_run(project)


def test_concurrent_triggers_from_threads_claim_once(celery_worker, worker_settings, make_project):
    import threading

    from django.db import connection

    project = make_project(slug="threaded-triggers", subjects=3)
    results, barrier = [], threading.Barrier(8)

    def trigger():
        barrier.wait()
        results.append(claims.retrain_request(project=Project.objects.get(pk=project.pk)))
        connection.close()

    threads = [threading.Thread(target=trigger) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1 and results.count(False) == 7
    one_failed_run(project)


@pytest.mark.slow
def test_worker_killed_mid_training_leaves_no_ready_version_and_the_next_retrain_succeeds(
    only_own_workers, start_worker, worker_settings
):
    project = demo_project("loop-killed", subjects=120)
    doomed = start_worker(STARLING_TRAIN_EPOCHS=200)  # long enough to be killed mid-training
    assert claims.retrain_request(project=project)
    version = wait_for_version(project, ModelVersionStatus.TRAINING, 120, "training to start")
    first_heartbeat = Project.objects.get(pk=project.pk).retrain_claimed_at
    wait_for(
        lambda: Project.objects.get(pk=project.pk).retrain_claimed_at != first_heartbeat,
        120,
        "an epoch to end",
    )
    doomed.kill()

    version.refresh_from_db()
    assert version.status == ModelVersionStatus.TRAINING  # nobody marked it ready
    assert not ModelVersion.objects.filter(
        project=project, status=ModelVersionStatus.READY
    ).exists()
    assert claims.retrain_request(project=project) is False  # the lease is still fresh
    time.sleep(worker_settings.STARLING_RETRAIN_LEASE_SECONDS + 1)

    start_worker()
    assert claims.retrain_request(project=project)  # takes over the dead run's claim
    wait_for(lambda: round_recorded(project), 180, "the next round")
    version.refresh_from_db()
    assert version.status == ModelVersionStatus.FAILED and "worker lost" in version.error
    assert (
        ModelVersion.objects.filter(project=project, status=ModelVersionStatus.READY).count() == 1
    )


@pytest.mark.slow
def test_worker_killed_mid_scoring_the_round_is_abandoned_within_a_lease_and_the_next_one_runs(
    only_own_workers, start_worker, worker_settings
):
    project = demo_project("loop-killed-scoring", subjects=400, votes_per_subject_share=0.25)
    # chunks of 10 subjects: the pool takes many scoring tasks, time enough to kill one midway
    doomed = start_worker(STARLING_TRAIN_EPOCHS=2, STARLING_SCORE_CHUNK=10)
    assert claims.retrain_request(project=project)
    version = wait_for_version(project, ModelVersionStatus.READY, 180, "training to end")
    wait_for(
        lambda: Prediction.objects.filter(model_version=version).count() >= 20,
        120,
        "scoring to be under way",
    )
    doomed.kill()
    killed_at = time.monotonic()
    scored = Prediction.objects.filter(model_version=version).count()
    assert scored < project.subjects.filter(status=SubjectStatus.ACTIVE).count()
    assert not round_recorded(project)

    # beat's watchdog (every tick runs it for every project) reaps the claim once the lease ran out
    wait_for(lambda: claims.retrain_reap_stale(project=project), 300, "the dead run's claim reaped")
    assert time.monotonic() - killed_at < 300
    version.refresh_from_db()
    assert version.error == claims.ROUND_ABANDONED and not round_recorded(project)

    start_worker(STARLING_TRAIN_EPOCHS=2)
    assert claims.retrain_request(project=project)
    # The dead run's queued chunks may still finish on the new worker and record a late round for
    # the abandoned version (it reorders nothing: test_claims.py); the next version's round comes.
    newer = AcquisitionRound.objects.filter(project=project).exclude(model_version=version)
    wait_for(lambda: newer.exists(), 300, "the next version's round")


def test_a_failed_retrain_is_recorded_and_releases_the_claim(
    celery_worker, worker_settings, make_project
):
    project = make_project(slug="loop-no-votes", subjects=3)  # nobody voted: nothing to train on
    assert claims.retrain_request(project=project)
    version = wait_for_version(project, ModelVersionStatus.FAILED, 120, "the failed version")
    assert "Not enough labelled subjects" in version.error
    wait_for(
        lambda: Project.objects.get(pk=project.pk).retrain_state == RetrainState.IDLE,
        30,
        "the claim release",
    )
    assert claims.retrain_request(project=project)  # the schedule can go on
    # Let that run end too (it fails the same way) before the test's tables are flushed: a
    # worker still writing during the flush deadlocks it.
    wait_for(
        lambda: (
            ModelVersion.objects.filter(project=project, status=ModelVersionStatus.FAILED).count()
            == 2
            and Project.objects.get(pk=project.pk).retrain_state == RetrainState.IDLE
        ),
        120,
        "the second run to end",
    )
