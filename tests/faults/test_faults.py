"""Faults under load: every acknowledged vote is stored exactly once, and everything recovers alone.

Each test runs ~32 simulated volunteers against gunicorn + PostgreSQL on loopback for a bounded
time while a piece is broken, then checks the books. Run alone with `make test-slow`.
"""

import ipaddress
import os
import signal
import socket
import time

import numpy as np
import pytest
from django.db import connection
from django.db.models import Count

from labelling.core import projects, tree, votes
from labelling.loop import claims
from labelling.models import (
    AcquisitionRound,
    Classification,
    ModelVersion,
    ModelVersionStatus,
    Prediction,
    RetrainState,
    Subject,
)
from mlworker import synthetic
from tests.faults.conftest import WEB_APPLICATION_NAME, record_result
from tests.faults.load import run_load
from tests.labelling.loop.test_loop import demo_project, wait_for
from tests.processes import OwnRedis

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
CLIENTS = 32
SECONDS = 12


def check_books(project, result, **measured):
    """Acknowledged <=> stored once; counts == recount; the site still answers."""
    stored = {c.pk: c for c in Classification.objects.filter(project=project)}
    assert result.acknowledged, "the load acknowledged nothing"
    by_key: dict[str, int] = {}
    acknowledged_and_stored = 0
    for ack in result.acknowledged:
        classification = stored.get(ack["classification"])
        assert classification is not None, f"acknowledged {ack} but not stored"
        assert (
            classification.subject_id == ack["subject"]
            and classification.idempotency_key == ack["key"]
        )
        assert by_key.setdefault(ack["key"], ack["classification"]) == ack["classification"]
        acknowledged_and_stored += 1
    duplicates = (
        Classification.objects.filter(project=project)
        .values("volunteer", "subject")
        .annotate(n=Count("id"))
    )
    assert not duplicates.filter(n__gt=1).exists()
    for subject in Subject.objects.filter(project=project):
        assert subject.vote_counts == votes.subject_recount(subject=subject)
        assert subject.classification_count == votes.counted(subject.classifications.all()).count()
    assert not [refusal for refusal in result.refused if refusal[0] != 409], result.refused[:5]
    record_result(
        project.slug,
        acknowledged=len(result.acknowledged),
        acknowledged_and_stored=acknowledged_and_stored,
        failed_requests_retried=result.failures,
        stored=len(stored),
        **measured,
    )


def galaxy_project(slug: str, subjects: int = 400):
    project = projects.project_create(
        slug=slug,
        title=slug,
        questions=tree.nodes_from_dicts(synthetic.GALAXY_QUESTIONS),
        retirement_limit=40,
    )
    Subject.objects.bulk_create(
        [
            Subject(
                project=project,
                image=f"subjects/none/{i}.png",
                content_hash=f"{slug}-{i}",
                priority=np.random.rand(),
            )
            for i in range(subjects)
        ]
    )
    return project


def recovered(server, project) -> bool:
    result = run_load(server.port, project.slug, clients=2, seconds=1)
    return bool(result.acknowledged)


def test_a_gunicorn_worker_killed_mid_load(start_gunicorn):
    project = galaxy_project("fault-gunicorn")
    server = start_gunicorn()
    kills = []

    def kill_workers(result):
        for _ in range(2):
            time.sleep(4)
            victim = server.worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
            kills.append((victim, time.monotonic()))

    result = run_load(server.port, project.slug, CLIENTS, SECONDS, during=kill_workers)
    check_books(project, result, workers_killed=len(kills))
    assert result.acknowledged_between(kills[-1][1], kills[-1][1] + 30) > 0  # served after the kill
    assert len(server.worker_pids()) == 2 and all(
        pid not in server.worker_pids() for pid, _ in kills
    )
    assert recovered(server, project)


def test_redis_stopped_and_restarted_mid_load(start_gunicorn, tmp_path):
    redis_server = OwnRedis(tmp_path)
    redis_server.start()
    server = start_gunicorn(REDIS_URL=redis_server.url)
    project = galaxy_project("fault-redis")
    outage = {}

    def stop_and_restart(result):
        time.sleep(3)
        redis_server.stop()
        outage["start"] = time.monotonic()
        time.sleep(4)
        outage["end"] = time.monotonic()
        redis_server.start()

    try:
        result = run_load(server.port, project.slug, CLIENTS, SECONDS, during=stop_and_restart)
    finally:
        redis_server.stop()
    during_outage = result.acknowledged_between(outage["start"], outage["end"])
    check_books(project, result, acknowledged_during_outage=during_outage)
    assert during_outage > 0  # votes never needed Redis
    assert recovered(server, project)


def test_database_connections_terminated_mid_request(start_gunicorn):
    server = start_gunicorn()
    project = galaxy_project("fault-database")
    terminated = []

    def terminate_backends(result):
        with connection.cursor() as cursor:
            for _ in range(8):
                time.sleep(1)
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = %s AND datname = current_database()",
                    [WEB_APPLICATION_NAME],
                )
                terminated.append(cursor.fetchone()[0])

    result = run_load(server.port, project.slug, CLIENTS, SECONDS, during=terminate_backends)
    assert sum(terminated) > 0, "no web backend was terminated: the fault did not happen"
    check_books(project, result, backends_terminated=sum(terminated))
    assert recovered(server, project)


def kill_a_worker_mid_scoring(project, start_worker) -> None:
    """Retrain on a worker of its own scoring 10 subjects a task; SIGKILL it after 20 predictions."""
    doomed = start_worker(STARLING_SCORE_CHUNK=10)
    assert claims.retrain_request(project=project)
    wait_for(
        lambda: Prediction.objects.filter(model_version__project=project).count() >= 20,
        240,
        "scoring to start",
    )
    doomed.kill()


def test_celery_worker_killed_mid_scoring_leaves_the_loop_recoverable(
    only_own_workers, start_worker, worker_settings
):
    project = demo_project("fault-scoring", subjects=500, votes_per_subject_share=0.2)
    kill_a_worker_mid_scoring(project, start_worker)
    version = ModelVersion.objects.get(project=project)
    assert (
        version.status == ModelVersionStatus.READY
    )  # training had finished: its artefact is complete
    assert not AcquisitionRound.objects.filter(project=project).exists()
    assert Prediction.objects.filter(model_version=version).count() < project.subjects.count()
    time.sleep(worker_settings.STARLING_RETRAIN_LEASE_SECONDS + 1)
    start_worker()
    assert claims.retrain_request(project=project)
    # The chunks the dead worker never took are scored by the new one (so version 1 may still get
    # its round); the retrain triggered after the lease produces version 2 and its round.
    acquisition_round = wait_for(
        lambda: AcquisitionRound.objects.filter(project=project, model_version__number=2).first(),
        240,
        "the round of version 2",
    )
    active = project.subjects.filter(status="active").count()
    assert (
        Prediction.objects.filter(model_version=acquisition_round.model_version).count() == active
    )


def test_a_round_whose_worker_died_mid_scoring_is_abandoned_within_minutes(
    only_own_workers, start_worker, start_beat, worker_settings
):
    """No new trigger, no broker redelivery (hours on Redis): beat's check alone closes the round."""
    project = demo_project("fault-abandon", subjects=300, votes_per_subject_share=0.2)
    kill_a_worker_mid_scoring(project, start_worker)
    killed_at = time.monotonic()
    start_worker()
    start_beat(interval=2)

    def closed():
        project.refresh_from_db()
        version = ModelVersion.objects.get(project=project, number=1)
        finished = version.error == claims.ROUND_ABANDONED or hasattr(version, "acquisition_round")
        return version if finished and project.retrain_state == RetrainState.IDLE else None

    version = wait_for(closed, 300, "the round to be recorded or marked abandoned")
    elapsed = time.monotonic() - killed_at
    record_result(
        project.slug,
        seconds_to_close=round(elapsed),
        outcome="round recorded" if hasattr(version, "acquisition_round") else "abandoned",
    )
    assert elapsed < 300
    assert version.status == ModelVersionStatus.READY  # its model is complete and usable
    assert claims.retrain_request(project=project)  # the loop goes on


def listening_addresses(port: int) -> list[str]:
    """Local addresses of the sockets listening on `port`, from the kernel's tables."""
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)
            for row in rows:
                local, state = row.split()[1], row.split()[3]
                address, port_hex = local.split(":")
                if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                    raw = bytes.fromhex(address)
                    # The kernel writes each 32-bit word in host (little-endian) order.
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                    addresses.append(str(ipaddress.ip_address(words)))
    return addresses


def test_the_fault_harness_really_listens_on_loopback_only(start_gunicorn):
    server = start_gunicorn()
    with socket.create_connection(("127.0.0.1", server.port), timeout=1):
        pass
    addresses = listening_addresses(server.port)
    assert addresses, f"no listening socket on port {server.port} in /proc/net/tcp*"
    assert all(ipaddress.ip_address(address).is_loopback for address in addresses), addresses


def test_the_loopback_check_sees_a_socket_open_to_every_address():
    """The check above can fail: a socket bound to 0.0.0.0 is reported as such."""
    with socket.socket() as wide:
        wide.bind(("0.0.0.0", 0))
        wide.listen()
        assert listening_addresses(wide.getsockname()[1]) == ["0.0.0.0"]
