"""Relevance benchmark: judged queries over the sample corpus, run through the search API.

`python -m bench.relevance --help` explains the command; `metrics` holds the
metric functions, `judged` the judged set, `runner` the index building and the
API calls, `report` the console and Markdown/PNG output.
"""
