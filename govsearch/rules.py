"""Text rules every reader and the query side share, so a sentence or a document number means
the same thing in the newsletter parser, the passage splitter, the index and the search box."""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

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


_INTERROGATIVES = ("什么时候|什么样|什么|怎么样|怎么办|怎么回事|怎么|怎样|咋样|咋办|咋回事|咋|啥时候|啥样|啥|干嘛|如何|"
                   "(?<!任)(?:为何|何时|何地|何处)|哪里|哪儿|哪[些个家位天年种类所]|谁|多少|多久|多长时间|几时")
_MODALS = "能会要是有可好对行用该需愿应知"
ASKING = re.compile(rf"[是有在为]?(?:{_INTERROGATIVES})|是否|能否|可否|可不可以|需不需要|愿不愿意|应不应该|知不知道"
                    rf"|([{_MODALS}])[不没]\1|[吗呢吧啊呀](?=\s|$)|[？?]")
"""The words of a question that ask rather than say what is asked about: the interrogative words (高考什么时候:
什么时候; 谁, 哪个, 多久, 为何 …; the colloquial 咋 and 啥 of 怎么 and 什么; 怎么回事; with the 是, 有, 在 or 为
before them: 垃圾分类是什么, 政策有哪些, 办事大厅在哪里, 为什么; not the 何 of 任何时候 or the 哪 of 哪吒), the
A-not-A forms of the modal verbs beside 是否 and 能否 (能不能, 有没有, 好不好, 可不可以, 需不需要 …) and a final
particle (吗, 呢, 吧, 啊, 呀)."""
_ASKED_WORD = re.compile(rf"(?![{_MODALS}])([{CJK}])不(?=\1[{CJK}])")
"""The A-not-A question of a word of two characters, AB: the 安不 of 安不安全, leaving the word (安全)."""


_VERBS = "了解|知道|查询|查|找|搜索|搜|看|打听|咨询|请教"
_WANTING = "帮我|帮忙|我想要|我想|我要|想要|想"
_LEAD = (rf"请问(?:一下)?|(?:麻烦|请)?问一?下|(?:请|麻烦)?(?:{_WANTING})(?:{_VERBS})(?:一下|下|一?[查看找问])?"
         rf"|(?:{_VERBS}|问)一下|(?:{_WANTING})问问?|(?:请|麻烦)?告诉我|关于")
_RESULTS = "新闻|消息|信息|报道|资讯|动态|文章"
_TAIL = (rf"(?:的|相关的?|有关的?|方面的?)(?:最新的?)?(?:{_RESULTS})|最新的?(?:{_RESULTS}|情况|进展)"
         r"|的(?:详细|具体)?(?:情况|内容)|的详情|的事情|(?:这件|这个|这)事(?:情|儿)?|相关|有关")
FRAMING = re.compile(rf"^(?:{_LEAD})|(?:{_TAIL})$")
"""The words that frame a search rather than say what it is for, where a part of the query starts or ends: a polite
or wanting lead (请问, 麻烦问下, 告诉我, 我想了解一下, 想知道, 帮我找找, 帮忙查查, 我想问问, 查一下, 打听一下,
咨询一下; a one-character verb only after 我想, 帮我 …: 查处 and 看病 stay; a leading 关于), words about the
results wanted, after 的, 相关, 有关, 方面 or 最新 (相关新闻, 的消息, 有关的文章, 方面的新闻, 的最新报道, 最新情况,
a final 相关), and about the matter itself (的情况, 的具体情况, 的详细内容, 的详情, 的事情, 这件事). Elsewhere they
stay: 新闻发布会, 信息安全, 工作动态, 执行情况, 群众的事."""


@functools.lru_cache(maxsize=1024)
def asked(q: str) -> str:
    """What a (normalised) query asks about: `q` without its asking words (`ASKING`; of 安不安全, the 安不:
    `_ASKED_WORD`), its parts split where they stood, without the words framing a part (`FRAMING`: 请问…, …相关新闻)
    and without a lone character they leave behind (做 of 垃圾分类怎么做, 交 of 个税怎么交; one the query typed as a
    part of its own stays); `q` itself when nothing else is left (什么, 相关新闻). Remembered per query: a search reads
    it for its clauses, its features and every hit's marks."""
    typed = set(q.split())
    parts = (FRAMING.sub("", part) for part in ASKING.sub(" ", _ASKED_WORD.sub("", q)).split())
    return " ".join(part for part in parts if len(part) > 1 or (part and part in typed)) or q


def find_doc_number(*texts: str | None) -> str | None:
    """The first official document number in the texts, tried in order, without spaces."""
    for text in texts:
        if text:
            match = DOC_NUMBER.search(text)
            if match:
                return re.sub(r"\s+", "", match[0])
    return None


# Not a place whose name starts with 镇 (镇江, 镇海区, 镇平县 …): short office names only, no 市/县/区/省 in them.
_TOWN_OFFICE = re.compile(r"^镇(?![江海宁远雄平安巴原坪康沅赉])(?=[^市县区省]{1,4}(?:办|中心|所|站|科|室|队|局)$)")


def office_name(department: str) -> str:
    """A town office's one name: 镇党群办 and 党群办 are one office, written with and without its town's 镇 (one
    facet value; the newsletter parser names departments so, and a department filter reads its values so)."""
    return _TOWN_OFFICE.sub("", department)


def office_spellings(department: str) -> tuple[str, ...]:
    """Every spelling a stored department of `department`'s office may have: its one name (`office_name`, what the
    newsletter parser writes), the value as given, and the one name with its town's 镇 (what a record, an admin write
    or an index built before the one name may hold): 党群办 → 党群办, 镇党群办."""
    one = office_name(department)
    return tuple(dict.fromkeys([one, department, *(["镇" + one] if office_name("镇" + one) == one else [])]))


def normalize_doc_number(value: str) -> str:
    """One spelling for 崇港委〔2022〕171号, whichever brackets, spaces and letter case were used:
    what the index stores and what an exact document-number query is compared with."""
    return re.sub(r"\s+", "", value.translate(_TO_OFFICIAL)).lower()


@functools.cache
def _to_simplified() -> Any:
    from opencc_purepy import OpenCC  # loads its dictionaries (~0.1 s): once, on first use

    return OpenCC("t2s")


def load_tables() -> None:
    """Load the traditional → simplified dictionaries now rather than on the first `normalize_text`
    (a server calls it at startup: `service.runtime.load_tables`)."""
    _to_simplified()


def _halfwidth(char: str) -> str:
    """A full-width letter or digit (ＡＢＣ１２３) as its ASCII form; anything else unchanged. Chinese
    punctuation (，。：（）) stays as written: the analyzers drop it anyway and readers expect it."""
    if "\uff00" <= char <= "\uffef":
        folded = unicodedata.normalize("NFKC", char)
        if len(folded) == 1 and folded.isalnum():
            return folded
    return char.replace("\u3000", " ")


# `_halfwidth` of every character it changes, for `str.translate` (a Python loop per character cost
# more than the rest of a passage's normalisation but OpenCC).
_HALFWIDTH = {ord(char): folded for char in map(chr, [*range(0xFF00, 0xFFF0), 0x3000])
              if (folded := _halfwidth(char)) != char}


def normalize_text(text: str) -> str:
    """One form for text the index stores and text a user searches: traditional characters as
    simplified (違章建築 → 违章建筑, OpenCC t2s), full-width letters and digits as ASCII (ＡＢＣ → ABC),
    the ideographic space as a space.

    Invariant: the result has exactly as many characters as `text`, position for position, so passage
    offsets (`char_start`/`char_end`) into the original body stay valid. Where OpenCC would change the
    length (a phrase mapping), characters are converted one by one instead.

    Simplified text stays as written: OpenCC's phrase rules also rewrite characters that are already
    simplified (opencc-purepy turns 结束 into 結束 and 显著 into 显着). A character of the simplified standard
    (GB 2312) is changed only next to one that is traditional beyond doubt (not in GB 2312), within
    `_PHRASE_REACH` characters: 乾淨 → 干净, but 乾坤, 结束 and 显著 are kept."""
    folded = text.translate(_HALFWIDTH)
    converter = _to_simplified()
    simplified: str = converter.convert(folded)
    if len(simplified) != len(folded):
        simplified = "".join(c if len(c := converter.convert(char)) == 1 else char for char in folded)
    if simplified == folded:
        return folded
    changed = [i for i, (old, new) in enumerate(zip(folded, simplified, strict=True)) if old != new]
    traditional = [i for i in changed if not simplified_standard(folded[i])]
    if len(traditional) == len(changed):
        return simplified
    kept = list(folded)
    for i in changed:
        if not simplified_standard(folded[i]) or any(abs(i - t) <= _PHRASE_REACH for t in traditional):
            kept[i] = simplified[i]
    return "".join(kept)


_PHRASE_REACH = 4
"""How far (in characters) a traditional character vouches for converting its neighbours: a phrase's length."""


@functools.lru_cache(maxsize=8192)
def simplified_standard(char: str) -> bool:
    """Whether `char` is in GB 2312, the simplified standard (traditional-only forms such as 結 and 髮 are not)."""
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def match_key(text: str) -> str:
    """The form in which a best bet's query and a searched query are compared: `normalize_text`, lower
    case, runs of spaces as one, no space at either end. Empty for text with nothing but spaces."""
    return " ".join(normalize_text(text).lower().split())
