"""Dependencies the routes ask for with `Depends`; the lifespan in `service.main` creates them."""

from __future__ import annotations

from elasticsearch import AsyncElasticsearch, Elasticsearch
from fastapi import Request

from service.jobs import JobStore
from service.reindex import ReindexRunner
from service.search import Searcher
from service.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_es(request: Request) -> AsyncElasticsearch:
    return request.app.state.es


def get_searcher(request: Request) -> Searcher:
    return request.app.state.searcher


def get_es_sync(request: Request) -> Elasticsearch:
    """The synchronous client admin work uses from worker threads."""
    return request.app.state.es_sync


def get_store(request: Request) -> JobStore:
    return request.app.state.jobs


def get_runner(request: Request) -> ReindexRunner:
    return request.app.state.runner
