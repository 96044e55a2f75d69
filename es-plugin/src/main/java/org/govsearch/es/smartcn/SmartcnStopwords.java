package org.govsearch.es.smartcn;

import java.util.Map;
import java.util.Set;

import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.cn.smart.SmartChineseAnalyzer;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.analysis.Analysis;

/**
 * The one place that reads the {@code stopwords} / {@code stopwords_path} settings, so the
 * analyzer and the {@code smartcn_stop} filter understand them the same way.
 *
 * <p>Default: Lucene's smartcn stop set (punctuation and symbols, so they do not become terms).
 * {@code "_smartcn_"} names that set explicitly (e.g. to combine it with extra words) and
 * {@code "_none_"} disables stop words, as with Elasticsearch's own language analyzers.
 */
final class SmartcnStopwords {

    /** Name under which the default set can be referenced in a {@code stopwords} list. */
    static final String DEFAULT_SET_NAME = "_smartcn_";

    private SmartcnStopwords() {}

    static CharArraySet parse(Environment env, Settings settings) {
        CharArraySet defaults = SmartChineseAnalyzer.getDefaultStopSet();
        Map<String, Set<?>> named = Map.of(DEFAULT_SET_NAME, defaults);
        return Analysis.parseWords(env, settings, "stopwords", defaults, named, settings.getAsBoolean("ignore_case", false));
    }
}
