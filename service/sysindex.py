"""System indices the API creates on first use (search log, best bets), from the async client."""

from __future__ import annotations

from elasticsearch import AsyncElasticsearch

from indexer.elastic import system_index_body, system_mapping_update


async def ensure_system_index(es: AsyncElasticsearch, index: str, mapping: str) -> None:
    """`indexer.elastic.ensure_system_index` for the async client: create `index` from
    `mappings/<mapping>.json` unless it exists, else give it the file's fields; a racing creator is not an error."""
    if await es.indices.exists(index=index):
        if (update := system_mapping_update(es, index, mapping)) is not None:
            await es.indices.put_mapping(index=index, **update)
        return
    try:
        await es.indices.create(index=index, **system_index_body(mapping))
    except Exception:  # another replica created it first
        if not await es.indices.exists(index=index):
            raise
