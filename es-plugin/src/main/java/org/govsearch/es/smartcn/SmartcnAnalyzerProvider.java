package org.govsearch.es.smartcn;

import org.apache.lucene.analysis.cn.smart.SmartChineseAnalyzer;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;

/**
 * The {@code smartcn} analyzer: Lucene's {@link SmartChineseAnalyzer} as it is, i.e. the HMM word
 * segmenter, Porter stemming for the English words mixed into Chinese text, and the smartcn stop
 * set. Delegating to Lucene's class (rather than re-assembling the chain) keeps the behaviour
 * identical to the official plugin's, which is what lets an index built on the dev node and one
 * built on production agree token for token.
 *
 * <p>One analyzer instance is shared by all fields of an index, as Lucene analyzers are
 * thread-safe and reuse their components per thread.
 */
final class SmartcnAnalyzerProvider extends AbstractIndexAnalyzerProvider<SmartChineseAnalyzer> {

    private final SmartChineseAnalyzer analyzer;

    SmartcnAnalyzerProvider(IndexSettings indexSettings, Environment env, String name, Settings settings) {
        super(name, settings);
        this.analyzer = new SmartChineseAnalyzer(SmartcnStopwords.parse(env, settings));
    }

    @Override
    public SmartChineseAnalyzer get() {
        return analyzer;
    }
}
