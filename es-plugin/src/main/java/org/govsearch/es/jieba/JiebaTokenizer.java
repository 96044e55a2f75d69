package org.govsearch.es.jieba;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import com.huaban.analysis.jieba.JiebaSegmenter;
import com.huaban.analysis.jieba.SegToken;

import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.analysis.tokenattributes.OffsetAttribute;
import org.apache.lucene.analysis.tokenattributes.PositionIncrementAttribute;

/**
 * A Lucene tokenizer over jieba's dictionary segmenter ({@link JiebaSegmenter}).
 *
 * <p>Invariants:
 * <ul>
 *   <li>Offsets are those of the input text (through {@link #correctOffset}, so char filters work):
 *       jieba maps characters one to one (full-width to half-width, upper to lower case), so a
 *       token's offsets always span exactly the characters it came from, and highlighting is right.</li>
 *   <li>Tokens come in order of start offset. Only tokens with a letter or a digit are emitted:
 *       jieba returns punctuation and whitespace as tokens of their own, and they are never terms.</li>
 *   <li>{@code SEARCH} mode: one token per word, each one position after the last. {@code INDEX}
 *       mode also emits the dictionary words inside a longer word (e.g. 疫情 and 防控 in 疫情防控)
 *       <em>at the same position</em> as that word (position increment 0), so phrase queries over
 *       the whole words still match.</li>
 * </ul>
 *
 * <p>jieba segments a whole string at once, so the input is read to the end on {@link #reset()};
 * the fields this serves are passages and titles, a few KB at most.
 */
final class JiebaTokenizer extends Tokenizer {

    /** Stateless apart from the JVM-wide dictionary, so one instance serves every tokenizer. */
    private static final JiebaSegmenter SEGMENTER = new JiebaSegmenter();

    private static final Comparator<SegToken> READING_ORDER =
        Comparator.<SegToken>comparingInt(t -> t.startOffset).thenComparing(t -> -(t.endOffset - t.startOffset));

    private final CharTermAttribute term = addAttribute(CharTermAttribute.class);
    private final OffsetAttribute offset = addAttribute(OffsetAttribute.class);
    private final PositionIncrementAttribute positionIncrement = addAttribute(PositionIncrementAttribute.class);

    private final JiebaSegmenter.SegMode mode;
    private final StringBuilder text = new StringBuilder();
    private final char[] buffer = new char[4096];
    private List<SegToken> tokens = List.of();
    private int next;
    /** End offset of the last token that took a position of its own. */
    private int wordEnd;

    JiebaTokenizer(JiebaSegmenter.SegMode mode) {
        this.mode = mode;
    }

    @Override
    public void reset() throws IOException {
        super.reset();
        text.setLength(0);
        for (int n = input.read(buffer); n != -1; n = input.read(buffer)) {
            text.append(buffer, 0, n);
        }
        List<SegToken> kept = new ArrayList<>();
        for (SegToken token : SEGMENTER.process(text.toString(), mode)) {
            if (hasLetterOrDigit(token.word)) {
                kept.add(token);
            }
        }
        kept.sort(READING_ORDER);
        tokens = kept;
        next = 0;
        wordEnd = -1;
    }

    @Override
    public boolean incrementToken() {
        if (next >= tokens.size()) {
            return false;
        }
        clearAttributes();
        SegToken token = tokens.get(next++);
        term.append(token.word);
        offset.setOffset(correctOffset(token.startOffset), correctOffset(token.endOffset));
        // Sorted by start, longest first: a token ending within the last whole word is a part of it.
        if (token.endOffset <= wordEnd) {
            positionIncrement.setPositionIncrement(0);
        } else {
            positionIncrement.setPositionIncrement(1);
            wordEnd = token.endOffset;
        }
        return true;
    }

    @Override
    public void end() throws IOException {
        super.end();
        int last = correctOffset(text.length());
        offset.setOffset(last, last);
    }

    @Override
    public void close() throws IOException {
        super.close();
        tokens = List.of();
        text.setLength(0);
    }

    private static boolean hasLetterOrDigit(String word) {
        for (int i = 0; i < word.length(); i++) {
            if (Character.isLetterOrDigit(word.charAt(i))) {
                return true;
            }
        }
        return false;
    }
}
