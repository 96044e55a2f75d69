"""service.jobs on a real node: the reindex lease between two replicas (two JobStores), fencing,
and terminal job states that a late finisher cannot overwrite."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from elasticsearch import Elasticsearch

from govsearch.settings import Settings
from indexer import elastic
from service.jobs import (
    ACTIVE_STATES,
    DEAD_AFTER,
    HEARTBEAT_SECONDS,
    LOCK_ID,
    Fenced,
    JobConflict,
    JobStore,
    iso,
    now,
    owner,
)

JOBS = "test-lease-jobs"
ALIAS = "test-lease-articles"


@pytest.fixture
def replicas(es: Elasticsearch, settings: Settings) -> Iterator[tuple[JobStore, JobStore]]:
    """Two replicas: each its own client and store over the same jobs index."""
    es.indices.delete(index=JOBS, ignore_unavailable=True)
    clients = [elastic.connect(settings.elasticsearch_url) for _ in range(2)]
    yield JobStore(clients[0], JOBS, ALIAS), JobStore(clients[1], JOBS, ALIAS)
    for client in clients:
        client.close()
    es.indices.delete(index=JOBS, ignore_unavailable=True)


def create(store: JobStore) -> dict:
    return store.create(sources=["data/sample"], model="usem3", incremental=False, requested_by="test")


def race_for_jobs(stores: list[JobStore]) -> tuple[list[str], list[str]]:
    """Every store creates a job at the same moment: (ids created, ids named by the conflicts)."""
    won: list[str] = []
    lost: list[str] = []
    barrier = threading.Barrier(len(stores))

    def race(store: JobStore) -> None:
        barrier.wait()
        try:
            won.append(create(store)["job_id"])
        except JobConflict as conflict:
            lost.append(conflict.running_job_id)

    threads = [threading.Thread(target=race, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won, lost


def expire_lease(es: Elasticsearch) -> None:
    es.update(index=JOBS, id=LOCK_ID, doc={"lease_expires": iso(now() - timedelta(seconds=1))})


def test_a_lock_whose_job_document_is_not_written_yet_is_not_taken(replicas: tuple[JobStore, JobStore],
                                                                   es: Elasticsearch) -> None:
    a, b = replicas
    a.ensure_index()
    # Replica a has created the lock and is about to write its job document.
    es.create(index=JOBS, id=LOCK_ID, document={"kind": "lock", "job_id": "job-a", "owner": "a:1",
                                                "lease_expires": iso(now() + timedelta(minutes=4))})
    with pytest.raises(JobConflict) as conflict:
        create(b)
    assert conflict.value.running_job_id == "job-a"
    assert es.get(index=JOBS, id=LOCK_ID)["_source"]["job_id"] == "job-a"


def test_replicas_racing_for_the_lease_get_exactly_one_job(replicas: tuple[JobStore, JobStore],
                                                           es: Elasticsearch) -> None:
    a, b = replicas
    a.ensure_index()
    won, lost = race_for_jobs([a, b] * 4)
    assert len(won) == 1 and len(lost) == 7 and set(lost) == set(won)
    assert es.get(index=JOBS, id=LOCK_ID)["_source"]["job_id"] == won[0]


def test_an_expired_lease_is_taken_over_by_one_replica_and_fences_the_old_holder(
        replicas: tuple[JobStore, JobStore], es: Elasticsearch) -> None:
    a, b = replicas
    old = create(a)
    a.renew(old["job_id"])  # a live holder renews fine
    expire_lease(es)
    won, lost = race_for_jobs([a, b] * 3)
    assert len(won) == 1 and len(lost) == 5
    with pytest.raises(Fenced):
        a.renew(old["job_id"])
    job = a.get(old["job_id"])
    assert job is not None and job["state"] == "failed" and "lease" in job["error"]
    # The fenced job finishing late changes nothing: failed is final, and it cannot free the new holder's lock.
    assert not a.transition(old["job_id"], ACTIVE_STATES, state="succeeded")
    a.release(old["job_id"])
    assert a.get(old["job_id"])["state"] == "failed"  # type: ignore[index]
    assert es.get(index=JOBS, id=LOCK_ID)["_source"]["job_id"] == won[0]


def test_a_live_lease_is_not_taken_over_even_with_a_stale_heartbeat(replicas: tuple[JobStore, JobStore],
                                                                   es: Elasticsearch) -> None:
    a, b = replicas
    job = create(a)
    stale = iso(now() - DEAD_AFTER - timedelta(minutes=1))
    es.update(index=JOBS, id=job["job_id"], doc={"heartbeat": stale}, refresh=True)
    a.renew(job["job_id"])  # the process is alive: only its progress writes were failing
    assert b.get(job["job_id"])["state"] == "queued"  # type: ignore[index]
    with pytest.raises(JobConflict):
        create(b)


def test_a_terminal_state_is_final(replicas: tuple[JobStore, JobStore]) -> None:
    a, b = replicas
    job = create(a)
    assert b.transition(job["job_id"], ACTIVE_STATES, state="cancelled", phase="cancelled")
    assert not a.transition(job["job_id"], ("queued",), state="running")
    assert not a.transition(job["job_id"], ACTIVE_STATES, state="succeeded")
    assert a.get(job["job_id"])["state"] == "cancelled"  # type: ignore[index]


def test_a_job_is_declared_dead_only_well_after_the_longest_admin_call() -> None:
    """A synchronous call of the admin client may take LONGEST_CALL_SECONDS (every retry timing out):
    a renewal stuck that long, then the alias switch it guards, must both fit in the lease."""
    assert DEAD_AFTER.total_seconds() > 2 * elastic.LONGEST_CALL_SECONDS


def test_a_rollback_holding_the_lease_keeps_jobs_out_and_is_kept_out_by_them(
        replicas: tuple[JobStore, JobStore]) -> None:
    a, b = replicas
    with a.holding("rollback-1"):
        with pytest.raises(JobConflict) as conflict:
            create(b)
        assert conflict.value.running_job_id == "rollback-1"
        # A rollback has no job document to look up or cancel: the refusal says where it runs and until when.
        assert conflict.value.owner == owner() and conflict.value.lease_expires
        assert f"taken by {owner()}, until {conflict.value.lease_expires} unless renewed" in conflict.value.message()
    job = create(b)
    with pytest.raises(JobConflict), a.holding("rollback-2"):
        pass
    assert b.running_job() is not None and b.running_job()["job_id"] == job["job_id"]  # type: ignore[index]


def test_a_jobs_own_renewals_racing_each_other_do_not_fence_it_off(replicas: tuple[JobStore, JobStore],
                                                                   es: Elasticsearch) -> None:
    """The heartbeat thread and the build thread (right before its switch) renew the same lease: the
    compare-and-set one of them loses is a renewal by the job itself, not a takeover."""
    a, _ = replicas
    job = create(a)
    before = es.get(index=JOBS, id=LOCK_ID)["_version"]
    rounds, renewers = 20, 3
    barrier = threading.Barrier(renewers)
    fenced: list[Fenced] = []

    def renew() -> None:
        for _ in range(rounds):
            barrier.wait()
            try:
                a.renew(job["job_id"])
            except Fenced as exc:
                fenced.append(exc)

    threads = [threading.Thread(target=renew) for _ in range(renewers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fenced == []
    lock = es.get(index=JOBS, id=LOCK_ID)
    assert lock["_source"]["job_id"] == job["job_id"]
    assert lock["_version"] - before == rounds * renewers  # every renewal was written, none lost


def test_a_stopped_heartbeat_finishes_the_beat_in_progress_before_the_job_ends(
        replicas: tuple[JobStore, JobStore]) -> None:
    """A job's end (service.reindex) stops its heartbeat and waits for a beat caught in a slow call, so the
    beat cannot renew a lease the end has released (and report the job fenced off) or write after the end."""
    from service.reindex import _Heartbeat

    entered, proceed = threading.Event(), threading.Event()

    class SlowRenewals(JobStore):
        def renew(self, job_id: str) -> None:
            entered.set()
            proceed.wait(30)
            super().renew(job_id)

    a, _ = replicas
    job = create(a)
    store = SlowRenewals(a.es, a.index, a.alias)
    heartbeat = _Heartbeat(store, job["job_id"], threading.Event())
    heartbeat.start()
    assert entered.wait(10)  # a beat is renewing, slowly
    stopper = threading.Thread(target=heartbeat.stop)
    stopper.start()
    stopper.join(0.5)
    assert stopper.is_alive()  # stop() waits for that beat
    proceed.set()
    stopper.join(10)
    assert not stopper.is_alive() and not heartbeat.is_alive()
    a.release(job["job_id"])  # what the job's end does next: no beat is left to find the lease gone
    assert heartbeat.fenced is None and not heartbeat.cancel.is_set()


def test_jobs_are_listed_newest_first_even_in_an_index_made_before_created_was_mapped(
        replicas: tuple[JobStore, JobStore], es: Elasticsearch) -> None:
    a, _ = replicas
    # A jobs index as an older version created it: `created` not mapped, so a sort on it sorted nothing.
    body = elastic.system_index_body("jobs")
    body["mappings"]["properties"].pop("created")
    es.indices.create(index=JOBS, **body)
    created = []
    for _ in range(6):
        job = create(a)
        a.transition(job["job_id"], ACTIVE_STATES, state="succeeded")
        a.release(job["job_id"])
        created.append(job["job_id"])
    assert [job["job_id"] for job in a.list()] == created[::-1]
    assert a.last_succeeded()["job_id"] == created[-1]  # type: ignore[index]


def test_a_long_operation_keeps_its_lease_and_learns_when_it_loses_it(replicas: tuple[JobStore, JobStore],
                                                                      es: Elasticsearch) -> None:
    """A CLI build holds the lease like a job: others get JobConflict; a takeover (its process stalled past
    the lease) reaches it through on_lost and renew(), so it switches nothing."""
    a, b = replicas
    lost = threading.Event()
    with a.holding("cli-build-host:1", on_lost=lost.set) as lease:
        with pytest.raises(JobConflict) as conflict:
            create(b)
        assert conflict.value.running_job_id == "cli-build-host:1"
        expire_lease(es)
        taker = create(b)  # what a replica does with an expired lease
        assert lost.wait(3 * HEARTBEAT_SECONDS)  # the renewing thread found the lock taken
        with pytest.raises(Fenced):
            lease.renew()
    # Leaving the block released nothing of the new holder's.
    assert es.get(index=JOBS, id=LOCK_ID)["_source"]["job_id"] == taker["job_id"]
