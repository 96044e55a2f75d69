package org.govsearch.es.jieba;

import java.util.Locale;

import com.huaban.analysis.jieba.JiebaSegmenter;

import org.apache.lucene.analysis.Tokenizer;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.analysis.AbstractTokenizerFactory;

/**
 * The {@code jieba_tokenizer}: jieba's dictionary segmenter, with an optional user dictionary.
 *
 * <p>Settings:
 * <ul>
 *   <li>{@code user_dictionary}: a file under the node's config directory (e.g.
 *       {@code govsearch/userdict.txt}), one {@code word frequency} pair per line; see
 *       {@link UserDictionary} for the format and when it is read;</li>
 *   <li>{@code seg_mode}: {@code search} (default: one token per word) or {@code index} (also the
 *       dictionary words inside longer words, stacked at the word's position).</li>
 * </ul>
 * A bad setting or dictionary fails the index creation with a message naming it.
 */
public final class JiebaTokenizerFactory extends AbstractTokenizerFactory {

    private final JiebaSegmenter.SegMode mode;

    public JiebaTokenizerFactory(IndexSettings indexSettings, Environment env, String name, Settings settings) {
        super(indexSettings, settings, name);
        String segMode = settings.get("seg_mode", "search");
        try {
            this.mode = JiebaSegmenter.SegMode.valueOf(segMode.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("[seg_mode] of tokenizer [" + name + "] must be search or index, not [" + segMode + "]", e);
        }
        String dictionary = settings.get("user_dictionary");
        if (dictionary != null) {
            UserDictionary.load(env.configDir(), dictionary);
        }
    }

    @Override
    public Tokenizer create() {
        return new JiebaTokenizer(mode);
    }
}
