"""Files and directories → articles: pages, JSONL records, and bad data reported instead of raised."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from govsearch.paths import SAMPLE_CORPUS
from indexer.newsletter import parse_newsletter
from indexer.sources import ReadReport, read_sources, source_name

SAMPLE = SAMPLE_CORPUS


def _record(**fields: object) -> str:
    return json.dumps(fields, ensure_ascii=False)


def test_the_sample_directory_reads_like_parsing_each_page() -> None:
    report = ReadReport()
    articles = list(read_sources([SAMPLE], report))
    expected = [a.model_copy(update={"origin": source_name(path)}) for path in sorted(SAMPLE.glob("*.txt"))
                for a in parse_newsletter(path.read_text(encoding="utf-8"), source_name(path))]
    assert articles == expected
    assert (report.files_read, report.files_skipped, report.articles, report.problems) == (5, 0, len(expected), [])


def test_jsonl_records_load_and_bad_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join([
        _record(id="gwr-1", title="2026年上海市政府工作报告", date="2026-02-09", source="上海市人民政府",
                url="https://example.org/1", body="各位代表：\n  现在，我代表市人民政府报告工作。  \n\n谢谢。",
                level="provincial"),
        '{"id": "bad", "title": "断了的记录", "body": "正文',
        _record(id="xw-2", title="没有正文的记录", date="2012-07-02"),
        "",
        _record(id="xw-3", title="古巴领导人将访华", date="2025", source="央视《新闻联播》", body="本台消息，……。"),
        "[1, 2, 3]",
        _record(id="xw-4", title="", body="有正文没有标题。"),
        _record(title="没有编号的记录", body="第一条。"),
        _record(title="没有编号的记录", body="第二条，标题相同。"),
    ]) + "\n", encoding="utf-8")
    report = ReadReport()
    articles = list(read_sources([path], report))

    assert [a.title for a in articles] == ["2026年上海市政府工作报告", "古巴领导人将访华", "没有编号的记录", "没有编号的记录"]
    skipped = [p for p in report.problems if not p.kept]
    assert [(p.path, p.line) for p in skipped] == [(str(path), 2), (str(path), 3), (str(path), 6), (str(path), 7)]
    reasons = [p.reason for p in skipped]
    assert reasons[0].startswith("invalid JSON") and "body" in reasons[1] and "title" in reasons[3]
    assert (report.files_read, report.records_read, report.records_skipped, report.articles) == (1, 4, 4, 4)
    # Indexed, with what was not read said once per file: an unknown field, a date that is no day.
    assert [(p.line, p.reason) for p in report.problems if p.kept] == [
        (None, "fields not read (not record fields): level (1 record)"),
        (5, "date '2025' is not a day (YYYY-MM-DD, 2024年3月5日, 20240305, …): indexed without a date")]

    report_article = articles[0]
    assert report_article.body == "各位代表：\n现在，我代表市人民政府报告工作。\n谢谢。"
    assert (report_article.date, report_article.source, report_article.url) == (
        "2026-02-09", "上海市人民政府", "https://example.org/1")
    assert report_article.publisher == "上海市人民政府"  # a government source is the publisher
    news = articles[1]
    assert news.date is None  # "2025" is a year, not a day: never padded into one
    assert news.publisher is None and news.source == "央视《新闻联播》"
    assert articles[2].source == str(path)  # no source field: the file is the source
    assert len({a.article_id for a in articles}) == 4
    assert [a.article_id for a in read_sources([path], ReadReport())] == [a.article_id for a in articles]


def test_record_ids_follow_the_record_not_the_file(tmp_path: Path) -> None:
    line = _record(id="xwlb-VIDE1", title="标题", body="正文。") + "\n"
    (tmp_path / "a.jsonl").write_text(line, encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(line, encoding="utf-8")
    report = ReadReport()
    (article,) = read_sources([tmp_path], report)  # the same record copied elsewhere is one article
    assert article.article_id == next(iter(read_sources([tmp_path / "b.jsonl"], ReadReport()))).article_id
    assert report.records_skipped == 1 and "b.jsonl" in report.problems[0].path
    assert "a.jsonl" in report.problems[0].reason


def test_a_repeated_id_keeps_the_first_record_whole_and_reports_the_second(tmp_path: Path) -> None:
    """Indexed both, the short second version would replace the article document and passage 0 only, leaving
    the long first version's passages 1… searchable under the second one's title."""
    path = tmp_path / "news.jsonl"
    path.write_text(_record(id="dup-x", title="长文章第一版", body="第一句。" * 400) + "\n"
                    + _record(id="dup-x", title="短文章第二版", body="只有一句。") + "\n", encoding="utf-8")
    report = ReadReport()
    (article,) = read_sources([path], report)
    assert article.title == "长文章第一版" and report.articles == 1 and report.records_skipped == 1
    assert report.records_read == 1  # the second is counted once, as skipped
    (problem,) = report.problems
    assert "短文章第二版" in problem.reason and "skipped" in problem.reason
    assert problem.line == 2 and f"read before from {path} line 1:" in problem.reason  # both records located


def test_a_date_in_the_future_is_dropped_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text(_record(id="a", title="定时发布的通知", date="2099-12-31", body="正文。") + "\n"
                    + _record(id="b", title="今天的通知", date=date.today().isoformat(), body="正文。") + "\n",
                    encoding="utf-8")
    report = ReadReport()
    future, today = read_sources([path], report)
    assert (future.date, today.date) == (None, date.today().isoformat())
    (note,) = report.problems
    assert note.kept and "2099-12-31, in the future: indexed without a date" in note.reason and note.line == 1


def test_a_file_named_twice_in_the_sources_is_read_once(tmp_path: Path) -> None:
    (tmp_path / "news.jsonl").write_text(_record(id="x", title="标题", body="正文。") + "\n", encoding="utf-8")
    report = ReadReport()
    (article,) = read_sources([tmp_path, tmp_path / "news.jsonl", f"{tmp_path}/./news.jsonl"], report)
    assert (report.files_read, report.records_read, report.records_skipped, report.problems) == (1, 1, 0, [])


def test_a_record_elasticsearch_would_refuse_is_reported_with_its_line_and_skipped(tmp_path: Path) -> None:
    """A label too long for a keyword, or half of an emoji (valid JSON, no UTF-8 text): one bad record must not
    fail the build's bulk request nor crash the read."""
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join([
        _record(id="a", title="正常的记录", body="正文。"),
        _record(id="b", title="部门过长", body="正文。", department="党群办" * 400),
        '{"id": "c", "title": "截断的表情\\ud83d", "body": "正文。"}',
        _record(id="d", title="也正常", body="正文。"),
    ]) + "\n", encoding="utf-8")
    report = ReadReport()
    assert [a.title for a in read_sources([path], report)] == ["正常的记录", "也正常"]
    assert [(p.line, p.reason) for p in report.problems] == [
        (2, "department is 1,200 characters long: at most 200"),
        (3, "title holds an unpaired surrogate (\\ud83d, half of an emoji?) at 5")]
    assert (report.records_read, report.records_skipped) == (2, 2)


PAGE = "港西镇召开安全生产工作会议\n\n会议要求各村居做好安全生产检查工作，落实责任。\n"


def test_what_a_record_holds_that_is_not_read_is_noted_once_per_file(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(_record(id=str(i), title=f"记录{i}", body="正文。", **fields) for i, fields in enumerate([
        {"date": "二〇二四年三月五日", "tags": ["安全"]}, {"date": 20240305, "tags": ["安全"]},
        {"date": "２０２４－０３－０５", "publish_date": "2024-03-05"}, {"date": "03/05/2024", "town": 123},
        {"date": "2024年13月1日"}])) + "\n", encoding="utf-8")
    report = ReadReport()
    articles = list(read_sources([path], report))
    assert [a.date for a in articles] == ["2024-03-05", "2024-03-05", "2024-03-05", None, None]
    assert all(p.kept for p in report.problems) and [(p.line, p.reason) for p in report.problems] == [
        (None, "fields not read (not record fields): publish_date (1 record), tags (2 records)"),
        (None, "fields not read (not text): town (1 record)"),
        (4, "date '03/05/2024' is not a day (YYYY-MM-DD, 2024年3月5日, 20240305, …): indexed without a date; "
            "1 more record like it")]


def test_pages_in_the_encodings_editors_save_are_read(tmp_path: Path) -> None:
    """GBK (as GB18030), UTF-16 with its mark, UTF-8 with a BOM, and an HTML page declaring gb2312."""
    (tmp_path / "a_gbk.txt").write_bytes(PAGE.encode("gbk"))
    (tmp_path / "b_utf16.txt").write_bytes(PAGE.encode("utf-16"))
    (tmp_path / "c_bom.txt").write_bytes(PAGE.encode("utf-8-sig"))
    (tmp_path / "d_gb2312.html").write_bytes(
        ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>'
         '<h1>港西镇召开安全生产工作会议</h1><p>会议要求各村居做好安全生产检查工作，落实责任。</p></body></html>').encode("gb2312"))
    report = ReadReport()
    articles = list(read_sources([tmp_path], report))
    assert [a.title for a in articles] == ["港西镇召开安全生产工作会议"] * 4 and report.problems == []
    assert {a.body for a in articles} == {"会议要求各村居做好安全生产检查工作，落实责任。"}


def test_an_undecodable_file_is_reported_and_skipped(tmp_path: Path) -> None:
    damaged = bytearray((PAGE * 20).encode("utf-8"))
    damaged[40] = 0xFF  # one bad byte in a UTF-8 file: refused, never read as GB18030 mojibake
    (tmp_path / "a_damaged.txt").write_bytes(bytes(damaged))
    (tmp_path / "b_good.txt").write_text("港西镇召开会议\n\n会议内容。\n", encoding="utf-8")
    (tmp_path / "c_bad_line.jsonl").write_bytes(b'{"title": "\xff\xfe", "body": "x"}\n'
                                                + _record(title="好的", body="正文。").encode() + b"\n")
    (tmp_path / "d_binary.txt").write_bytes(bytes(range(256)) * 4)
    report = ReadReport()
    articles = list(read_sources([tmp_path], report))
    assert [a.title for a in articles] == ["港西镇召开会议", "好的"]
    assert [(Path(p.path).name, p.line) for p in report.problems] == [
        ("a_damaged.txt", None), ("c_bad_line.jsonl", 1), ("d_binary.txt", None)]
    assert "not UTF-8 text" in report.problems[0].reason and "damaged" in report.problems[0].reason
    assert "neither UTF-8 nor GB18030" in report.problems[2].reason
    assert (report.files_read, report.files_skipped, report.records_skipped) == (2, 2, 1)


def test_files_of_other_kinds_are_named_in_the_report(tmp_path: Path) -> None:
    (tmp_path / "notice.txt").write_text("港西镇召开会议\n\n会议内容。\n", encoding="utf-8")
    for name in ("scan.pdf", "photo.jpg", "README", "draft.docx"):
        (tmp_path / name).write_bytes(b"x")
    report = ReadReport()
    assert len(list(read_sources([tmp_path], report))) == 1
    assert sorted(Path(p.path).name for p in report.problems) == ["README", "draft.docx", "photo.jpg", "scan.pdf"]
    assert all(p.reason.startswith("not read: only .htm, .html, .txt pages") for p in report.problems)
    assert report.files_skipped == 4


def test_directories_are_walked_recursively_in_sorted_order(tmp_path: Path) -> None:
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    (tmp_path / "a").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "b" / "deeper" / "page.txt").write_text("深处的文章\n\n内容。\n", encoding="utf-8")
    (tmp_path / "b" / "records.jsonl").write_text(_record(id="r1", title="记录文章", body="内容。") + "\n",
                                                  encoding="utf-8")
    (tmp_path / "a" / "page.html").write_text(
        "<html><head><title>网页</title><style>p {color: red}</style></head><body>"
        "<h1>网页中的文章</h1><p>第一段，\n接着写。</p><p>第二段。</p></body></html>", encoding="utf-8")
    (tmp_path / "a" / "notes.md").write_text("# not a source\n", encoding="utf-8")
    (tmp_path / ".hidden" / "secret.txt").write_text("不该读到\n\n内容。\n", encoding="utf-8")
    report = ReadReport()
    articles = list(read_sources([tmp_path, tmp_path / "missing"], report))
    assert [a.title for a in articles] == ["网页中的文章", "深处的文章", "记录文章"]
    assert articles[0].body == "第一段，接着写。\n第二段。" and "color" not in articles[0].body
    assert (report.files_read, report.files_skipped, report.articles) == (3, 2, 3)  # notes.md and missing
    assert [(p.path, p.reason.split(":")[0]) for p in report.problems] == [
        (str(tmp_path / "a" / "notes.md"), "not read"), (str(tmp_path / "missing"), "no such file or directory")]


def test_reading_streams_one_file_at_a_time(tmp_path: Path) -> None:
    for name in ("1.jsonl", "2.jsonl"):
        (tmp_path / name).write_text(
            "".join(_record(id=f"{name}-{i}", title=f"标题{i}", body="正文。") + "\n" for i in range(3)),
            encoding="utf-8")
    report = ReadReport()
    stream = read_sources([tmp_path], report)
    next(stream)
    assert (report.files_read, report.records_read) == (1, 1)  # nothing beyond the first record was read
    assert len(list(stream)) == 5 and report.files_read == 2


def test_article_ids_do_not_depend_on_how_the_source_path_is_written(monkeypatch) -> None:
    from govsearch.paths import PROJECT_ROOT

    monkeypatch.chdir(PROJECT_ROOT)
    spellings = ["data/sample", "./data/sample/", str(PROJECT_ROOT / "data" / "sample"), "data/../data/sample"]
    ids = [sorted(a.article_id for a in read_sources([Path(s)], ReadReport())) for s in spellings]
    assert all(found == ids[0] for found in ids) and ids[0]


def test_symbolic_links_inside_a_source_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("不该公开的文章\n\n内容。\n", encoding="utf-8")
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "page.txt").write_text("可以公开的文章\n\n内容。\n", encoding="utf-8")
    (root / "escape").symlink_to(outside, target_is_directory=True)  # leads outside the root
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)  # leads back into itself
    (root / "file-link.txt").symlink_to(outside / "secret.txt")
    report = ReadReport()
    articles = list(read_sources([root], report))
    assert [a.title for a in articles] == ["可以公开的文章"]
    assert sorted(p.path for p in report.problems) == sorted(
        str(root / name) for name in ("escape", "file-link.txt", "sub/loop"))
    assert {p.reason for p in report.problems} == {"symbolic link, not followed"}


CMS_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>港西镇开展消防演练_港西镇人民政府</title></head><body>
<div class="header"><img src="logo.png" alt="港西镇人民政府"><div class="search"><input type="text"><button>搜索</button></div></div>
<ul class="nav"><li><a href="/">首页</a></li><li><a href="/zwgk">政务公开</a></li><li><a href="/bsfw">办事服务</a></li></ul>
<div class="crumb">当前位置：<a href="/">首页</a> &gt; 工作动态</div>
<div class="article"><h2 class="title">港西镇开展消防演练</h2>
<div class="info">发布时间：2024-03-05 来源：港西镇人民政府 浏览次数：<span>128</span></div>
<div class="content"><p>3月5日上午，港西镇在镇敬老院开展消防应急疏散演练，60余人参加。</p>
<table><tr><th>村名</th><th>得分</th></tr><tr><td>团结村</td><td>95</td></tr><tr><td>北双村</td><td>92</td></tr></table>
<p>演练中，工作人员按照预案迅速组织老人疏散。</p></div>
<div class="share">分享到：<a>微信</a></div><div class="prevnext"><p>上一篇：港西镇召开安全生产工作会议</p></div></div>
<div class="footer"><p>主办单位：上海市崇明区港西镇人民政府</p><p>地址：上海市崇明区港西镇北双公路1185号</p></div>
</body></html>"""


def test_a_cms_page_gives_its_article_without_the_site_around_it(tmp_path: Path) -> None:
    """Navigation, search box, breadcrumb, share links and footer are the site's; a table's rows stay rows."""
    (tmp_path / "page.html").write_text(CMS_PAGE, encoding="utf-8")
    report = ReadReport()
    [article] = read_sources([tmp_path], report)
    assert (article.title, article.date, article.publisher) == ("港西镇开展消防演练", "2024-03-05", "港西镇人民政府")
    assert article.body.splitlines() == ["3月5日上午，港西镇在镇敬老院开展消防应急疏散演练，60余人参加。",
                                         "村名；得分；", "团结村；95；", "北双村；92；", "演练中，工作人员按照预案迅速组织老人疏散。"]
    assert report.problems == []


def test_a_json_array_and_an_html_body_are_read_as_their_records_and_text(tmp_path: Path) -> None:
    (tmp_path / "export.json").write_text(json.dumps([
        {"id": "a", "title": "港西镇开展春季植树活动", "body": "3月5日，港西镇组织开展春季植树活动。"},
        {"id": "b", "title": "正文带HTML", "body": "<p>港西镇&nbsp;召开会议&amp;部署工作。</p><script>alert(1)</script>"
                                                 "<p>第二段&#x4E2D;文。</p>"},
        {"id": "c", "title": 12345, "body": "正文。"},
        {"id": "d", "title": "列表正文", "body": ["第一段。", "第二段。"]},
    ], ensure_ascii=False, indent=2), encoding="utf-8")
    report = ReadReport()
    articles = list(read_sources([tmp_path], report))
    assert [a.title for a in articles] == ["港西镇开展春季植树活动", "正文带HTML"]
    assert articles[1].body == "港西镇 召开会议&部署工作。\n第二段中文。"  # no tags, no script, entities read
    assert [(p.line, p.reason) for p in report.problems] == [  # the array's items, numbered from 1
        (3, "record's title is not text (int: '12345')"), (4, "record's body is not text (list: \"['第一段。', '第二段。']\")")]
