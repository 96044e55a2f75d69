package org.govsearch.es.smartcn;

import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.StopFilter;
import org.apache.lucene.analysis.TokenStream;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;

/**
 * The {@code smartcn_stop} filter: removes smartcn's stop set (punctuation the tokenizer emits as
 * tokens) in a custom analyzer built on {@code smartcn_tokenizer}. Accepts {@code stopwords},
 * {@code stopwords_path} and {@code ignore_case} like the official filter; see
 * {@link SmartcnStopwords}.
 */
final class SmartcnStopTokenFilterFactory extends AbstractTokenFilterFactory {

    private final CharArraySet stopWords;

    SmartcnStopTokenFilterFactory(IndexSettings indexSettings, Environment env, String name, Settings settings) {
        super(name, settings);
        this.stopWords = SmartcnStopwords.parse(env, settings);
    }

    @Override
    public TokenStream create(TokenStream tokenStream) {
        return new StopFilter(tokenStream, stopWords);
    }
}
