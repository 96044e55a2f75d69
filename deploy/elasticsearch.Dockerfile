# The official Elasticsearch image (same version as the dev node) with Elastic's official
# analysis-smartcn plugin: it registers the same analyzer names (smartcn, smartcn_tokenizer,
# smartcn_stop) as the project's own dev plugin, so mappings/ is shared unchanged.
ARG ES_VERSION=8.19.9
FROM docker.elastic.co/elasticsearch/elasticsearch:${ES_VERSION}
RUN bin/elasticsearch-plugin install --batch analysis-smartcn
