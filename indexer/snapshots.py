"""Backups as Elasticsearch snapshots in a filesystem repository, and restores that keep search up.

A backup snapshots the live index behind the alias, the jobs index and every index whose name starts
with one of BACKUP_INDEX_PREFIXES (the journal, ...). The snapshot's metadata records the alias and
which index was live, so a restore needs nothing else.

A restore never touches the live index: it restores the snapshot's article index under a new
versioned name (`<alias>-<timestamp>`, so rollback and pruning treat it like any build), waits until
its shards are recovered, then switches the alias to it in one atomic action. System indices are
restored only when they are missing (a lost cluster); existing ones are left as they are.

`python -m indexer.snapshots backup|list|restore [NAME]` is the command line (`make backup`,
`make restore`); `/admin/backups` is the same over HTTP.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from govsearch.settings import Settings, settings_or_exit
from indexer import elastic
from indexer.embeddings import Embedder, load_embedder
from indexer.journal import Journal

RESTORE_TIMEOUT_SECONDS = 600.0


class NoLiveIndex(Exception):
    """The alias points at nothing: there is no index to back up."""


class SnapshotMissing(Exception):
    """No snapshot has this name in the repository."""


class NotRestorable(Exception):
    """The snapshot did not succeed or records no article index."""


def ensure_repository(es: Elasticsearch, settings: Settings) -> None:
    """Register the fs repository (idempotent: same name, same settings)."""
    es.snapshot.create_repository(name=settings.snapshot_repository,
                                  repository={"type": "fs", "settings": {"location": settings.snapshot_location}})


def backup_indices(es: Elasticsearch, settings: Settings) -> tuple[str, list[str]]:
    """(the live index, every index a backup holds): the live one, the jobs index, prefixed system indices."""
    live = elastic.alias_target(es, settings.index_alias)
    if live is None:
        raise NoLiveIndex(f"alias {settings.index_alias} does not exist: nothing to back up")
    names = {live}
    patterns = [settings.jobs_index, *(f"{prefix}*" for prefix in settings.backup_index_prefixes if prefix)]
    found = es.indices.get(index=",".join(patterns), ignore_unavailable=True, allow_no_indices=True,
                           expand_wildcards="open,hidden", features="settings")
    names.update(name for name in found if not name.startswith("."))
    return live, sorted(names)


def snapshot_name(alias: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{alias}-{stamp}-{secrets.token_hex(2)}".lower()


def create(es: Elasticsearch, settings: Settings, *, requested_by: str, wait: bool = False) -> dict[str, Any]:
    """Start (or, with `wait`, run to the end) a snapshot of the backup indices; its summary."""
    ensure_repository(es, settings)
    live, indices = backup_indices(es, settings)
    name = snapshot_name(settings.index_alias)
    metadata = {"alias": settings.index_alias, "live_index": live, "requested_by": requested_by}
    response = es.options(request_timeout=RESTORE_TIMEOUT_SECONDS).snapshot.create(
        repository=settings.snapshot_repository, snapshot=name, indices=",".join(indices),
        include_global_state=False, metadata=metadata, wait_for_completion=wait)
    if wait:
        return summary(response["snapshot"])
    return {"snapshot": name, "state": "IN_PROGRESS", "indices": indices, "alias": settings.index_alias,
            "live_index": live, "start_time": None, "end_time": None, "failures": [], "requested_by": requested_by}


def summary(info: dict[str, Any]) -> dict[str, Any]:
    """The fields of Elasticsearch's snapshot info that the API and the CLI report."""
    meta = info.get("metadata") or {}
    return {"snapshot": info["snapshot"], "state": info.get("state") or "UNKNOWN",
            "indices": sorted(info.get("indices", [])), "alias": meta.get("alias"),
            "live_index": meta.get("live_index"), "start_time": info.get("start_time"),
            "end_time": info.get("end_time"),
            "failures": [str(failure.get("reason", failure)) for failure in info.get("failures", [])],
            "requested_by": meta.get("requested_by")}


def list_snapshots(es: Elasticsearch, settings: Settings) -> list[dict[str, Any]]:
    """Every snapshot in the repository, newest first."""
    ensure_repository(es, settings)
    found = es.snapshot.get(repository=settings.snapshot_repository, snapshot="_all")
    snapshots = [summary(info) for info in found.get("snapshots", [])]
    return sorted(snapshots, key=lambda s: (s["start_time"] or "", s["snapshot"]), reverse=True)


def get(es: Elasticsearch, settings: Settings, name: str) -> dict[str, Any]:
    ensure_repository(es, settings)
    try:
        found = es.snapshot.get(repository=settings.snapshot_repository, snapshot=name)
    except NotFoundError:
        raise SnapshotMissing(name) from None
    snapshots = found.get("snapshots", [])
    if not snapshots:
        raise SnapshotMissing(name)
    return summary(snapshots[0])


def restore(es: Elasticsearch, settings: Settings, name: str,
            exclusive: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
            embedder: Callable[[str], Embedder] | None = None) -> dict[str, Any]:
    """Restore snapshot `name`'s article index as a new versioned index and switch the alias to it.

    Searches keep answering from the current index until the switch (if there is one). Missing
    system indices of the snapshot come back first, under their own names (existing ones are not
    touched): the jobs index among them holds the reindex lease, which `exclusive()` (the API's and
    the CLI's: `service.jobs`) holds around the restore of the article index and the switch.
    The admin journal is replayed into the restored index around the switch (`Journal.switch_to`), as a
    rebuild and a rollback do: the articles written or deleted through /admin/documents since the snapshot
    stay as written, instead of flipping back now and again at the next rebuild. `embedder` gives the model
    of a name (default: loaded with EMBEDDING_CACHE_DIR), asked only if an article must be embedded.
    """
    snap = get(es, settings, name)
    source = snap["live_index"]
    if snap["state"] != "SUCCESS":
        raise NotRestorable(f"snapshot {name} is {snap['state']}, not SUCCESS")
    if not source or source not in snap["indices"]:
        raise NotRestorable(f"snapshot {name} records no article index")
    client = es.options(request_timeout=RESTORE_TIMEOUT_SECONDS)
    missing = [index for index in snap["indices"]
               if index != source and not es.indices.exists(index=index, expand_wildcards="all")]
    if missing:
        client.snapshot.restore(repository=settings.snapshot_repository, snapshot=name, indices=",".join(missing),
                                include_aliases=False, include_global_state=False, wait_for_completion=True)
    alias = settings.index_alias
    with exclusive():
        target = elastic.new_index_name(alias)
        client.snapshot.restore(repository=settings.snapshot_repository, snapshot=name, indices=source,
                                rename_pattern=".+", rename_replacement=target, include_aliases=False,
                                include_global_state=False, wait_for_completion=True)
        client.cluster.health(index=target, wait_for_status="yellow", timeout=f"{int(RESTORE_TIMEOUT_SECONDS)}s")
        model = str(elastic.index_meta(es, target).get("embedding_model"))
        load = embedder or (lambda model: load_embedder(model, settings.embedding_cache_dir))
        previous = Journal(es, settings.journal_index, alias).switch_to(
            target, lambda: elastic.switch_alias(es, alias, target), lambda: load(model),
            batch_size=settings.embedding_batch_size)
    return {"snapshot": name, "alias": alias, "index": target, "previous_index": previous,
            "restored_from": source, "system_indices_restored": missing}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m indexer.snapshots", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("backup", help="snapshot the live index and the system indices, wait for the end")
    commands.add_parser("list", help="the repository's snapshots, newest first")
    restore_cmd = commands.add_parser("restore", help="restore a snapshot (default: the newest successful one)")
    restore_cmd.add_argument("snapshot", nargs="?", help="snapshot name (see `list`)")
    args = parser.parse_args(argv)
    settings = settings_or_exit()
    return elastic.run_command(lambda: _run(args, settings), settings.elasticsearch_url_shown)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from service.jobs import JobConflict, cli_lease  # the reindex lease, shared with the API's jobs

    es = elastic.connect(settings.elasticsearch_url)
    try:
        if args.command == "backup":
            result: Any = create(es, settings, requested_by="cli", wait=True)
        elif args.command == "list":
            result = list_snapshots(es, settings)
        else:
            name = args.snapshot or next((s["snapshot"] for s in list_snapshots(es, settings)
                                          if s["state"] == "SUCCESS"), None)
            if name is None:
                print("no successful snapshot to restore", file=sys.stderr)
                return 1
            # A restore switches the served alias: never beside an admin job, a rollback or a CLI build.
            result = restore(es, settings, name, lambda: cli_lease(es, settings, "restore", on_lost=lambda: None))
    except (NoLiveIndex, SnapshotMissing, NotRestorable) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except JobConflict as exc:
        print(f"error: {exc.for_operator(settings.index_alias)}", file=sys.stderr)
        return 2
    finally:
        es.close()
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
