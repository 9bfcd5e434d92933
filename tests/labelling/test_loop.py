"""The active-learning loop end to end: real PostgreSQL, real Redis, a real celery worker process."""

import time

import numpy as np
import pytest
from django.test import Client

from labelling import loop, services
from labelling.models import (
    AcquisitionRound,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    Project,
    RetrainState,
    SubjectStatus,
)
from mlworker import synthetic

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def demo_project(
    slug: str, subjects: int = 200, votes_per_subject_share: float = 0.5, size: int = 24
) -> Project:
    """A synthetic-galaxy project; about half the subjects get 5 simulated votes each."""
    project = services.project_create(
        slug=slug,
        title=slug,
        questions=services.question_specs_from_dicts(synthetic.GALAXY_QUESTIONS),
        image_size=size,
        retirement_limit=15,
        acquisition_batch_size=20,
        exploration_share=0.2,
    )
    galaxies = synthetic.make_galaxies(subjects, size=size, seed=len(slug))
    rng = np.random.default_rng(0)
    volunteers = [
        services.volunteer_get_or_create(session_key=f"{slug}-volunteer-{i}") for i in range(5)
    ]
    for index in range(subjects):
        subject = services.subject_import_image(
            project=project,
            name=f"{index}.png",
            data=synthetic.image_to_png_bytes(galaxies.images[index]),
            metadata={
                "truth": dict(zip(synthetic.QUESTION_KEYS, galaxies.p[index].tolist(), strict=True))
            },
        )
        if index < subjects * votes_per_subject_share:
            for number, volunteer in enumerate(volunteers):
                services.classification_submit(
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


def round_recorded(project):
    return AcquisitionRound.objects.filter(project=project).first()


def test_triggered_retrain_trains_scores_every_active_subject_and_reorders_the_queue(
    celery_worker, worker_settings
):
    project = demo_project("loop-end-to-end")
    assert loop.retrain_request(project=project)
    acquisition_round = wait_for(lambda: round_recorded(project), 180, "the acquisition round")

    version = ModelVersion.objects.get(project=project)
    assert version.status == ModelVersionStatus.READY, version.error
    assert version.training_set_size == 100
    assert set(version.metrics["smooth-or-featured"]) >= {"nll", "rmse", "coverage"}
    assert {"train_seconds", "score_seconds", "select_seconds"} <= set(version.timings)
    active = set(project.subjects.filter(status=SubjectStatus.ACTIVE).values_list("pk", flat=True))
    assert (
        set(Prediction.objects.filter(model_version=version).values_list("subject_id", flat=True))
        == active
    )
    picks = list(acquisition_round.picks.order_by("rank"))
    assert len(picks) == 20 and sum(pick.is_exploration for pick in picks) == 4
    project.refresh_from_db()
    assert project.retrain_state == RetrainState.IDLE

    # A brand-new volunteer is served one of the round's top picks first (random among the top 5).
    response = Client().get(f"/api/projects/{project.slug}/next")
    assert response.status_code == 200
    assert response.json()["subject"]["id"] in [pick.subject_id for pick in picks[:5]]


def test_scores_in_the_database_agree_with_acquisition_on_the_same_samples(
    celery_worker, worker_settings
):
    from mlworker import acquisition
    from mlworker.tasks import question_configs

    project = demo_project("loop-scores", subjects=60)
    assert loop.retrain_request(project=project)
    wait_for(lambda: round_recorded(project), 180, "the acquisition round")
    questions = question_configs(project)
    predictions = list(Prediction.objects.filter(model_version__project=project))
    samples = {
        q.key: np.array([np.array(p.samples[q.key]).T for p in predictions]) for q in questions
    }  # [items, answers, samples]
    expected = acquisition.subject_scores(
        samples, questions, project.retirement_limit, project.acquisition_strategy
    )
    stored = np.array([p.score for p in predictions])
    np.testing.assert_allclose(stored, expected, rtol=1e-3, atol=1e-5)
    expected_mi = acquisition.multinomial_mutual_information(
        samples["bar"], project.retirement_limit
    )
    stored_mi = [p.per_question["bar"]["mutual_information"] for p in predictions]
    np.testing.assert_allclose(stored_mi, expected_mi, rtol=1e-3, atol=1e-5)


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
    results = [loop.retrain_request(project=project), loop.retrain_request(project=project)]
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
        results.append(loop.retrain_request(project=Project.objects.get(pk=project.pk)))
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
    assert loop.retrain_request(project=project)
    version = wait_for(
        lambda: ModelVersion.objects.filter(
            project=project, status=ModelVersionStatus.TRAINING
        ).first(),
        120,
        "training to start",
    )
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
    assert loop.retrain_request(project=project) is False  # the lease is still fresh
    time.sleep(worker_settings.STARLING_RETRAIN_LEASE_SECONDS + 1)

    start_worker()
    assert loop.retrain_request(project=project)  # takes over the dead run's claim
    wait_for(lambda: round_recorded(project), 180, "the next round")
    version.refresh_from_db()
    assert version.status == ModelVersionStatus.FAILED and "worker lost" in version.error
    assert (
        ModelVersion.objects.filter(project=project, status=ModelVersionStatus.READY).count() == 1
    )


def test_a_failed_retrain_is_recorded_and_releases_the_claim(
    celery_worker, worker_settings, make_project
):
    project = make_project(slug="loop-no-votes", subjects=3)  # nobody voted: nothing to train on
    assert loop.retrain_request(project=project)
    version = wait_for(
        lambda: ModelVersion.objects.filter(
            project=project, status=ModelVersionStatus.FAILED
        ).first(),
        120,
        "the failed version",
    )
    assert "Not enough labelled subjects" in version.error
    wait_for(
        lambda: Project.objects.get(pk=project.pk).retrain_state == RetrainState.IDLE,
        30,
        "the claim release",
    )
    assert loop.retrain_request(project=project)  # the schedule can go on
