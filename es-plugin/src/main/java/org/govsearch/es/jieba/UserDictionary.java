package org.govsearch.es.jieba;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

import com.huaban.analysis.jieba.WordDictionary;

/**
 * Adds a user dictionary to jieba's dictionary.
 *
 * <p>Format (what jieba reads, checked here first because jieba itself skips an unreadable file
 * silently and would take a comment line for a word): UTF-8, one entry per line,
 * {@code word frequency [part-of-speech]} separated by spaces or tabs, the frequency a positive
 * number on the scale of jieba's own dictionary (a word beats the split into its parts when its
 * frequency is high against theirs). No blank or comment lines.
 *
 * <p>Invariants: jieba's dictionary is one per JVM, so every {@code jieba_tokenizer} of the node
 * segments with its bundled dictionary plus <em>every</em> user dictionary loaded so far; a file is
 * read once per JVM (the first index that names it), so an edited dictionary takes effect after a
 * node restart, and documents indexed before it keep their old tokens until reindexed. The file
 * must lie inside the config directory.
 */
final class UserDictionary {

    private static final Pattern ENTRY = Pattern.compile("[^\\s]+[ \\t]+[0-9]+(\\.[0-9]+)?([ \\t]+[A-Za-z]+)?");

    /** Absolute paths already added to jieba's dictionary. */
    private static final Set<Path> LOADED = new HashSet<>();

    private UserDictionary() {}

    static synchronized void load(Path configDir, String relative) {
        Path config = configDir.toAbsolutePath().normalize();
        Path file = config.resolve(relative).normalize();
        if (file.startsWith(config) == false) {
            throw new IllegalArgumentException("[user_dictionary] must be a file under the config directory, not [" + relative + "]");
        }
        if (LOADED.contains(file)) {
            return;
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read [user_dictionary] [" + relative + "] (" + file + "): " + e, e);
        }
        for (int i = 0; i < lines.size(); i++) {
            if (ENTRY.matcher(lines.get(i)).matches() == false) {
                throw new IllegalArgumentException("[user_dictionary] " + relative + " line " + (i + 1)
                    + ": expected `word frequency [tag]`, got [" + lines.get(i) + "]");
            }
        }
        WordDictionary.getInstance().loadUserDict(file, StandardCharsets.UTF_8);
        LOADED.add(file);
    }
}
