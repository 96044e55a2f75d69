"""The neutral core of gov-search: what the indexer, the service, the benchmarks and the tests share.

It imports neither `indexer` nor `service`; both import it. One concept, one module:

- `paths`     where the project, its data and the shared corpus are
- `settings`  every knob, read once from the environment
- `schema`    the article and passage fields, defined once; Elasticsearch source fields and the API
              models are derived from them
- `rules`     text rules every reader shares: CJK ranges, sentence ends, official document numbers
- `actions`   an article → its Elasticsearch bulk actions, with the bulk settings
- `apiprocess` the API as a uvicorn subprocess on a loopback port (tests and benchmarks)
"""
