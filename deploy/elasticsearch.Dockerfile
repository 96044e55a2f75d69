# The official Elasticsearch image (same version as the dev node) with the project's own analysis
# plugin (es-plugin/), built here from source: it registers the names of Elastic's analysis-smartcn
# (smartcn, smartcn_tokenizer, smartcn_stop; same Lucene segmenter, so mappings/ is shared unchanged)
# plus jieba_tokenizer, whose user dictionary (mappings/userdict.txt) goes where the mappings name it,
# config/govsearch/userdict.txt. Build context: the repository root (docker-compose.yml).
ARG ES_VERSION=8.19.9

FROM maven:3.9-eclipse-temurin-17 AS plugin
WORKDIR /build
COPY es-plugin/pom.xml es-plugin/pom.xml
COPY es-plugin/src es-plugin/src
RUN mvn -B -q -f es-plugin/pom.xml package

FROM docker.elastic.co/elasticsearch/elasticsearch:${ES_VERSION}
COPY --from=plugin /build/es-plugin/target/releases/ /tmp/es-plugin/
RUN bin/elasticsearch-plugin install --batch "file://$(ls /tmp/es-plugin/analysis-smartcn-govsearch-*.zip)" \
    && rm -rf /tmp/es-plugin
COPY --chown=elasticsearch:root mappings/userdict.txt config/govsearch/userdict.txt
