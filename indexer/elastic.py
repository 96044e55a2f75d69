"""Index lifecycle on Elasticsearch: versioned indices behind one alias.

Searches always go through the alias; a build writes a brand-new index and only
an atomic alias swap makes it live, so readers never see a half-built index and
a failed build leaves nothing behind.

Switch history: every index made live by `switch_alias` (a build, a restore) records in its
mapping `_meta.live_history` the indices that were live before it, oldest first, ending with
itself. Rollback goes to the newest still-existing entry before the live one and leaves the
target's own history as it was (so rollbacks step back one switch at a time); pruning keeps the
`keep_previous` newest entries. Neither trusts creation dates: a restored index keeps the creation
date of the index it was snapshotted from.
"""

from __future__ import annotations

import copy
import json
import logging
import secrets
import sys
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from elastic_transport import TransportError
from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.serializer import OrjsonSerializer

from govsearch.paths import MAPPINGS_DIR
from govsearch.settings import IndexLayout

log = logging.getLogger(__name__)

# The patient client of builds and admin work: one call may legitimately take up to
# LONGEST_CALL_SECONDS (every attempt timing out). Job leases are derived from it (service.jobs).
REQUEST_TIMEOUT_SECONDS = 30.0
MAX_RETRIES = 3
LONGEST_CALL_SECONDS = REQUEST_TIMEOUT_SECONDS * (MAX_RETRIES + 1)


def run_command(command: Callable[[], int], url: str) -> int:
    """A command-line command's exit code, with the failures an operator meets told in one line on stderr
    instead of a traceback: Elasticsearch unreachable or not answering in time (exit 1: a build leaves the
    alias as it was; its partial index, and a lease it could not give back, stay until the next build or
    the lease's expiry), Ctrl-C (exit 130, after the command's own cleanup)."""
    # The client logs each retry with a traceback; the line below says what an operator needs.
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    try:
        return command()
    except TransportError as exc:  # connection refused or reset, timeouts: not an answer from the node
        print(f"error: Elasticsearch at {url} did not answer ({type(exc).__name__}: {exc.message}). Start it "
              "(make es-up) or set ES_URL, then run the command again; a build that stopped leaves the alias "
              "as it was.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def connect(hosts: str | list[str], *, request_timeout: float = REQUEST_TIMEOUT_SECONDS) -> Elasticsearch:
    """A patient client for indexing and admin work: one node's URL or every node of a cluster
    (`Settings.elasticsearch_hosts`); a failed request is retried, on another node when there is one.
    Its JSON goes through orjson: a build's bulk requests are mostly vectors, which the standard `json`
    module encodes several times slower (measured in bench/results/perf-notes.md)."""
    return Elasticsearch(hosts, request_timeout=request_timeout, retry_on_timeout=True, max_retries=MAX_RETRIES,
                         serializer=OrjsonSerializer())


def load_mapping(name: str) -> dict[str, Any]:
    """Read `mappings/<name>.json`, dropping `_comment`-style keys that are documentation only."""
    body = json.loads((MAPPINGS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return {key: value for key, value in body.items() if not key.startswith("_")}


def ensure_system_index(es: Elasticsearch, index: str, mapping: str, *, replicas: int | None = None) -> None:
    """Create `index` from `mappings/<mapping>.json` unless it exists (`replicas`: copies of its shards,
    None as in the file). Another process creating it at the same moment is not an error. An index that
    exists gets the file's fields (`system_mapping_update`)."""
    if es.indices.exists(index=index):
        if (update := system_mapping_update(es, index, mapping)) is not None:
            es.indices.put_mapping(index=index, **update)
        return
    try:
        es.indices.create(index=index, **system_index_body(mapping, replicas))
    except Exception:  # another replica created it first
        if not es.indices.exists(index=index):
            raise


SYSTEM_WRITE_REFRESH: Final = True
"""`refresh` of every write into a system index (jobs, journal, best bets, synonyms), so that it is visible
on return. An explicit refresh of the shards written (~30 ms on the dev node), not `wait_for`: that waits
for the next scheduled refresh, up to `refresh_interval` (1 s), and an operator's write would take a second
each time. These writes are few and small, so the extra refreshes cost nothing that matters."""


# The system indices each client (sync or async) has brought up to their mapping files, see below.
_MAPPINGS_APPLIED: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()


def system_mapping_update(es: object, index: str, mapping: str) -> dict[str, Any] | None:
    """The `put_mapping` body that brings a system index created by an older version up to
    `mappings/<mapping>.json`: its fields (a system index's mapping only ever gains fields, which
    Elasticsearch adds in place). Documents written before a field was mapped stay unsearchable by it: a
    sort on it puts them last.

    None when client `es` has asked for `index` before: the files do not change while a process runs, and
    a `put_mapping` is a cluster-state task (~20 ms on the dev node) that callers ensuring their index on
    every write (the journal, best bets) would otherwise pay each time. Asked once per client and index,
    even if that request fails."""
    applied = _MAPPINGS_APPLIED.setdefault(es, set())
    if index in applied:
        return None
    applied.add(index)
    return {"properties": load_mapping(mapping)["mappings"]["properties"]}


def system_index_body(mapping: str, replicas: int | None = None) -> dict[str, Any]:
    """`settings` and `mappings` for a system index (jobs, journal, search log, best bets)."""
    body = load_mapping(mapping)
    if replicas is not None:
        body["settings"].setdefault("index", {})["number_of_replicas"] = replicas
    return {"settings": body["settings"], "mappings": body["mappings"]}


def articles_index_body(dims: int, meta: dict[str, Any], segmenter: str = "smartcn") -> dict[str, Any]:
    """mappings/articles.json with the model's vector size, `meta` and the word analysis of `segmenter`
    (mappings/word-segmenters.json; "smartcn" is articles.json's own)."""
    body = copy.deepcopy(load_mapping("articles"))
    body["mappings"]["properties"]["vector"]["dims"] = dims
    body["mappings"]["_meta"] = meta
    if segmenter != "smartcn":
        analysis = body["settings"]["analysis"]
        for kind, definitions in load_mapping("word-segmenters")[segmenter]["analysis"].items():
            analysis.setdefault(kind, {}).update(definitions)
    return body


def add_new_fields(es: Elasticsearch, index: str) -> list[str]:
    """Map in an articles index the fields mappings/articles.json has gained since the index was built (an
    incremental build writes `origin`, which the strict mapping of an older index would refuse); return their
    names. Fields the index has already are left as they are: their analysis and vector size are the index's."""
    mapped = es.indices.get_mapping(index=index)[index]["mappings"].get("properties", {})
    new = {name: field for name, field in load_mapping("articles")["mappings"]["properties"].items()
           if name not in mapped}
    if new:
        es.indices.put_mapping(index=index, properties=new)
    return sorted(new)


def new_index_name(alias: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{alias}-{stamp}-{secrets.token_hex(2)}"


# The vector index types that build an HNSW graph, each with its flat form: the same vectors stored the
# same way (quantized alike) and searched exactly, with no graph. Elasticsearch lets an index's vector field
# move from the flat form to the graph type later; segments written after that (a merge's too) get the graph.
FLAT_FORMS = {"hnsw": "flat", "int8_hnsw": "int8_flat", "int4_hnsw": "int4_flat", "bbq_hnsw": "bbq_flat"}


def create_articles_index(es: Elasticsearch, alias: str, *, dims: int, model: str,
                          layout: IndexLayout | None = None, segmenter: str = "smartcn",
                          graph_at_merge: bool = False) -> str:
    """A new versioned index for `alias`; `layout` (INDEX_SHARDS, INDEX_REPLICAS) overrides the shard and
    replica counts of mappings/articles.json, which apply when it is None; `segmenter` (WORD_SEGMENTER)
    picks the word analysis and is recorded in the index's `_meta` as `word_segmenter`.

    `graph_at_merge`: the vector field starts in the flat form of its type (FLAT_FORMS) and gets the type of
    mappings/articles.json back in `merge_segments`, whose merge then builds each shard's HNSW graph once.
    Otherwise every segment the bulk load flushes builds a graph of its own and the merge builds one more
    from them: 13-17% of a warm full build's node CPU at 7,538 and 20,000 articles (bench/results/perf-notes.md)."""
    name = new_index_name(alias)
    meta = {"embedding_model": model, "dims": dims, "word_segmenter": segmenter,
            "created": datetime.now(UTC).isoformat()}
    body = articles_index_body(dims, meta, segmenter)
    if layout is not None:
        body["settings"]["index"].update(layout.index_settings())
    if graph_at_merge:
        vector = body["mappings"]["properties"]["vector"]
        flat = FLAT_FORMS.get(vector.get("index_options", {}).get("type", ""))
        if flat is not None:
            vector["index_options"] = {"type": flat}
    # Bulk loading is faster without refreshes; the alias switch happens after an explicit refresh.
    body["settings"]["index"]["refresh_interval"] = "-1"
    es.indices.create(index=name, settings=body["settings"], mappings=body["mappings"])
    return name


def finish_index(es: Elasticsearch, index: str) -> None:
    es.indices.put_settings(index=index, settings={"index": {"refresh_interval": "1s"}})
    es.indices.refresh(index=index)


# A force merge rewrites the whole index (and rebuilds its HNSW graph) in one blocking request.
MERGE_TIMEOUT_SECONDS = 3600.0


def merge_segments(es: Elasticsearch, index: str, segments: int) -> None:
    """Force-merge `index` into at most `segments` segments per shard (INDEX_MERGE_SEGMENTS); returns when done.
    Meant for a freshly built index nobody searches yet: the merge costs the node CPU and, until it ends,
    twice the disk.

    First the vector field gets its index options from mappings/articles.json again (a no-op unless the index
    was created with `graph_at_merge`), so the merged segments carry the HNSW graph. A shard that is already
    down to `segments` segments is not rewritten (Lucene skips it): there, segments loaded flat stay flat —
    exact kNN over at most one indexing buffer's worth of passages, which costs the node about what the
    graph's search would — and any segment written later gets the graph."""
    vector = articles_index_body(int(index_meta(es, index)["dims"]), {})["mappings"]["properties"]["vector"]
    es.indices.put_mapping(index=index, properties={"vector": vector})
    es.options(request_timeout=MERGE_TIMEOUT_SECONDS).indices.forcemerge(
        index=index, max_num_segments=segments, wait_for_completion=True)


def alias_target(es: Elasticsearch, alias: str) -> str | None:
    try:
        found = es.indices.get_alias(name=alias)
    except NotFoundError:
        return None
    names = sorted(found.keys())
    return names[-1] if names else None


def index_meta(es: Elasticsearch, index: str) -> dict[str, Any]:
    mapping = es.indices.get_mapping(index=index)
    return dict(mapping[index]["mappings"].get("_meta", {}))


LIVE_HISTORY_LENGTH = 20
"""Switches remembered per index: far more than KEEP_PREVIOUS_INDICES keeps indices for."""


def live_history(es: Elasticsearch, index: str) -> list[str]:
    """The indices live for the alias up to `index`, oldest first, ending with `index`, as recorded
    when `index` went live; [] when it never went live through `switch_alias`."""
    return [str(name) for name in index_meta(es, index).get("live_history") or []]


def switch_alias(es: Elasticsearch, alias: str, index: str, *, rollback: bool = False) -> str | None:
    """Point `alias` at `index` in one atomic action; return the index it pointed at before.

    Unless `rollback`, `index`'s switch history is written first: the previous live index's history
    (just [previous] when it has none) followed by `index`."""
    previous = alias_target(es, alias)
    if not rollback:
        history = (live_history(es, previous) or [previous]) if previous and previous != index else []
        meta = index_meta(es, index)
        meta["live_history"] = [*(name for name in history if name != index), index][-LIVE_HISTORY_LENGTH:]
        es.indices.put_mapping(index=index, meta=meta)
    actions: list[dict[str, Any]] = [{"add": {"index": index, "alias": alias}}]
    if previous and previous != index:
        actions.insert(0, {"remove": {"index": previous, "alias": alias}})
    es.indices.update_aliases(actions=actions)
    return previous


def versioned_indices(es: Elasticsearch, alias: str) -> list[str]:
    """Indices built for `alias`, oldest first by the node's own creation time."""
    found = es.indices.get(index=f"{alias}-*", expand_wildcards="open,closed", features="settings")
    return sorted(found, key=lambda name: (int(found[name]["settings"]["index"]["creation_date"]), name))


def rollback_target(es: Elasticsearch, alias: str) -> str | None:
    """The index that was live before the live one (by the live index's switch history) and still
    exists; None when there is none."""
    live = alias_target(es, alias)
    if live is None:
        return None
    existing = set(versioned_indices(es, alias))
    return next((name for name in reversed(live_history(es, live)) if name != live and name in existing), None)


def prune_indices(es: Elasticsearch, alias: str, keep_previous: int) -> list[str]:
    """Delete all but the live index and the `keep_previous` newest existing indices of its switch
    history. Indices created after the live one are never deleted (a build may be loading them)."""
    live = alias_target(es, alias)
    indices = versioned_indices(es, alias)
    if live not in indices:
        return []
    history = [name for name in live_history(es, live) if name != live and name in indices]
    kept = {live, *history[-keep_previous:]} if keep_previous > 0 else {live}
    doomed = [name for name in indices[: indices.index(live)] if name not in kept]
    for name in doomed:
        es.indices.delete(index=name, ignore_unavailable=True)
    return doomed


def delete_index(es: Elasticsearch, index: str) -> None:
    es.indices.delete(index=index, ignore_unavailable=True)


def doc_count(es: Elasticsearch, index: str, kind: str = "article") -> int:
    """How many documents of `kind` ("article" or "passage") `index` holds, as last refreshed."""
    return int(es.count(index=index, query={"term": {"doc_type": kind}})["count"])


def index_stats(es: Elasticsearch, alias: str, index: str) -> dict[str, Any]:
    """What ops want to see at a glance: what is live, how big, built with which model."""
    counts = {kind: doc_count(es, index, kind) for kind in ("article", "passage")}
    store = es.indices.stats(index=index, metric="store")["indices"][index]["total"]["store"]["size_in_bytes"]
    meta = index_meta(es, index)
    return {
        "alias": alias,
        "index": index,
        "articles": counts["article"],
        "passages": counts["passage"],
        "size_bytes": store,
        "embedding_model": meta.get("embedding_model"),
        "dims": meta.get("dims"),
        "created": meta.get("created"),
        "indices": versioned_indices(es, alias),
    }


_T = TypeVar("_T")


def retried(call: Callable[[], _T], what: str, within: float) -> _T:
    """`call()`, tried again while it raises (Elasticsearch away), backing off from 1 s to 15 s, for up to
    `within` seconds; its last error is raised. `what` names the call in the warnings."""
    deadline = time.monotonic() + within
    pause = 1.0
    while True:
        try:
            return call()
        except Exception:
            if time.monotonic() + pause > deadline:
                raise
            log.warning("%s failed; trying again in %.0f s", what, pause, exc_info=True)
            time.sleep(pause)
            pause = min(pause * 2, 15.0)
