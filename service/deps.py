"""Dependencies the routes ask for with `Depends`; the lifespan in `service.main` creates them."""

from __future__ import annotations

from elasticsearch import AsyncElasticsearch
from fastapi import Request

from service.search import Searcher
from service.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_es(request: Request) -> AsyncElasticsearch:
    return request.app.state.es


def get_searcher(request: Request) -> Searcher:
    return request.app.state.searcher
