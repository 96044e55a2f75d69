"""Soak test: a steady query load against an API subprocess while a full reindex runs, an article is
upserted every second, and Elasticsearch is stopped and started once (`python -m bench.soak`)."""
