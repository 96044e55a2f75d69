package org.govsearch.es.smartcn;

import java.util.Map;

import org.apache.lucene.analysis.Analyzer;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;
import org.govsearch.es.jieba.JiebaTokenizerFactory;

/**
 * Entry point of the plugin: registers Lucene's smart Chinese (HMM) segmentation under the
 * <em>same names</em> as Elastic's official {@code analysis-smartcn} plugin.
 *
 * <p>Why our own plugin: the official one is not published to Maven Central, and the dev node is
 * built from registries only. Why the same names: {@code mappings/} must work unchanged on a
 * production cluster that has the official plugin installed instead of this one.
 *
 * <ul>
 *   <li>analyzer {@code smartcn}: {@link SmartcnAnalyzerProvider}</li>
 *   <li>tokenizer {@code smartcn_tokenizer}: {@link SmartcnTokenizerFactory}</li>
 *   <li>token filter {@code smartcn_stop}: {@link SmartcnStopTokenFilterFactory}</li>
 *   <li>legacy names kept by the official plugin for old indices: tokenizer
 *       {@code smartcn_sentence} (same segmenter) and token filter {@code smartcn_word}
 *       (a no-op: word splitting now happens in the tokenizer)</li>
 * </ul>
 *
 * <p>Besides, a name of our own that the official plugin does not have: tokenizer
 * {@code jieba_tokenizer} ({@link JiebaTokenizerFactory}), jieba's dictionary segmenter with a user
 * dictionary from the node's config directory. An index using it needs this plugin.
 */
public class SmartcnAnalysisPlugin extends Plugin implements AnalysisPlugin {

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        return Map.of("smartcn", SmartcnAnalyzerProvider::new);
    }

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of(
            "smartcn_tokenizer", SmartcnTokenizerFactory::new,
            "smartcn_sentence", SmartcnTokenizerFactory::new,
            "jieba_tokenizer", JiebaTokenizerFactory::new
        );
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            "smartcn_stop", SmartcnStopTokenFilterFactory::new,
            "smartcn_word", NoOpTokenFilterFactory::new
        );
    }
}
