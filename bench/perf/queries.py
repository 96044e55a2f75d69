"""The query mix: short queries the way citizens type them into a government site's search box.

Four kinds, so the timings are not all one shape: the exact words an article uses, names of people,
places and projects, whole questions, and colloquial paraphrases that share few words with the
articles (those are what the vector side is for). The index the queries run against is national
news (xwlb) when available, so the topics lean national; the register is a citizen's.
"""

from __future__ import annotations

import random
from pathlib import Path

EXACT_WORDS = [
    "安全生产检查",
    "乡村振兴",
    "垃圾分类",
    "河长制",
    "精准扶贫",
    "疫情防控",
    "高考",
    "养老保险",
    "医保异地结算",
    "新能源汽车",
    "粮食安全",
    "防汛抗旱",
    "农村人居环境整治",
    "减税降费",
    "食品安全",
    "一带一路",
    "冬奥会",
    "空气质量",
    "春运",
    "棚户区改造",
]

NAMES = [
    "习近平 考察",
    "李克强 国务院常务会议",
    "雄安新区",
    "港珠澳大桥",
    "长江经济带",
    "粤港澳大湾区",
    "嫦娥四号",
    "北斗导航",
    "天宫二号",
    "上海自贸区",
]

QUESTIONS = [
    "退休金今年涨了多少",
    "农民工工资拖欠怎么办",
    "怎样申请廉租房",
    "个人所得税起征点提高到多少",
    "孩子上学难怎么解决",
    "新冠疫苗什么时候可以打",
    "二孩政策什么时候放开",
    "高速公路节假日免费吗",
    "如何办理异地就医备案",
    "大学生毕业找工作有什么补贴",
]

PARAPHRASES = [
    "给老人装电视",
    "村里修路",
    "看病贵看病难",
    "房价太高买不起房",
    "下岗再就业",
    "农村厕所改造",
    "山区孩子吃午饭",
    "老旧小区加装电梯",
    "网上办事少跑腿",
    "雾霾治理",
    "地震救灾",
    "洪水受灾群众安置",
    "农产品卖不出去",
    "快递进村",
    "小微企业贷款难",
]

QUERIES: list[str] = EXACT_WORDS + NAMES + QUESTIONS + PARAPHRASES


def kind_of(query: str) -> str:
    for name, group in (("exact", EXACT_WORDS), ("name", NAMES), ("question", QUESTIONS),
                        ("paraphrase", PARAPHRASES)):
        if query in group:
            return name
    return "other"


def distinct(seed: int = 0) -> list[str]:
    """Every query once, in a fixed shuffled order (the kinds interleaved)."""
    queries = list(QUERIES)
    random.Random(seed).shuffle(queries)
    return queries


def mix(n: int, seed: int = 1) -> list[str]:
    """`n` queries drawn with repeats, popular ones more often (Zipf-like, s = 0.8), as search
    logs look: a few topics of the day asked again and again, a long tail asked once or twice."""
    rng = random.Random(seed)
    ranked = distinct(seed)
    weights = [1.0 / (rank ** 0.8) for rank in range(1, len(ranked) + 1)]
    return rng.choices(ranked, weights=weights, k=n)


UNSEEN_MAX_CHARS = 12
"""The longest xwlb keyword query `unseen` takes."""


def unseen(n: int, xwlb: Path | None = None, seed: int = 0) -> list[str]:
    """Up to `n` distinct queries outside the mix, for cold cells that need more queries than the mix has
    (a 16-client cell of 55 requests is mostly ramp-up and tail, not throughput).

    First the judged set's queries (`bench/relevance/queries.json`: township queries of seven kinds), then,
    when the xwlb corpus directory `xwlb` is given, its editors' keywords of the training years asked as
    known-item queries are (`bench.relevance.known_item.tags_query`; never a held-out year) where they are
    as short as typed queries (at most UNSEEN_MAX_CHARS characters; the mix averages 6, the judged set 7.5),
    each list shuffled with `seed`. Fewer than `n` when the sources run out."""
    from bench.relevance import judged, known_item
    from govsearch.splits import TRAIN_YEARS

    rng = random.Random(seed)
    taken = set(QUERIES)
    out: list[str] = []

    def take(candidates: list[str]) -> None:
        rng.shuffle(candidates)
        for q in candidates:
            if len(out) < n and q not in taken:
                taken.add(q)
                out.append(q)

    take([query.query for query in judged.load()])
    if xwlb is not None and xwlb.is_dir() and len(out) < n:
        take([q for record in known_item.read_records(xwlb, TRAIN_YEARS)
              if (q := known_item.tags_query(record)) is not None and len(q) <= UNSEEN_MAX_CHARS])
    return out


def partition(queries: list[str], parts: int) -> list[list[str]]:
    """Split into `parts` disjoint groups (round robin), for cold-cache cells that must not share queries."""
    return [queries[i::parts] for i in range(parts)]
