package org.govsearch.es.smartcn;

import org.apache.lucene.analysis.TokenStream;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;

/**
 * {@code smartcn_word}: a filter that passes tokens through unchanged. Lucene once split words in
 * a separate filter; that now happens in the tokenizer, and the official plugin keeps the old
 * name as a no-op so that old index settings still load. We keep it for the same reason.
 */
final class NoOpTokenFilterFactory extends AbstractTokenFilterFactory {

    NoOpTokenFilterFactory(IndexSettings indexSettings, Environment env, String name, Settings settings) {
        super(name, settings);
    }

    @Override
    public TokenStream create(TokenStream tokenStream) {
        return tokenStream;
    }
}
