"""Text rules every reader and the query side share, so a sentence or a document number means
the same thing in the newsletter parser, the passage splitter, the index and the search box."""

from __future__ import annotations

import re

CJK = "\u3400-\u4dbf\u4e00-\u9fff"
"""CJK Unified Ideographs and Extension A, as a regex character-class body."""

SENTENCE_END = "。！？!?；;…"
"""Characters that end a sentence."""

CLOSERS = "”’」』)）】》\"'"
"""Closing quotes and brackets that stay with the sentence end before them (……。”)."""

# 〔〕 is the official bracket of a document number; writers and users type every other kind.
_OPENING = "〔[［【(（﹝〖"
_CLOSING = "〕]］】)）﹞〗"
_TO_OFFICIAL = str.maketrans({**dict.fromkeys(_OPENING, "〔"), **dict.fromkeys(_CLOSING, "〕")})

DOC_NUMBER = re.compile(
    rf"[{CJK}]{{1,10}}\s*[{re.escape(_OPENING)}]\s*\d{{4}}\s*[{re.escape(_CLOSING)}]\s*第?\s*\d{{1,5}}\s*号"
)
"""An official document number as written in running text: 崇港委〔2022〕171号, 国办发(2017)47号."""


def find_doc_number(*texts: str | None) -> str | None:
    """The first official document number in the texts, tried in order, without spaces."""
    for text in texts:
        if text:
            match = DOC_NUMBER.search(text)
            if match:
                return re.sub(r"\s+", "", match[0])
    return None


def normalize_doc_number(value: str) -> str:
    """One spelling for 崇港委〔2022〕171号, whichever brackets, spaces and letter case were used:
    what the index stores and what an exact document-number query is compared with."""
    return re.sub(r"\s+", "", value.translate(_TO_OFFICIAL)).lower()
