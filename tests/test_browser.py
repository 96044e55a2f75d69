"""The search page, the article view and the portal widget in a real browser (Debian's chromium).

A real `uvicorn service.main:app` serves the sample index (the session `sample_index` fixture); a
second static server on another port plays a portal's page embedding the widget. Screenshots of
the main states go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from govsearch.apiprocess import ApiProcess
from indexer.elastic import load_mapping
from service.params import MAX_QUERY_CHARS
from tests.browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    axe_core_script,
    chromium_missing_reason,
    portal_page,
    run_static_site,
)

_MISSING = chromium_missing_reason()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")]

if _MISSING is None:
    from playwright.sync_api import Browser, Page, expect, sync_playwright

    expect.set_options(timeout=15_000)

WIDGET_KEY = "portal-widget-key-0123456789abcdef"
QUERY_LOG = "test-browser-queries"  # the browser API's search log: emptied when the module starts
QUERY = "安全生产检查"
BROAD_QUERY = "工作"


# ---- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def portal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("portal-site")


@pytest.fixture(scope="module")
def portal(portal_dir: Path) -> Iterator[str]:
    """The portal's origin (another port = another origin); its page is written once the API is up."""
    with run_static_site(portal_dir) as url:
        yield url


@pytest.fixture(scope="module")
def api(sample_index, settings, cache_dir: Path, portal: str, portal_dir: Path, es,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    work = tmp_path_factory.mktemp("browser-api")
    keys_file = work / "api-keys.json"
    keys_file.write_text(json.dumps({"keys": [
        {"key": WIDGET_KEY, "name": "test-portal", "origins": [portal], "rate_limit_per_minute": 600},
    ]}), encoding="utf-8")
    env = {
        "INDEX_ALIAS": settings.index_alias,
        "EMBEDDING_CACHE_DIR": str(cache_dir),
        "EMBEDDING_MODEL": settings.embedding_model,
        "CORS_ORIGINS": portal,
        "API_KEYS_FILE": str(keys_file),
        "REQUIRE_API_KEY": "false",
        "KEYLESS_RATE_LIMIT_PER_MINUTE": "0",
        "ADMIN_TOKEN": "",
        "QUERY_LOG_INDEX": QUERY_LOG,
        "SYNONYMS_INDEX": settings.synonyms_index,  # none stored (the es fixture drops it): the repo file's rules
        "BEST_BETS_INDEX": settings.best_bets_index,
        "HIDDEN_QUERIES_INDEX": settings.hidden_queries_index,
        "SUGGEST_REFRESH_SECONDS": "1",  # popular queries show within a second or two
    }
    es.indices.delete(index=QUERY_LOG, ignore_unavailable=True)
    if os.environ.get("ES_PORT"):
        env["ES_PORT"] = os.environ["ES_PORT"]
    with ApiProcess(env, work / "uvicorn.log") as server:
        (portal_dir / "host.html").write_text(portal_page(server.url, [
            {"id": "gov-search", "api-key": WIDGET_KEY, "placeholder": "搜索本镇政务信息", "size": "3"},
            {"id": "gov-search-bad-key", "api-key": "not-a-valid-key-000000000000", "size": "3"},
        ]), encoding="utf-8")
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@dataclass
class Watch:
    """What a page did: every URL it requested and every uncaught script error."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_clean(self, *origins: str) -> None:
        assert not self.errors, f"script errors: {self.errors}"
        foreign = [url for url in self.requests
                   if not url.startswith(("data:", "blob:")) and not any(url.startswith(o + "/") for o in origins)]
        assert not foreign, f"requests outside this machine's servers: {foreign}"


def _open_page(browser: Browser, **context_options) -> tuple[Page, Watch]:
    context = browser.new_context(locale="zh-CN", **context_options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = Watch()
    page.on("request", lambda request: watch.requests.append(request.url))
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    return page, watch


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, Watch]]:
    page, watch = _open_page(browser, viewport={"width": 1280, "height": 900})
    yield page, watch
    page.context.close()


def shot(page: Page, name: str, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def total_of(page: Page) -> int:
    expect(page.locator("#status .total")).to_be_visible()
    return int(page.locator("#status .total").inner_text())


def wait_results(page: Page) -> None:
    expect(page.locator("body.is-loading")).to_have_count(0)
    expect(page.locator("#results .hit").first).to_be_visible()


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# ---- the search page ---------------------------------------------------------------------------


def made_of_words(text: str, query: str) -> bool:
    """Whether `text` is pieces of `query` of two characters or more, one after another: touching marks are one
    mark (<em>检查</em><em>安全生产</em> → <em>检查安全生产</em>)."""
    ends = {0}
    for end in range(2, len(text) + 1):
        if any(start in ends and text[start:end] in query for start in range(end - 1)):
            ends.add(end)
    return len(text) in ends


def test_type_see_suggestions_submit_and_see_highlighted_results(page, api: ApiProcess) -> None:
    page, watch = page
    page.goto(api.url + "/")
    expect(page.locator("#welcome")).to_be_visible()
    expect(page.locator("#q")).to_be_focused()
    shot(page, "01-home")

    page.locator("#q").press_sequentially(QUERY, delay=30)
    options = page.locator("#suggestions [role=option]")
    expect(options.first).to_be_visible()
    expect(page.locator("#q")).to_have_attribute("aria-expanded", "true")
    shot(page, "02-suggestions", full_page=False)

    page.keyboard.press("Escape")
    expect(page.locator("#suggestions")).to_be_hidden()
    page.keyboard.press("Enter")
    wait_results(page)
    assert query_of(page.url)["q"] == [QUERY]
    assert total_of(page) > 0
    expect(page.locator("#status")).to_contain_text("毫秒")
    expect(page).to_have_title(f"{QUERY} - 政务搜索")

    marks = page.locator("#results .snippet em")
    assert marks.count() > 0
    for text in marks.all_inner_texts():
        assert made_of_words(text, QUERY), f"highlighted {text!r}, not words of {QUERY!r}"
    # The snippet was rebuilt from text and <em> only.
    assert page.evaluate("Array.from(document.querySelectorAll('#results .snippet *')).every(e => e.tagName === 'EM')")
    first = page.locator("#results .hit").first
    expect(first.locator(".hit-title a")).to_have_attribute("href", re.compile(r"^/article\.html\?id="))
    expect(first.locator(".hit-meta")).not_to_be_empty()
    expect(page.locator("#facets")).to_be_visible()
    # The outline reads in order for a screen reader: one h1 first, never a level skipped on the way down.
    levels = page.evaluate("Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6'))"
                           ".filter(h => h.closest('[hidden]') === null).map(h => Number(h.tagName[1]))")
    assert levels[0] == 1 and levels.count(1) == 1, levels
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:])), levels
    shot(page, "03-results")
    watch.assert_clean(api.url)


def test_a_facet_narrows_the_results_and_the_chip_undoes_it(page, api: ApiProcess) -> None:
    page, watch = page
    page.goto(f"{api.url}/?q={BROAD_QUERY}")
    wait_results(page)
    before = total_of(page)
    counts = [int(text) for text in page.locator("#facets .facet a .count").all_inner_texts()]
    index = next(i for i, count in enumerate(counts) if 0 < count < before)
    target = page.locator("#facets .facet a").nth(index)
    label = target.locator(".facet-value").inner_text()
    target.click()
    expect(page.locator("#active-filters .chip")).to_have_count(1)
    wait_results(page)
    after = total_of(page)
    assert 0 < after < before, (before, after)
    params = query_of(page.url)
    assert label in params.get("town", []) + params.get("publisher", []) + params.get("department", []) \
        or params.get("date_from", [""])[0].startswith(label.replace(" 年", "")), params
    expect(page.locator("#facets a[aria-current=true]")).to_have_count(1)
    shot(page, "04-facet-selected")

    page.locator("#active-filters .chip").click()
    expect(page.locator("#active-filters")).to_be_hidden()
    expect(page.locator("#status .total")).to_have_text(str(before))
    assert not {"town", "department", "publisher"} & set(query_of(page.url))
    watch.assert_clean(api.url)


def test_a_facet_or_chip_chosen_from_the_keyboard_leaves_the_focus_on_the_results(page, api: ApiProcess) -> None:
    """The chosen link is re-rendered away: focus must not fall back to <body> (where Tab starts over)."""
    page, watch = page
    page.goto(f"{api.url}/?q={BROAD_QUERY}")
    wait_results(page)
    page.locator("#facets .facet a").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#active-filters .chip")).to_have_count(1)
    wait_results(page)
    expect(page.locator("#results")).to_be_focused()
    page.locator("#active-filters .chip").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#active-filters")).to_be_hidden()
    wait_results(page)
    expect(page.locator("#results")).to_be_focused()
    watch.assert_clean(api.url)


def test_year_facet_sets_the_date_range(page, api: ApiProcess) -> None:
    page, watch = page
    page.goto(f"{api.url}/?q={BROAD_QUERY}")
    wait_results(page)
    year_link = page.locator("#facet-year + ul a").first
    year = year_link.locator(".facet-value").inner_text().replace(" 年", "").strip()
    year_link.click()
    expect(page.locator("#date_from")).to_have_value(f"{year}-01-01")
    expect(page.locator("#date_to")).to_have_value(f"{year}-12-31")
    wait_results(page)
    params = query_of(page.url)
    assert params["date_from"] == [f"{year}-01-01"] and params["date_to"] == [f"{year}-12-31"]
    for date in page.locator("#results .hit-meta").all_inner_texts():
        found = re.findall(r"\d{4}-\d{2}-\d{2}", date)
        assert found and found[0].startswith(year), date
    watch.assert_clean(api.url)


def test_pagination_and_back_forward(page, api: ApiProcess) -> None:
    page, watch = page
    page.goto(f"{api.url}/?q={BROAD_QUERY}&size=5")
    wait_results(page)
    assert total_of(page) > 5
    first_titles = page.locator("#results .hit-title").all_inner_texts()
    page.locator("#pagination a.next").click()
    expect(page.locator("#pagination [aria-current=page]")).to_have_text("2")
    wait_results(page)
    assert query_of(page.url)["page"] == ["2"]
    expect(page.locator("#results ol")).to_have_attribute("start", "6")
    second_titles = page.locator("#results .hit-title").all_inner_texts()
    assert second_titles and not set(second_titles) & set(first_titles)
    shot(page, "05-page-2")

    page.go_back()
    expect(page.locator("#pagination [aria-current=page]")).to_have_text("1")
    wait_results(page)
    assert page.locator("#results .hit-title").all_inner_texts() == first_titles
    page.go_forward()
    expect(page.locator("#pagination [aria-current=page]")).to_have_text("2")
    wait_results(page)
    assert page.locator("#results .hit-title").all_inner_texts() == second_titles
    watch.assert_clean(api.url)


def test_article_view_shows_the_whole_text_highlighted_and_links_back(page, api: ApiProcess) -> None:
    page, watch = page
    page.goto(f"{api.url}/?q={QUERY}&sort=date")
    wait_results(page)
    link = page.locator("#results .hit-title a").first
    title = link.inner_text()
    link.click()
    expect(page.locator("#article")).to_be_visible()
    article_id = query_of(page.url)["id"][0]
    expect(page.locator("#title")).to_have_text(title)

    article = httpx.get(f"{api.url}/articles/{article_id}", timeout=10).json()
    expected = [line.strip() for line in article["body"].split("\n") if line.strip()]
    assert page.locator("#body p").all_inner_texts() == expected
    marks = page.locator("#body mark")
    assert marks.count() > 0
    words = {QUERY[i:i + 2] for i in range(len(QUERY) - 1)}
    for text in marks.all_inner_texts():
        assert any(word in text for word in words), text
    marked = marks.all_inner_texts()
    shot(page, "06-article")

    page.locator("#back").click()
    wait_results(page)
    params = query_of(page.url)
    assert params["q"] == [QUERY] and params["sort"] == ["date"]
    expect(page.locator("#q")).to_have_value(QUERY)
    expect(page.locator("#sort")).to_have_value("date")

    # Typed in traditional characters (安全生產檢查), the query marks what the simplified one marks.
    page.goto(f"{api.url}/article.html?{urlencode({'id': article_id, 'q': '安全生產檢查'})}")
    expect(page.locator("#body mark")).to_have_count(len(marked))
    assert page.locator("#body mark").all_inner_texts() == marked
    watch.assert_clean(api.url)


def test_keyboard_alone_suggestion_results_and_article(page, api: ApiProcess) -> None:
    page, watch = page
    page.goto(api.url + "/")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type("港西镇召开")
    options = page.locator("#suggestions [role=option]")
    expect(options.first).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(page.locator("#q")).to_have_attribute("aria-activedescendant", "suggestion-0")
    chosen = options.first.inner_text()
    page.keyboard.press("Enter")
    wait_results(page)
    assert query_of(page.url)["q"] == [chosen]
    # The exact title comes first.
    expect(page.locator("#results .hit-title").first).to_have_text(chosen)

    for _ in range(150):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('#results .hit-title a')"):
            break
    else:
        pytest.fail("Tab never reached the first result")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "focused links must show a focus ring"
    page.keyboard.press("Enter")
    expect(page.locator("#article")).to_be_visible()
    expect(page.locator("#title")).to_have_text(chosen)
    watch.assert_clean(api.url)


def test_an_api_error_is_told_in_chinese_by_its_code(page, api: ApiProcess) -> None:
    page, watch = page
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
    refused = {"q": QUERY, "date_from": "2024-02-01", "date_to": "2024-01-01"}  # a hand-edited link
    expected = httpx.get(f"{api.url}/search", params=refused, timeout=10)
    assert expected.status_code == 422 and expected.json()["error"]["code"] == "invalid_parameter"
    message = "日期条件有误：日期写作“年-月-日”，开始日期不能晚于结束日期。"

    page.goto(f"{api.url}/?{urlencode(refused)}")
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error .error-message")).to_have_text(message)
    expect(page.locator("#error")).to_have_text(f"搜索出错{message}")  # nothing else: no retry for a 4xx
    # The API's own words are for the portal's developers: in the console.
    assert any(expected.json()["error"]["message"] in warning for warning in warnings), warnings
    expect(page.locator("#results .hit")).to_have_count(0)
    expect(page.locator("#status")).to_have_text("搜索未能完成")
    shot(page, "07-error")

    page.goto(f"{api.url}/?{urlencode({'q': QUERY, 'size': 100})}")  # over the API's size: the page asks for its most
    expect(page.locator("#results .hit").first).to_be_visible()
    expect(page.locator("#error")).to_be_hidden()

    page.goto(f"{api.url}/article.html?id=no-such-article&q={QUERY}")
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error .error-message")).to_have_text("没有找到这篇文章，它可能已被删除或链接有误。")
    watch.assert_clean(api.url)


def test_no_results_gives_a_hint(page, api: ApiProcess) -> None:
    page, watch = page
    page.goto(f"{api.url}/?q=zzqxv&mode=bm25")
    expect(page.locator("#results .empty")).to_be_visible()
    expect(page.locator("#status .total")).to_have_text("0")
    expect(page.locator("#results .empty")).to_contain_text("没有找到")
    expect(page.locator("#advanced")).to_have_attribute("open", "")
    shot(page, "08-no-results")
    watch.assert_clean(api.url)


def test_content_from_the_index_is_never_markup(page, api: ApiProcess) -> None:
    """A hostile index (served through a routed /search response) cannot inject markup or script."""
    page, watch = page
    evil = '<img src=x onerror="window.__pwned=1">'
    body = {
        "query": "x", "mode": "hybrid", "total": 2, "page": 1, "size": 10, "took_ms": 1.0, "degraded": False,
        "hits": [
            {"id": '"><script>window.__pwned=2</script>', "title": evil, "snippet": "<em>安全</em>" + evil,
             "text": "plain <b>fallback</b>", "score": 1, "publisher": "<script>window.__pwned=3</script>",
             "town": None, "date": "2023-01-01", "department": evil, "source": None,
             "url": "javascript:window.__pwned=4"},
            {"id": "ok", "title": "正常", "snippet": "a &lt;b&gt; <em>c</em> &amp; d &#x27;e&#x27;", "text": "",
             "score": 0.5, "publisher": None, "town": None, "date": None, "department": None, "source": None,
             "url": None},
        ],
        "facets": {"publisher": [{"value": evil, "count": 1}], "department": [], "year": [{"value": 2023, "count": 1}]},
    }
    page.route(re.compile(r".*/search\?.*"), lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(body)))
    page.goto(f"{api.url}/?q=x")
    expect(page.locator("#results .hit")).to_have_count(2)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#results img, #results script, #facets img, #facets script").count() == 0
    first, second = page.locator("#results .hit").all()
    expect(first.locator(".hit-title")).to_have_text(evil)
    expect(first.locator(".snippet")).to_have_text("plain <b>fallback</b>")  # unvetted snippet: plain text
    expect(first.locator("a.original")).to_have_count(0)  # javascript: URLs are not links
    expect(second.locator(".snippet")).to_have_text("a <b> c & d 'e'")
    expect(second.locator(".snippet em")).to_have_text("c")
    expect(page.locator("#facets .facet-value").first).to_have_text(evil)
    watch.assert_clean(api.url)


def test_opensearch_is_linked_from_the_page(page, api: ApiProcess) -> None:
    page, watch = page
    page.goto(api.url + "/")
    link = page.locator('link[rel="search"]')
    expect(link).to_have_attribute("type", "application/opensearchdescription+xml")
    response = httpx.get(api.url + link.get_attribute("href"), timeout=10)
    assert response.headers["content-type"].startswith("application/opensearchdescription+xml")
    assert f'template="{api.url}/?q={{searchTerms}}"' in response.text
    watch.assert_clean(api.url)


# ---- phone width ---------------------------------------------------------------------------------


def test_phone_width_has_no_horizontal_scroll(browser, api: ApiProcess) -> None:
    page, watch = _open_page(browser, viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True,
                             device_scale_factor=2)
    try:
        overflow = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        page.goto(api.url + "/")
        assert page.evaluate(overflow) <= 0
        page.goto(f"{api.url}/?q={QUERY}")
        wait_results(page)
        assert page.evaluate(overflow) <= 0
        shot(page, "09-phone-results")
        page.locator("#results .hit-title a").first.click()
        expect(page.locator("#article")).to_be_visible()
        assert page.evaluate(overflow) <= 0
        shot(page, "10-phone-article", full_page=False)
        # A long unbroken query (a pasted code, a URL) wraps inside the boxes that repeat it.
        page.goto(f"{api.url}/?q={'x' * 200}")
        wait_results(page)
        assert page.evaluate(overflow) <= 0
        for box in page.locator(".notice, .empty, #understood, #did-you-mean").all():
            if box.is_visible():
                assert box.evaluate("e => e.scrollWidth - e.clientWidth") <= 0
        watch.assert_clean(api.url)
    finally:
        page.context.close()


PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def box_of(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


@pytest.mark.parametrize("large_text", [False, True], ids=["normal", "large-text"])
def test_on_a_phone_the_results_come_first_and_the_filters_open_on_demand(browser, api: ApiProcess,
                                                                         large_text: bool) -> None:
    """The facets stood above the results: at 375 × 740 the first hit began at y 630 (below the fold in large
    text). Now they are one closed 筛选 disclosure; the count and the first hit are in view."""
    page, watch = _open_page(browser, **PHONE)
    try:
        if large_text:
            page.add_init_script("localStorage.setItem('govsearch.largeText', '1')")
        page.goto(f"{api.url}/?q={QUERY}")
        wait_results(page)
        panel = page.locator("#facets details.facet-panel")
        expect(panel).not_to_have_attribute("open", "")
        expect(page.locator("#facets .facet").first).to_be_hidden()
        assert box_of(page, "#status")["y"] < 740
        first = box_of(page, "#results .hit-title a")
        assert first["y"] + first["height"] <= 740, first
        shot(page, f"21-phone-results-first{'-large' if large_text else ''}", full_page=False)
        panel.locator("summary").click()
        facet = page.locator("#facets .facet a").first
        expect(facet).to_be_visible()
        label = facet.locator(".facet-value").inner_text()
        facet.click()
        wait_results(page)
        expect(page.locator("#active-filters .chip")).to_have_count(1)
        expect(panel.locator("summary")).to_contain_text("已选 1 项")
        assert label in page.locator("#active-filters").inner_text()
        watch.assert_clean(api.url)
    finally:
        page.context.close()


def test_on_a_phone_every_control_is_a_44_pixel_target(browser, api: ApiProcess) -> None:
    page, watch = _open_page(browser, **PHONE)
    try:
        page.goto(f"{api.url}/?{urlencode({'q': '工作', 'mode': 'bm25', 'town': '港西镇'})}")  # pages; a chip
        wait_results(page)
        page.locator("#facets summary").click()
        page.locator("#advanced summary").click()
        short = page.evaluate("""() => [...document.querySelectorAll(
              '.time-presets .preset, .chip, .facet a, .pagination a, .pagination span, #sort, #size, '
            + '.advanced summary, .facet-panel summary, #a11y-toggle, .search-button, #q')]
            .filter(node => node.getClientRects().length)
            .map(node => [node.id || node.className || node.tagName, node.getBoundingClientRect().height])
            .filter(([, height]) => height < 44)""")
        assert short == []
        page.locator("#q").fill("")
        page.locator("#q").press_sequentially("港西", delay=30)
        expect(page.locator("#suggestions [role=option]").first).to_be_visible()
        heights = page.evaluate("[...document.querySelectorAll('#suggestions [role=option]')]"
                                ".map(o => o.getBoundingClientRect().height)")
        assert heights and min(heights) >= 44, heights
        shot(page, "22-phone-suggestions", full_page=False)
        watch.assert_clean(api.url)
    finally:
        page.context.close()


def test_tab_from_the_box_with_suggestions_open_goes_to_the_search_button(page, api: ApiProcess) -> None:
    """With eight suggestions the list scrolled by a few pixels, which made it a tab stop of its own: Tab
    landed on it as it closed, and focus fell to <body>."""
    page, watch = page
    page.goto(api.url + "/")
    page.locator("#q").press_sequentially("港西", delay=30)
    expect(page.locator("#suggestions [role=option]").first).to_be_visible()
    page.keyboard.press("Tab")
    page.wait_for_timeout(300)  # the list closes on blur
    assert page.evaluate("document.activeElement.className") == "search-button"
    watch.assert_clean(api.url)


def test_back_from_an_article_returns_to_the_same_place_in_the_results(browser, api: ApiProcess) -> None:
    page, watch = _open_page(browser, **PHONE)
    try:
        page.goto(f"{api.url}/?q=%E5%B7%A5%E4%BD%9C&mode=bm25")  # 工作: a full page of hits
        wait_results(page)
        eighth = page.locator("#results .hit-title a").nth(7)
        eighth.scroll_into_view_if_needed()
        page.wait_for_timeout(300)  # the scroll position is remembered once scrolling stops
        title, before = eighth.inner_text(), page.evaluate("window.scrollY")
        assert before > 740
        eighth.click()
        expect(page.locator("#article")).to_be_visible()
        page.go_back()
        wait_results(page)
        expect(page.locator("#results .hit-title a").nth(7)).to_have_text(title)
        page.wait_for_function(f"Math.abs(window.scrollY - {before}) < 5")
        watch.assert_clean(api.url)
    finally:
        page.context.close()


def test_retry_after_an_outage_leaves_the_focus_on_the_results(page, api: ApiProcess) -> None:
    page, watch = page
    outage = {"on": True}

    def search(route) -> None:
        if outage["on"]:
            route.fulfill(status=503, content_type="application/json", headers={"Retry-After": "1"},
                          body='{"error": {"code": "unavailable", "message": "backend away"}}')
        else:
            route.continue_()

    page.route(re.compile(r".*/search\?.*"), search)
    page.goto(f"{api.url}/?q={QUERY}")
    retry = page.locator("#error button.retry")
    expect(retry).to_be_visible()
    outage["on"] = False
    retry.focus()
    page.keyboard.press("Enter")
    wait_results(page)
    assert page.evaluate("document.activeElement.id") == "results"
    watch.assert_clean(api.url)


def test_a_link_with_a_blank_or_over_long_query_is_read_as_the_api_reads_it(page, api: ApiProcess) -> None:
    page, watch = page
    page.goto(f"{api.url}/?q=%20%20%20")
    expect(page.locator("#welcome")).to_be_visible()
    expect(page.locator("#error")).to_be_hidden()
    page.goto(f"{api.url}/?{urlencode({'q': '安全生产' * 60})}")  # 240 characters
    wait_results(page)
    expect(page.locator("#error")).to_be_hidden()
    assert len(page.locator("#q").input_value()) == 200
    watch.assert_clean(api.url)


# ---- the widget on a portal's page ---------------------------------------------------------------


def _open_widget(page, portal: str):
    """The portal's demo page with the widget: (the widget, its search box)."""
    page.goto(portal + "/host.html")
    widget = page.locator("#gov-search")
    return widget, widget.locator("input[type=search]")


def test_widget_renders_in_a_portal_page_on_another_origin(page, api: ApiProcess, portal: str) -> None:
    page, watch = page
    searches = []
    page.on("response", lambda response: searches.append(response) if "/search?" in response.url else None)
    widget, box = _open_widget(page, portal)
    expect(box).to_have_attribute("placeholder", "搜索本镇政务信息")
    assert page.evaluate("!!document.querySelector('#gov-search').shadowRoot")
    # The shared helpers it is served with stay inside its scope: its only global is GovSearchWidget.
    assert page.evaluate("[typeof govSearchCommon, typeof GovSearch, typeof GovSearchWidget]") == [
        "undefined", "undefined", "object"]
    box.fill("安全生产")
    box.press("Enter")
    items = widget.locator("li")
    expect(items).to_have_count(3)
    assert widget.locator(".snippet em").count() > 0
    link = widget.locator("a.title").first
    expect(link).to_have_attribute("href", re.compile("^" + re.escape(api.url) + r"/article\.html\?id="))
    expect(link).to_have_attribute("target", "_blank")
    expect(widget.locator("a.more")).to_have_attribute("href", re.compile("^" + re.escape(api.url) + r"/\?q="))
    # The portal's key was sent and accepted (its rate-limit headers came back).
    ok = [r for r in searches if r.status == 200]
    assert ok and ok[0].headers.get("x-ratelimit-limit") == "600"

    # No CSS leaks: the host's `em`/`*` rules stop at the shadow root, the widget's stay inside it.
    styles = page.evaluate("""() => {
        const root = document.querySelector('#gov-search').shadowRoot;
        const em = root.querySelector('.snippet em'), snippet = root.querySelector('.snippet');
        const hostEm = document.getElementById('host-em');
        return {em: getComputedStyle(em).color, emStyle: getComputedStyle(em).fontStyle,
                spacing: getComputedStyle(snippet).letterSpacing, font: getComputedStyle(snippet).fontFamily,
                hostEm: getComputedStyle(hostEm).color,
                hostEmStyle: getComputedStyle(hostEm).fontStyle};
    }""")
    font = styles.pop("font")
    assert "serif" not in font.replace("sans-serif", ""), font
    assert styles == {"em": "rgb(179, 38, 30)", "emStyle": "normal", "spacing": "normal",
                      "hostEm": "rgb(0, 0, 255)", "hostEmStyle": "italic"}, styles

    # A wrong key: the widget tells the resident in Chinese (the API's message goes to the console), the page
    # does not break.
    bad = page.locator("#gov-search-bad-key")
    bad.locator("input[type=search]").fill("安全")
    bad.locator("input[type=search]").press("Enter")
    expect(bad.locator(".error")).to_have_text("本网站的搜索服务设置有误，暂时无法搜索，请联系网站管理员。")
    assert bad.locator("input[type=search]").get_attribute("maxlength") == str(MAX_QUERY_CHARS)
    shot(page, "11-widget-on-portal")

    # Its links open the article view on the API host.
    with page.context.expect_page() as opened:
        link.click()
    article = opened.value
    expect(article.locator("#article")).to_be_visible()
    assert article.url.startswith(api.url + "/article.html?")
    article.close()
    watch.assert_clean(api.url, portal)


# ---- time presets and sort ------------------------------------------------------------------------

# The sample's dated articles are all from 2023-02-07: "today" is fixed in the browser so that 一年内
# keeps them, 一周内 and 一月内 keep none, and undated articles drop out of every preset.
TODAY = datetime(2023, 3, 20, 10, 0, 0)


def test_time_presets_filter_by_date_live_in_the_url_and_combine_with_the_sort(page, api: ApiProcess) -> None:
    page, watch = page
    page.clock.set_fixed_time(TODAY)
    api_calls: list[str] = []
    page.on("request", lambda request: api_calls.append(request.url) if "/search?" in request.url else None)
    page.goto(f"{api.url}/?q={BROAD_QUERY}")
    wait_results(page)
    before = total_of(page)
    expect(page.get_by_role("radio", name="不限")).to_be_checked()
    expect(page.locator("#custom-dates")).to_be_hidden()

    page.get_by_role("radio", name="一年内").check()
    expect(page.locator("#active-filters .chip")).to_have_text(re.compile("日期：一年内"))
    wait_results(page)
    within_year = total_of(page)
    assert 0 < within_year < before, (before, within_year)  # the undated articles are gone
    assert query_of(page.url)["time"] == ["year"] and "date_from" not in query_of(page.url)
    assert query_of(api_calls[-1])["date_from"] == ["2022-03-20"]
    for meta in page.locator("#results .hit-meta").all_inner_texts():
        assert "2023-02-07" in meta, meta

    # The sort is visible next to the presets and combines with them in the URL.
    expect(page.locator("#sort option:checked")).to_have_text("按相关度")
    page.locator("#sort").select_option(label="按时间（新→旧）")
    expect(page).to_have_url(re.compile(r"sort=date"))
    wait_results(page)
    params = query_of(page.url)
    assert params["time"] == ["year"] and params["sort"] == ["date"]
    # newest first lists the articles holding the query's words: not the relevance order's near-in-meaning ones
    by_date = total_of(page)
    assert 0 < by_date <= within_year
    dates = [re.search(r"\d{4}-\d{2}-\d{2}", meta)[0] for meta in page.locator("#results .hit-meta").all_inner_texts()]
    assert dates == sorted(dates, reverse=True)
    shot(page, "12-time-preset-year-by-date")

    page.get_by_role("radio", name="一月内").check()
    expect(page.locator("#results .empty")).to_be_visible()
    assert query_of(api_calls[-1])["date_from"] == ["2023-02-20"] and query_of(page.url)["sort"] == ["date"]
    expect(page.locator("#results .empty")).to_contain_text("清除全部筛选")
    page.get_by_role("radio", name="一周内").check()
    expect(page).to_have_url(re.compile(r"time=week"))
    expect(page.locator("#status .total")).to_have_text("0")
    assert query_of(api_calls[-1])["date_from"] == ["2023-03-13"]

    # A shared link reopens the same preset; back returns to the previous one.
    page.go_back()
    expect(page.get_by_role("radio", name="一月内")).to_be_checked()
    page.goto(f"{api.url}/?q={BROAD_QUERY}&time=year&sort=date")
    expect(page.get_by_role("radio", name="一年内")).to_be_checked()
    expect(page.locator("#status .total")).to_have_text(str(by_date))

    # 自定义 shows the date range; a range entered there replaces the preset.
    page.get_by_role("radio", name="自定义").check()
    expect(page.locator("#custom-dates")).to_be_visible()
    expect(page.locator("#date_from")).to_be_focused()
    page.locator("#date_from").fill("2023-02-01")
    page.locator("#date_to").fill("2023-02-28")
    expect(page).to_have_url(re.compile(r"date_to=2023-02-28"))
    wait_results(page)
    params = query_of(page.url)
    assert "time" not in params and params["date_from"] == ["2023-02-01"] and params["sort"] == ["date"]
    assert total_of(page) == by_date
    shot(page, "13-time-custom-range")

    page.get_by_role("radio", name="不限").check()
    expect(page.locator("#custom-dates")).to_be_hidden()
    expect(page.locator("#active-filters .chip")).to_have_count(0)
    wait_results(page)
    assert total_of(page) > by_date  # the undated articles are back
    params = query_of(page.url)
    assert not {"time", "date_from", "date_to"} & set(params) and params["sort"] == ["date"]
    watch.assert_clean(api.url)


def test_the_time_presets_work_from_the_keyboard(page, api: ApiProcess) -> None:
    page, watch = page
    page.clock.set_fixed_time(TODAY)
    page.goto(f"{api.url}/?q={BROAD_QUERY}")
    wait_results(page)
    page.get_by_role("radio", name="不限").focus()
    page.keyboard.press("ArrowRight")  # a radio group: the arrows move and choose
    expect(page.get_by_role("radio", name="一周内")).to_be_checked()
    expect(page).to_have_url(re.compile(r"time=week"))
    outline = page.evaluate("getComputedStyle(document.activeElement.closest('label')).outlineStyle")
    assert outline != "none", "the focused preset must show a focus ring"
    # Passing over a preset on the way to another searches only where the choice stops.
    expect(page.locator("body.is-loading")).to_have_count(0)
    searched = sum("/search?" in url for url in watch.requests)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page).to_have_url(re.compile(r"time=year"))
    expect(page.locator("body.is-loading")).to_have_count(0)
    assert sum("/search?" in url for url in watch.requests) == searched + 1
    watch.assert_clean(api.url)


# ---- related articles ------------------------------------------------------------------------------


def test_the_article_view_lists_related_articles_that_keep_the_way_back(page, api: ApiProcess) -> None:
    page, watch = page
    page.goto(f"{api.url}/?q={QUERY}&sort=date")
    wait_results(page)
    page.locator("#results .hit-title a").first.click()
    expect(page.locator("#article")).to_be_visible()
    article_id = query_of(page.url)["id"][0]
    related = page.locator("#related")
    expect(related).to_be_visible()
    expect(related.get_by_role("heading", name="相关文章")).to_be_visible()
    expected = httpx.get(f"{api.url}/articles/{article_id}/related", params={"size": 5}, timeout=10).json()["related"]
    links = related.locator("li > a")
    expect(links).to_have_count(len(expected))
    assert links.all_inner_texts() == [item["title"] for item in expected]
    hrefs = [query_of(href) for href in links.evaluate_all("links => links.map(a => a.href)")]
    assert [h["id"][0] for h in hrefs] == [item["id"] for item in expected] and article_id not in {
        h["id"][0] for h in hrefs}
    shot(page, "14-article-related")

    title = links.first.inner_text()
    links.first.click()
    expect(page.locator("#title")).to_have_text(title)
    assert query_of(page.url)["id"] == [expected[0]["id"]]
    expect(page.locator("#related li").first).to_be_visible()
    page.locator("#back").click()
    wait_results(page)
    params = query_of(page.url)
    assert params["q"] == [QUERY] and params["sort"] == ["date"]
    watch.assert_clean(api.url)


def test_related_titles_from_the_index_are_never_markup(page, api: ApiProcess) -> None:
    page, watch = page
    evil = '<img src=x onerror="window.__pwned=1">'
    article_id = httpx.get(f"{api.url}/search", params={"q": QUERY}, timeout=10).json()["hits"][0]["id"]
    body = {"id": article_id, "related": [
        {"id": '"><script>window.__pwned=2</script>', "title": evil, "publisher": evil, "town": None,
         "date": "2023-01-01", "department": None, "section": None, "newsletter": None, "doc_number": None,
         "source": None, "url": None, "score": 1.0}]}
    page.route(re.compile(r".*/related\?.*"), lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(body)))
    page.goto(f"{api.url}/article.html?id={article_id}")
    expect(page.locator("#related li a")).to_have_text(evil)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#related img, #related script").count() == 0
    assert query_of(page.locator("#related li a").get_attribute("href"))["id"] == [body["related"][0]["id"]]
    watch.assert_clean(api.url)


# ---- large text, high contrast (适老化) and axe-core ---------------------------------------------------


def _font_px(page: Page, selector: str) -> float:
    return float(page.evaluate(f"parseFloat(getComputedStyle(document.querySelector('{selector}')).fontSize)"))


def test_large_text_mode_toggles_by_keyboard_and_persists(browser, api: ApiProcess) -> None:
    page, watch = _open_page(browser, viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{api.url}/?q={QUERY}")
        wait_results(page)
        toggle = page.get_by_role("button", name="大字高对比")
        expect(toggle).to_have_attribute("aria-pressed", "false")
        normal = _font_px(page, ".hit-title")
        toggle.focus()
        page.keyboard.press("Enter")
        expect(toggle).to_have_attribute("aria-pressed", "true")
        expect(page.locator("html.large-text")).to_have_count(1)
        assert _font_px(page, ".hit-title") >= 1.2 * normal
        assert page.evaluate("getComputedStyle(document.querySelector('.hit-title a')).textDecorationLine") \
            == "underline"
        shot(page, "15-large-text-results")

        # Remembered across pages and reloads, before the first paint (a11y.js runs in <head>).
        page.locator("#results .hit-title a").first.click()
        expect(page.locator("#article")).to_be_visible()
        expect(page.locator("html.large-text")).to_have_count(1)
        expect(page.get_by_role("button", name="大字高对比")).to_have_attribute("aria-pressed", "true")
        shot(page, "16-large-text-article")
        page.reload()
        expect(page.locator("html.large-text")).to_have_count(1)

        page.get_by_role("button", name="大字高对比").focus()
        page.keyboard.press("Space")
        expect(page.get_by_role("button", name="大字高对比")).to_have_attribute("aria-pressed", "false")
        page.goto(api.url + "/")
        expect(page.locator("html.large-text")).to_have_count(0)
        assert page.evaluate("localStorage.getItem('govsearch.largeText')") == "0"
        watch.assert_clean(api.url)
    finally:
        page.context.close()


def test_large_text_on_a_phone_has_no_horizontal_scroll(browser, api: ApiProcess) -> None:
    page, watch = _open_page(browser, viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True,
                             device_scale_factor=2)
    try:
        page.add_init_script("localStorage.setItem('govsearch.largeText', '1')")
        overflow = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        page.goto(f"{api.url}/?q={QUERY}&date_from=2023-01-01")
        wait_results(page)
        expect(page.locator("#custom-dates")).to_be_visible()
        assert page.evaluate(overflow) <= 0
        shot(page, "17-phone-large-text")
        page.locator("#results .hit-title a").first.click()
        expect(page.locator("#related li").first).to_be_visible()
        assert page.evaluate(overflow) <= 0
        watch.assert_clean(api.url)
    finally:
        page.context.close()


AXE_RUN = """async () => {
    const result = await axe.run(document, {resultTypes: ["violations"]});
    return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}));
}"""


@pytest.mark.parametrize("large_text", [False, True], ids=["normal", "large-text"])
def test_pages_pass_axe_core_with_no_serious_or_critical_violations(browser, api: ApiProcess,
                                                                   large_text: bool) -> None:
    """axe-core is injected as an inline script, which the page's CSP forbids: only this test's browser
    context bypasses the CSP (Playwright's bypass_csp); the served header is unchanged (checked below)."""
    axe = axe_core_script()
    page, watch = _open_page(browser, viewport={"width": 1280, "height": 900}, bypass_csp=True)
    try:
        page.add_init_script(f"localStorage.setItem('govsearch.largeText', '{int(large_text)}')")
        page.clock.set_fixed_time(TODAY)  # so that 一年内 has results
        found: dict[str, list[dict]] = {}

        def check(name: str) -> None:
            expect(page.locator("html.large-text")).to_have_count(1 if large_text else 0)
            if page.evaluate("typeof window.axe") == "undefined":
                page.add_script_tag(path=str(axe))
            violations = page.evaluate(AXE_RUN)
            found[name] = [v for v in violations if v["impact"] in ("serious", "critical")]

        response = page.goto(api.url + "/")
        assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
        expect(page.locator("#welcome")).to_be_visible()
        check("home")
        shot(page, f"18-home-{'large-text' if large_text else 'normal'}", full_page=False)
        page.locator("#q").press_sequentially("港西镇", delay=30)
        expect(page.locator("#suggestions [role=option]").first).to_be_visible()
        page.keyboard.press("ArrowDown")
        check("suggestions")
        # Results with a facet, a custom date range (its inputs and the chip shown) and pages.
        page.goto(f"{api.url}/?q={BROAD_QUERY}&size=5&date_from=2023-01-01&department=党群办")
        wait_results(page)
        expect(page.locator("#custom-dates")).to_be_visible()
        expect(page.locator("#active-filters .chip")).to_have_count(2)
        check("results")
        page.goto(f"{api.url}/?q={BROAD_QUERY}&size=5&time=year")
        wait_results(page)
        expect(page.locator("#pagination")).to_be_visible()
        check("results-preset")
        page.locator("#results .hit-title a").first.click()
        expect(page.locator("#related li").first).to_be_visible()
        check("article")
        assert not any(found.values()), json.dumps(found, ensure_ascii=False, indent=1)
        watch.assert_clean(api.url)
    finally:
        page.context.close()


# ---- government-site search features: pinyin suggestions, did you mean ---------------------------


def test_pinyin_initials_suggest_titles_and_choosing_one_searches_it(page, api: ApiProcess) -> None:
    page, watch = page
    page.goto(api.url + "/")
    page.locator("#q").press_sequentially("aqsc", delay=30)
    options = page.locator("#suggestions [role=option]")
    expect(options.first).to_be_visible()
    expect(options.filter(has_text="港西镇召开疫情防控和安全生产工作会议")).to_have_count(1)
    shot(page, "12-pinyin-suggestions", full_page=False)
    page.locator("#suggestions [data-kind=title]").filter(has_text="安全生产").first.click()
    wait_results(page)
    assert query_of(page.url)["q"] == ["港西镇召开疫情防控和安全生产工作会议"]
    watch.assert_clean(api.url)


def search_as_people(api: ApiProcess, q: str, people: int) -> None:
    """`q` searched once by each of `people` different people: from addresses of their own (127.0.0.2, …)."""
    for number in range(2, 2 + people):
        with httpx.Client(transport=httpx.HTTPTransport(local_address=f"127.0.0.{number}")) as person:
            assert person.get(api.url + "/search", params={"q": q, "mode": "bm25"}).status_code == 200


def make_popular(api: ApiProcess, q: str, typed: str) -> None:
    """Search `q` by as many people as the privacy floor asks (5), and wait until `typed` suggests it."""
    search_as_people(api, q, 5)
    for _ in range(100):  # logged in the background, then the API's popular list refreshes (1 s here)
        items = httpx.get(api.url + "/suggest", params={"q": typed}).json()["suggestions"]
        if {"kind": "query", "text": q, "id": None, "title": None} in items:
            return
        time.sleep(0.2)
    pytest.fail(f"{q} never became a query suggestion")


def test_a_popular_query_is_suggested_marked_and_choosing_it_runs_it(page, api: ApiProcess) -> None:
    page, watch = page
    make_popular(api, "垃圾分类", "ljfl")
    page.goto(api.url + "/")
    page.locator("#q").press_sequentially("ljfl", delay=30)
    query = page.locator("#suggestions [role=option][data-kind=query]")
    expect(query.first).to_have_text("垃圾分类")
    assert page.evaluate("getComputedStyle(document.querySelector('#suggestions [data-kind=query]'), '::after')"
                         ".content") == '"热门搜索"'
    shot(page, "16-query-suggestion", full_page=False)
    query.first.click()
    wait_results(page)
    assert query_of(page.url)["q"] == ["垃圾分类"]
    watch.assert_clean(api.url)


def test_widget_suggests_popular_queries_and_titles_with_the_keyboard(page, api: ApiProcess, portal: str) -> None:
    page, watch = page
    make_popular(api, "垃圾分类", "laji")
    widget, box = _open_widget(page, portal)
    box.press_sequentially("laji", delay=30)
    options = widget.locator("[role=option]")
    expect(options.first).to_have_text("垃圾分类")
    expect(options.first).to_have_attribute("data-kind", "query")
    expect(box).to_have_attribute("aria-expanded", "true")
    box.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(box).to_have_value("垃圾分类")
    expect(widget.locator("[role=listbox]")).to_be_hidden()
    expect(widget.locator(".snippet em").first).to_be_visible()
    box.fill("")
    box.press_sequentially("港西镇召开", delay=30)
    expect(widget.locator("[role=option][data-kind=title]").first).to_contain_text("港西镇召开")
    watch.assert_clean(api.url, portal)


def test_a_typo_offers_did_you_mean_and_the_link_searches_the_correction(page, api: ApiProcess) -> None:
    page, watch = page
    page.goto(api.url + "/?q=" + "安全生厂")
    offer = page.locator("#did-you-mean")
    expect(offer).to_be_visible()
    expect(offer).to_have_text("您是不是要找：安全生产")
    shot(page, "13-did-you-mean", full_page=False)
    offer.locator("a").click()
    wait_results(page)
    assert query_of(page.url)["q"] == ["安全生产"]
    expect(page.locator("#did-you-mean")).to_be_hidden()
    expect(page.locator("#q")).to_have_value("安全生产")
    watch.assert_clean(api.url)


def test_widget_offers_did_you_mean(page, api: ApiProcess, portal: str) -> None:
    page, watch = page
    widget, box = _open_widget(page, portal)
    box.fill("禁铺退捕")
    box.press("Enter")
    offer = widget.locator(".dym")
    expect(offer).to_have_text("您是不是要找：禁捕退捕")
    offer.locator("button").click()
    expect(box).to_have_value("禁捕退捕")
    expect(widget.locator(".dym")).to_have_count(0)
    expect(widget.locator(".snippet em").first).to_be_visible()
    expect(widget.locator(".meta").first).not_to_contain_text("意思相近")
    box.fill("量子计算机火箭")  # no article holds these words: what the vector side found is labelled
    box.press("Enter")
    expect(widget.locator(".meta").first).to_contain_text("意思相近")
    watch.assert_clean(api.url, portal)


def test_a_month_in_the_query_shows_as_a_removable_date_filter(page, api: ApiProcess) -> None:
    page, watch = page
    page.goto(api.url + "/?q=" + "2023年2月 疫情防控")
    wait_results(page)
    understood = page.locator("#understood")
    expect(understood).to_be_visible()
    date_chip = understood.locator("a.chip")
    expect(date_chip).to_contain_text("时间：2023-02-01 至 2023-02-28")
    filtered = total_of(page)
    shot(page, "14-understood-date", full_page=False)
    date_chip.click()
    expect(page.locator("#understood")).to_be_hidden()
    wait_results(page)
    assert query_of(page.url)["q"] == ["疫情防控"]
    assert total_of(page) > filtered
    watch.assert_clean(api.url)


def test_a_date_range_with_no_answer_is_said_and_the_words_found_at_any_time(page, api: ApiProcess) -> None:
    page, watch = page
    page.goto(api.url + "/?q=" + "2022年12月29日 人民代表大会")  # published in February 2023
    wait_results(page)
    expect(page.locator("#understood")).to_contain_text("2022-12-29 至 2022-12-29 没有相关文章，已显示全部时间的结果")
    expect(page.locator("#understood a.chip")).to_have_count(0)  # no filter is applied, none to remove
    expect(page.locator("#results .hit").first).to_contain_text("人民代表大会")
    watch.assert_clean(api.url)


def test_plain_words_show_the_official_terms_also_searched(page, api: ApiProcess) -> None:
    # The repo's synonym file (the browser API's node holds no other set): 老人 → 老年人, 打针 → 疫苗接种/接种疫苗.
    page, watch = page
    page.goto(api.url + "/?q=" + "老人打针")
    wait_results(page)
    also = page.locator("#understood .understood-synonyms")
    expect(also).to_have_text("同时搜索：老年人、疫苗接种、接种疫苗")
    expect(page.locator("#understood a.chip")).to_have_count(0)  # nothing to remove: no date filter
    expect(page.locator("#results .snippet em", has_text="老年人").first).to_be_visible()
    shot(page, "14b-understood-synonyms", full_page=False)
    page.locator("#q").fill("安全生产检查")
    page.locator("#q").press("Enter")
    wait_results(page)
    expect(page.locator("#understood")).to_be_hidden()
    watch.assert_clean(api.url)


def test_widget_shows_the_official_terms_also_searched(page, api: ApiProcess, portal: str) -> None:
    page, watch = page
    widget, box = _open_widget(page, portal)
    box.fill("老人打针")
    box.press("Enter")
    expect(widget.locator(".synonyms")).to_have_text("同时搜索：老年人、疫苗接种、接种疫苗")
    box.fill("安全生产检查")
    box.press("Enter")
    expect(widget.locator("li").first).to_be_visible()
    expect(widget.locator(".synonyms")).to_have_count(0)
    watch.assert_clean(api.url, portal)


def test_widget_says_what_date_it_read_and_when_it_searched_any_time(page, api: ApiProcess, portal: str) -> None:
    page, watch = page
    widget, box = _open_widget(page, portal)
    box.fill("2023年2月 疫情防控")
    box.press("Enter")
    expect(widget.locator(".date-read")).to_have_text("时间：2023-02-01 至 2023-02-28")
    box.fill("2022年12月29日 人民代表大会")  # published in February 2023
    box.press("Enter")
    expect(widget.locator(".date-read")).to_have_text("2022-12-29 至 2022-12-29 没有相关文章，已显示全部时间的结果")
    expect(widget.locator("li").first).to_contain_text("人民代表大会")
    watch.assert_clean(api.url, portal)


def test_hot_searches_on_the_start_view_and_a_result_click_is_reported(page, api: ApiProcess, es) -> None:
    page, watch = page
    search_as_people(api, "垃圾分类", 5)  # the privacy floor (SUGGEST_MIN_SEARCHES)
    for _ in range(50):  # written in the background, searchable after the next refresh (≤ 1 s)
        if any(item["query"] == "垃圾分类" for item in httpx.get(api.url + "/hot").json()["hot"]):
            break
        page.wait_for_timeout(200)
    page.goto(api.url + "/")
    hot = page.locator("#hot")
    expect(hot).to_be_visible()
    expect(hot).to_contain_text("热门搜索")
    shot(page, "15-hot-searches", full_page=False)
    hot.locator("a", has_text="垃圾分类").click()
    wait_results(page)
    assert query_of(page.url)["q"] == ["垃圾分类"]
    with page.expect_request(lambda r: r.url.endswith("/events/click")) as sent:
        page.locator("#results .hit-title a").first.click()
    body = json.loads(sent.value.post_data or "{}")
    assert body["query"] == "垃圾分类" and body["position"] == 1 and body["article_id"]
    clicked = {"bool": {"filter": [{"term": {"kind": "click"}}, {"term": {"article_id": body["article_id"]}}]}}
    for _ in range(50):  # the API logged it, in the background
        es.indices.refresh(index=QUERY_LOG)
        if es.count(index=QUERY_LOG, query=clicked)["count"]:
            break
        page.wait_for_timeout(200)
    assert es.count(index=QUERY_LOG, query=clicked)["count"] >= 1
    watch.assert_clean(api.url)


def test_best_bets_show_above_the_results(page, api: ApiProcess, portal: str, es, settings) -> None:
    page, watch = page
    # The browser API has no admin token: the rule goes straight into its BEST_BETS_INDEX;
    # the API re-reads rules within 10 s.
    if not es.indices.exists(index=settings.best_bets_index):
        body = load_mapping("bestbets")
        es.indices.create(index=settings.best_bets_index, settings=body["settings"], mappings=body["mappings"])
    es.index(index=settings.best_bets_index, id="browser-permit", refresh="wait_for",
             document={"query": "垃圾分类", "match": "exact", "title": "垃圾分类投放指南", "url": "/view/guide"})
    try:
        for _ in range(30):
            page.goto(api.url + "/?q=" + "垃圾分类")
            wait_results(page)
            if page.locator("#best-bets").is_visible():
                break
            page.wait_for_timeout(500)
        box = page.locator("#best-bets")
        expect(box).to_be_visible()
        expect(box.locator("h2")).to_have_text("办事直达")
        expect(box.locator("a")).to_have_text("垃圾分类投放指南")
        expect(box.locator("a")).to_have_attribute("href", api.url + "/view/guide")
        shot(page, "16-best-bets", full_page=False)
        # The widget on a portal's page shows the same rule above its results, linking on the API host.
        page.goto(portal + "/host.html")
        widget = page.locator("#gov-search")
        widget.locator("input[type=search]").fill("垃圾分类")
        widget.locator("input[type=search]").press("Enter")
        bet = widget.locator("ul.best-bets a")
        expect(bet).to_have_text("办事直达：垃圾分类投放指南")
        expect(bet).to_have_attribute("href", api.url + "/view/guide")
        expect(widget.locator("ul.best-bets + *")).to_be_visible()  # the results follow it
        watch.assert_clean(api.url, portal)
    finally:
        es.delete(index=settings.best_bets_index, id="browser-permit", refresh="wait_for")


def test_results_found_by_meaning_alone_are_labelled_and_said_to_be_loose(page, api: ApiProcess) -> None:
    """A query sharing no word with any article (the sample has nothing on quantum computers or rockets) still
    gets the vector side's closest articles: they are labelled 意思相近, and a notice says nothing held the words."""
    page, watch = page
    page.goto(api.url + "/?q=" + "量子计算机火箭")
    wait_results(page)
    hits = page.locator("#results .hit")
    assert hits.count() > 0
    expect(page.locator("#notice")).to_have_text("没有找到包含“量子计算机火箭”中词语的文章，以下是意思相近的结果，仅供参考。")
    expect(hits.locator(".by-meaning")).to_have_count(hits.count())
    shot(page, "15-meaning-only", full_page=False)

    page.goto(api.url + "/?q=" + QUERY)  # words found: no notice, and the first hits hold the words
    wait_results(page)
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("#results .hit").first.locator(".by-meaning")).to_have_count(0)
    watch.assert_clean(api.url)
