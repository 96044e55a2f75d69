package org.govsearch.es.smartcn;

import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.cn.smart.HMMChineseTokenizer;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.analysis.AbstractTokenizerFactory;

/**
 * The {@code smartcn_tokenizer}: splits text into sentences, then each sentence into words with
 * smartcn's hidden Markov model and its bundled dictionaries. Exposed on its own so that custom
 * analyzers can add their own filters (synonyms, lowercase, ...) after the segmenter.
 *
 * <p>The dictionaries are read once per JVM from the smartcn jar's own resources, so the plugin
 * needs no file access and no entitlement policy.
 */
final class SmartcnTokenizerFactory extends AbstractTokenizerFactory {

    SmartcnTokenizerFactory(IndexSettings indexSettings, Environment env, String name, Settings settings) {
        super(indexSettings, settings, name);
    }

    @Override
    public Tokenizer create() {
        return new HMMChineseTokenizer();
    }
}
