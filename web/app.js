/* gov-search: the search page. State lives in the URL query string (same names as the /search API),
 * so back/forward work and every result page can be shared as a link. No framework, no build step. */
(function () {
  "use strict";
  const { el, renderSnippet, highlight, queryTerms, fetchJSON, safeHttpUrl, combobox, MAX_QUERY_CHARS } = govSearchCommon();

  // The API's limits (service/routes/search.py, service/params.py; tests/unit/test_web_limits.py keeps them equal).
  const MAX_WINDOW = 1000;
  const MAX_SIZE = 50;
  const DEFAULTS = { q: "", mode: "hybrid", sort: "relevance", page: 1, size: 10, time: "", date_from: "", date_to: "",
                     town: [], publisher: [], department: [] };
  const MODES = ["hybrid", "bm25", "vector"];
  const SIZES = [10, 20, 50];
  const FACETS = [
    { name: "town", label: "镇（街道）" },
    { name: "publisher", label: "发布单位" },
    { name: "department", label: "部门" },
    { name: "year", label: "年份" },
  ];
  const FILTER_LABELS = { town: "镇（街道）", publisher: "发布单位", department: "部门" };
  const FILTERS = Object.keys(FILTER_LABELS);  // the repeatable filters, as the API names them

  const $ = (id) => document.getElementById(id);
  const form = $("search-form"), input = $("q"), list = $("suggestions");
  const statusEl = $("status"), resultsEl = $("results"), errorEl = $("error"), noticeEl = $("notice");
  const facetsEl = $("facets"), pagerEl = $("pagination"), activeEl = $("active-filters"), welcomeEl = $("welcome");

  // ---- state <-> URL -------------------------------------------------------------------------

  function readState(search) {
    const params = new URLSearchParams(search);
    const int = (name, fallback) => {
      const value = parseInt(params.get(name) || "", 10);
      return Number.isFinite(value) && value > 0 ? value : fallback;
    };
    const date = (name) => (/^\d{4}-\d{2}-\d{2}$/.test(params.get(name) || "") ? params.get(name) : "");
    const time = Object.prototype.hasOwnProperty.call(TIME_PRESETS, params.get("time")) ? params.get("time") : "";
    return {
      // As the API reads it (trimmed, at most MAX_QUERY_CHARS characters): a hand-edited or shared link with a
      // blank or over-long q shows the start view or its first 200 characters, not a 422.
      q: Array.from((params.get("q") || "").trim()).slice(0, MAX_QUERY_CHARS).join(""),
      mode: MODES.includes(params.get("mode")) ? params.get("mode") : DEFAULTS.mode,
      sort: params.get("sort") === "date" ? "date" : "relevance",
      page: int("page", 1),
      size: Math.min(int("size", DEFAULTS.size), MAX_SIZE),  // a hand-edited link must not fail with a 422
      time,  // a preset replaces the date range
      date_from: time ? "" : date("date_from"),
      date_to: time ? "" : date("date_to"),
      ...Object.fromEntries(FILTERS.map((name) => [name, params.getAll(name).filter(Boolean)])),
    };
  }

  /** The query string for a state; defaults are left out to keep links short. The page's URL keeps a
   * time preset as `time=week|month|year` (a shared link stays "this week" tomorrow); the API gets the
   * date it stands for as `date_from`. */
  function toQuery(state, { forApi = false } = {}) {
    const params = new URLSearchParams();
    params.set("q", state.q);
    const api = forApi && state.time ? Object.assign({}, state, { date_from: presetStart(state.time, new Date()) }) : state;
    for (const name of ["mode", "sort", "page", "size", forApi ? null : "time", "date_from", "date_to"]) {
      if (name && api[name] !== "" && (forApi || api[name] !== DEFAULTS[name])) params.set(name, String(api[name]));
    }
    for (const name of FILTERS) for (const value of state[name]) params.append(name, value);
    return params.toString();
  }

  const with_ = (state, changes) => Object.assign({}, state, { page: 1 }, changes);
  const pageHref = (state) => "/?" + toQuery(state);

  // ---- form <-> state ------------------------------------------------------------------------

  function fillForm(state) {
    input.value = state.q;
    $("date_from").value = state.date_from;
    $("date_to").value = state.date_to;
    fillTimePresets(state);
    $("sort").value = state.sort;
    const size = $("size");
    if (!SIZES.includes(state.size) && !Array.from(size.options).some((o) => o.value === String(state.size))) {
      size.append(el("option", { value: state.size }, String(state.size)));
    }
    size.value = String(state.size);
    for (const radio of form.querySelectorAll('input[name="mode"]')) radio.checked = radio.value === state.mode;
    if (state.mode !== DEFAULTS.mode) $("advanced").open = true;
  }

  function stateFromForm(current) {
    const mode = form.querySelector('input[name="mode"]:checked');
    const time = checkedTime();
    const custom = time === "custom";
    return with_(current, {
      q: input.value.trim(),
      time: custom ? "" : time,
      date_from: custom ? $("date_from").value : "",
      date_to: custom ? $("date_to").value : "",
      sort: $("sort").value,
      mode: mode ? mode.value : DEFAULTS.mode,
      size: parseInt($("size").value, 10) || DEFAULTS.size,
    });
  }

  // ---- time presets: 不限 / 一周内 / 一月内 / 一年内 / 自定义 (the date range inputs) --------------

  const TIME_PRESETS = { week: { label: "一周内", days: 7 }, month: { label: "一月内", months: 1 },
                         year: { label: "一年内", months: 12 } };

  /** The first day a preset covers, counted back from `today` in the reader's own calendar (YYYY-MM-DD).
   * A month back from 31 March is the last day of February, not 3 March. */
  function presetStart(time, today) {
    const preset = TIME_PRESETS[time];
    const day = new Date(today.getFullYear(), today.getMonth(), today.getDate());
    if (preset.days) day.setDate(day.getDate() - preset.days);
    else {
      const target = new Date(day.getFullYear(), day.getMonth() - preset.months, 1);
      const lastDay = new Date(target.getFullYear(), target.getMonth() + 1, 0).getDate();
      day.setTime(new Date(target.getFullYear(), target.getMonth(), Math.min(day.getDate(), lastDay)).getTime());
    }
    const pad = (n) => String(n).padStart(2, "0");
    return `${day.getFullYear()}-${pad(day.getMonth() + 1)}-${pad(day.getDate())}`;
  }

  // A change of the form's controls searches once they rest this long (ms): one search, one history entry.
  const CONTROL_DELAY = 350;
  let controlTimer = null;
  const timeRadios = Array.from(form.querySelectorAll('input[name="time"]'));
  const checkedTime = () => (timeRadios.find((radio) => radio.checked) || { value: "" }).value;

  /** 自定义 is checked (and the date inputs shown) when the state has a date range. */
  function fillTimePresets(state) {
    const value = state.time || (state.date_from || state.date_to ? "custom" : "");
    for (const radio of timeRadios) radio.checked = radio.value === value;
    $("custom-dates").hidden = value !== "custom";
  }

  for (const radio of timeRadios) {
    radio.addEventListener("change", () => {
      const custom = radio.value === "custom";
      $("custom-dates").hidden = !custom;
      clearTimeout(controlTimer);
      if (custom) { $("date_from").focus(); return; }  // searches once a date is entered
      // Arrow keys move the choice across the presets: search (and add to the history) where it stops.
      controlTimer = setTimeout(() => { if (current.q) navigate(stateFromForm(current)); }, CONTROL_DELAY);
    });
  }

  // ---- navigation ----------------------------------------------------------------------------

  let current = readState(window.location.search);
  let inflight = null;

  // Where the reader was on each history entry: results render after the browser would restore the scroll
  // position, so the page does it itself, once they are there (back from an article, or within the page).
  window.history.scrollRestoration = "manual";
  const rememberScroll = () => window.history.replaceState({ scrollY: window.scrollY }, "");
  const rememberedScroll = () => (window.history.state && Number.isFinite(window.history.state.scrollY)
    ? window.history.state.scrollY : null);
  window.addEventListener("pagehide", rememberScroll);
  let scrollTimer = null;
  window.addEventListener("scroll", () => {
    clearTimeout(scrollTimer);
    scrollTimer = setTimeout(rememberScroll, 200);
  }, { passive: true });

  function navigate(state, { focusResults = false } = {}) {
    const url = pageHref(state);
    rememberScroll();
    if (url !== window.location.pathname + window.location.search) window.history.pushState(null, "", url);
    current = state;
    fillForm(state);
    run(state, { focusResults });
  }

  /** Links inside the page (facets, pagination, chips) carry real hrefs; a plain click stays in-page. */
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a[data-nav]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey
        || event.altKey) return;
    event.preventDefault();
    // The link is gone once the page re-renders: focus moves to the results (a new page scrolls to its top;
    // a filter leaves the view where it is), so a keyboard user is never dropped back to <body>.
    navigate(readState(new URL(link.href).search), { focusResults: link.dataset.nav === "page" ? "top" : "here" });
  });

  window.addEventListener("popstate", () => {
    current = readState(window.location.search);
    fillForm(current);
    run(current, { scrollTo: rememberedScroll() });
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();  // the suggestions close themselves on submit
    const state = stateFromForm(current);
    if (!state.q) { input.focus(); return; }
    navigate(state);
  });

  for (const id of ["date_from", "date_to", "sort", "size"]) {
    $(id).addEventListener("change", () => {
      clearTimeout(controlTimer);
      controlTimer = setTimeout(() => { if (current.q) navigate(stateFromForm(current)); }, CONTROL_DELAY);
    });
  }
  for (const radio of form.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", () => { if (current.q) navigate(stateFromForm(current)); });
  }

  // ---- search --------------------------------------------------------------------------------

  function show(node, visible) {
    node.hidden = !visible;
    if (node === facetsEl) document.body.classList.toggle("has-facets", visible);
  }

  async function run(state, { focusResults, scrollTo = null }) {
    if (inflight) inflight.abort();
    show(errorEl, false);
    show(noticeEl, false);
    show(didYouMeanEl, false);
    show(understoodEl, false);
    show(bestBetsEl, false);
    if (!state.q) {
      document.title = "政务搜索";
      resultsEl.replaceChildren();
      statusEl.textContent = "";
      for (const node of [facetsEl, pagerEl, activeEl]) show(node, false);
      show(welcomeEl, true);
      document.body.classList.remove("has-query");
      return;
    }
    document.body.classList.add("has-query");
    show(welcomeEl, false);
    document.title = `${state.q} - 政务搜索`;
    renderActiveFilters(state);
    const controller = new AbortController();
    inflight = controller;
    resultsEl.setAttribute("aria-busy", "true");
    document.body.classList.add("is-loading");
    statusEl.textContent = "正在搜索…";
    try {
      const data = await fetchJSON("/search?" + toQuery(state, { forApi: true }), { signal: controller.signal });
      if (controller !== inflight) return;
      render(state, data);
      if (focusResults) resultsEl.focus({ preventScroll: true });
      if (focusResults === "top") window.scrollTo(0, 0);
      else if (scrollTo !== null) window.scrollTo(0, scrollTo);
    } catch (err) {
      if (err.name === "AbortError" || controller !== inflight) return;
      renderError(err);
    } finally {
      if (controller === inflight) {
        inflight = null;
        resultsEl.removeAttribute("aria-busy");
        document.body.classList.remove("is-loading");
      }
    }
  }

  function render(state, data) {
    const total = data.total;
    const took = Math.round(data.took_ms);
    statusEl.replaceChildren(
      "找到 ", el("strong", { class: "total" }, String(total)), " 条结果",
      total > 0 && state.page > 1 ? `，第 ${state.page} 页` : "",
      el("span", { class: "took" }, `（用时 ${took} 毫秒）`),
    );
    if (data.degraded) {
      noticeEl.textContent = "语义检索模型暂不可用，当前结果仅基于关键词匹配。";
      show(noticeEl, true);
    } else if (state.mode !== "vector" && state.page === 1 && data.hits.length
               && data.hits.every((hit) => hit.match === "meaning")) {
      // Nothing holds the words typed: say so, rather than let loosely related articles pass for matches.
      noticeEl.textContent = `没有找到包含“${state.q}”中词语的文章，以下是意思相近的结果，仅供参考。`;
      show(noticeEl, true);
    }
    renderDidYouMean(state, data);
    renderUnderstood(state, data);
    renderBestBets(data);
    renderFacets(state, data.facets || {});
    if (!data.hits.length) {
      resultsEl.replaceChildren(renderEmpty(state, total));
      show(pagerEl, false);
      return;
    }
    resultsEl.replaceChildren(el("ol", { class: "hit-list", start: (state.page - 1) * state.size + 1 },
      data.hits.map((hit) => renderHit(state, hit))));
    renderPagination(state, total);
  }

  function renderHit(state, hit) {
    const href = "/article.html?" + new URLSearchParams({ id: hit.id, q: state.q, back: toQuery(state) }).toString();
    const meta = [hit.publisher || hit.town, hit.department, hit.date].filter(Boolean);
    const original = hit.url ? safeHttpUrl(hit.url) : null;
    return el("li", { class: "hit" },
      el("h2", { class: "hit-title" }, el("a", { href }, hit.title ? renderSnippet(hit.title_snippet, hit.title)
                                                                   : "（无标题）")),
      el("p", { class: "snippet" }, renderSnippet(hit.snippet, hit.text)),
      el("p", { class: "hit-meta" },
        hit.match === "meaning" ? el("span", { class: "by-meaning", title: "不含搜索的词语，按意思找到" }, "意思相近") : null,
        meta.map((value, i) => [i ? el("span", { class: "sep", "aria-hidden": "true" }, "·") : null,
                                 el("span", {}, value)]),
        original ? [el("span", { class: "sep", "aria-hidden": "true" }, "·"),
                    el("a", { class: "original", href: original, rel: "noopener noreferrer" }, "原文")] : null),
    );
  }

  function renderEmpty(state, total) {
    const filtered = FILTERS.some((name) => state[name].length) || state.time || state.date_from || state.date_to;
    const box = el("div", { class: "empty" },
      el("h2", {}, total > 0 ? "这一页没有更多结果" : `没有找到与“${state.q}”相关的结果`));
    const tips = el("ul", {});
    if (total > 0) {
      tips.append(el("li", {}, el("a", { href: pageHref(with_(state, {})), "data-nav": "page" }, "回到第一页")));
    } else {
      tips.append(el("li", {}, "检查是否有错别字，或换用更常见、更简短的词语。"));
      if (filtered) {
        tips.append(el("li", {}, "减少筛选条件：",
          el("a", { href: pageHref(unfiltered(state)), "data-nav": "filter" }, "清除全部筛选")));
      }
      if (state.mode === "bm25") {
        tips.append(el("li", {}, "试试",
          el("a", { href: pageHref(with_(state, { mode: "hybrid" })), "data-nav": "filter" }, "混合检索"),
          "，它也能找到意思相近的内容。"));
      }
    }
    box.append(tips);
    return box;
  }

  function renderError(err) {
    statusEl.textContent = "搜索未能完成";
    resultsEl.replaceChildren();
    for (const node of [facetsEl, pagerEl]) show(node, false);
    // A request the API refused (4xx) fails the same way again; outages and network errors may not.
    const retryable = !err.status || err.status >= 500 || err.status === 429;
    errorEl.replaceChildren(
      el("h2", {}, "搜索出错"),
      el("p", { class: "error-message" }, err.message),
      // The button is gone once the search answers: focus moves to the results, not back to <body>.
      ...(retryable ? [el("button", { type: "button", class: "retry",
                                      onclick: () => run(current, { focusResults: "here" }) }, "重试")] : []),
    );
    show(errorEl, true);
  }

  // ---- did you mean (typo correction), what the query was understood as ----------------------

  const didYouMeanEl = $("did-you-mean"), understoodEl = $("understood");

  // The API offers a correction when a word of the query occurs nowhere in the index (安全生厂 → 安全生产):
  // a link that searches the corrected words with the same filters, from the first page.
  function renderDidYouMean(state, data) {
    if (!data.did_you_mean) return;
    didYouMeanEl.replaceChildren("您是不是要找：",
      el("a", { href: pageHref(with_(state, { q: data.did_you_mean })), "data-nav": "filter", lang: "zh-CN" },
        data.did_you_mean));
    show(didYouMeanEl, true);
  }

  // The official terms the API searched for plain words of the query (老人 → 老年人), once each.
  function synonymTerms(u) {
    return [...new Set((u.synonyms || []).flatMap((s) => s.terms))];
  }

  // Date words the API read as a date range (2022年12月, 去年, 上个月) show as a filter; removing it
  // searches the words alone. When the range held nothing answering the query, the results are of any
  // time, and the page says so. A town named in the query is shown as boosted, the official terms
  // searched besides plain words as 同时搜索.
  function renderUnderstood(state, data) {
    const u = data.understood;
    if (!u) return;
    const parts = [];
    if (u.date_from && u.date_applied) {
      parts.push(chip(`时间：${u.date_from} 至 ${u.date_to}`, with_(state, { q: u.text })));
    } else if (u.date_from) {
      // Nothing of that time answered the query: the API searched its words at any time instead.
      parts.push(el("span", { class: "understood-date-relaxed" },
        `${u.date_from} 至 ${u.date_to} 没有相关文章，已显示全部时间的结果`));
    }
    if (u.town) parts.push(el("span", { class: "understood-town" }, `优先显示：${u.town}`));
    const terms = synonymTerms(u);
    if (terms.length) parts.push(el("span", { class: "understood-synonyms" }, `同时搜索：${terms.join("、")}`));
    understoodEl.replaceChildren(el("span", { class: "label" }, "已为您识别："), ...parts);
    show(understoodEl, true);
  }

  // ---- best bets (办事直达) --------------------------------------------------------------------

  const bestBetsEl = $("best-bets");

  // What administrators pinned for this query (/admin/bestbets): an article of the index or a link.
  function renderBestBets(data) {
    const items = (data.best_bets || []).map((bet) => {
      const href = bet.article_id ? "/article.html?" + new URLSearchParams({ id: bet.article_id }).toString()
        : safeHttpUrl(bet.url);
      return href ? el("li", {}, el("a", { href }, bet.title)) : null;
    }).filter(Boolean);
    if (!items.length) return;
    bestBetsEl.replaceChildren(el("h2", { id: "best-bets-heading" }, "办事直达"), el("ul", {}, items));
    show(bestBetsEl, true);
  }

  // ---- hot searches (热门搜索) and result clicks ------------------------------------------------

  // The most searched queries that found something (GET /hot), under the welcome text. Optional: the
  // page works the same when the list is empty or the request fails.
  async function loadHot() {
    let data;
    try { data = await fetchJSON("/hot?size=8"); } catch (_) { return; }
    const hotEl = $("hot");
    const links = (data.hot || []).map((item) => el("a", { href: pageHref(with_(DEFAULTS, { q: item.query })),
      "data-nav": "filter" }, item.query));
    if (!links.length) return;
    hotEl.replaceChildren(el("span", { class: "hot-label" }, "热门搜索："), ...links);
    show(hotEl, true);
  }

  // A result opened: its query, article id and rank go to POST /events/click (click-through in the
  // admin analytics; nothing about the reader). keepalive lets it finish while the page navigates.
  resultsEl.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest(".hit-title a");
    if (!link) return;
    const items = Array.from(resultsEl.querySelectorAll(".hit"));
    const position = (current.page - 1) * current.size + items.indexOf(link.closest(".hit")) + 1;
    const id = new URL(link.href).searchParams.get("id");
    fetch("/events/click", { method: "POST", keepalive: true, credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ query: current.q, article_id: id, position }) }).catch(() => {});
  });

  // ---- facets, filters, pagination -----------------------------------------------------------

  function yearRange(year) { return { date_from: `${year}-01-01`, date_to: `${year}-12-31` }; }

  function isActive(state, name, value) {
    if (name === "year") {
      const range = yearRange(value);
      return state.date_from === range.date_from && state.date_to === range.date_to;
    }
    return state[name].includes(String(value));
  }

  /** The state without any filter or date condition. */
  function unfiltered(state) {
    return with_(state, { ...Object.fromEntries(FILTERS.map((name) => [name, []])), time: "", date_from: "", date_to: "" });
  }

  function toggled(state, name, value) {
    if (name === "year") {
      return with_(state, isActive(state, name, value) ? { date_from: "", date_to: "" } : Object.assign({ time: "" }, yearRange(value)));
    }
    const values = state[name].includes(String(value))
      ? state[name].filter((v) => v !== String(value)) : state[name].concat(String(value));
    return with_(state, { [name]: values });
  }

  function renderFacets(state, facets) {
    const groups = [];
    for (const { name, label } of FACETS) {
      const buckets = (facets[name] || []).slice();
      // A selected value stays visible (and removable) even when it has no bucket.
      if (name !== "year") {
        for (const value of state[name]) {
          if (!buckets.some((b) => String(b.value) === value)) buckets.push({ value, count: 0 });
        }
      }
      if (name === "year") buckets.sort((a, b) => Number(b.value) - Number(a.value));
      if (!buckets.length) continue;
      const headingId = `facet-${name}`;
      groups.push(el("section", { class: "facet", "aria-labelledby": headingId },
        el("h3", { id: headingId }, label),
        el("ul", {}, buckets.map((bucket) => {
          const active = isActive(state, name, bucket.value);
          const text = name === "year" ? `${bucket.value} 年` : String(bucket.value);
          return el("li", {}, el("a", {
            href: pageHref(toggled(state, name, bucket.value)), "data-nav": "filter", class: active ? "active" : null,
            "aria-current": active ? "true" : null,
            "aria-label": `${label}：${text}，${bucket.count} 条${active ? "，已选中，再次点击取消" : ""}`,
          }, el("span", { class: "facet-value" }, text), el("span", { class: "count" }, String(bucket.count))));
        }))));
    }
    // One disclosure: open beside the results on a wide screen; on a phone, where it would stand above them,
    // closed until asked for (the chips above the results say what is chosen).
    const chosen = FILTERS.reduce((n, name) => n + state[name].length, 0)
      + (state.time || state.date_from || state.date_to ? 1 : 0);
    const panel = el("details", { class: "facet-panel" },
      el("summary", {}, el("h2", { class: "facets-title" }, "筛选", chosen ? `（已选 ${chosen} 项）` : "")),
      ...groups);
    panel.open = !NARROW.matches;
    facetsEl.replaceChildren(panel);
    show(facetsEl, groups.length > 0);
  }

  const NARROW = window.matchMedia("(max-width: 760px)");  // style.css's narrow-screen rules
  NARROW.addEventListener("change", () => {
    const panel = facetsEl.querySelector(".facet-panel");
    if (panel) panel.open = !NARROW.matches;
  });

  function renderActiveFilters(state) {
    const chips = [];
    for (const name of FILTERS) {
      for (const value of state[name]) {
        chips.push(chip(`${FILTER_LABELS[name]}：${value}`, toggled(state, name, value)));
      }
    }
    if (state.date_from || state.date_to) {
      const label = state.date_from && state.date_to && state.date_from.slice(0, 4) === state.date_to.slice(0, 4)
        && state.date_from.endsWith("-01-01") && state.date_to.endsWith("-12-31")
        ? `${state.date_from.slice(0, 4)} 年` : `${state.date_from || "…"} 至 ${state.date_to || "…"}`;
      chips.push(chip(`日期：${label}`, with_(state, { date_from: "", date_to: "" })));
    }
    if (state.time) chips.push(chip(`日期：${TIME_PRESETS[state.time].label}`, with_(state, { time: "" })));
    if (chips.length > 1) {
      chips.push(el("a", { class: "clear-all", "data-nav": "filter",
        href: pageHref(unfiltered(state)) }, "清除全部"));
    }
    activeEl.replaceChildren(...(chips.length ? [el("span", { class: "label" }, "已选条件："), ...chips] : []));
    show(activeEl, chips.length > 0);
  }

  function chip(text, target) {
    return el("a", { class: "chip", href: pageHref(target), "data-nav": "filter", "aria-label": `取消筛选 ${text}` },
      el("span", {}, text), el("span", { class: "chip-x", "aria-hidden": "true" }, "×"));
  }

  function renderPagination(state, total) {
    const last = Math.max(1, Math.min(Math.ceil(total / state.size), Math.floor(MAX_WINDOW / state.size)));
    if (last <= 1) { show(pagerEl, false); return; }
    const page = Math.min(state.page, last);
    const link = (n, text, extra) => el("a", Object.assign({ href: pageHref(Object.assign({}, state, { page: n })),
      "data-nav": "page" }, extra || {}), text);
    const items = [];
    items.push(page > 1 ? link(page - 1, "上一页", { rel: "prev", class: "prev" })
                        : el("span", { class: "prev disabled", "aria-disabled": "true" }, "上一页"));
    const numbers = new Set([1, last]);
    for (let n = page - 2; n <= page + 2; n++) if (n >= 1 && n <= last) numbers.add(n);
    let previous = 0;
    for (const n of Array.from(numbers).sort((a, b) => a - b)) {
      if (n - previous > 1) items.push(el("span", { class: "gap", "aria-hidden": "true" }, "…"));
      items.push(n === page ? el("span", { class: "current", "aria-current": "page" }, String(n))
                            : link(n, String(n), { "aria-label": `第 ${n} 页` }));
      previous = n;
    }
    items.push(page < last ? link(page + 1, "下一页", { rel: "next", class: "next" })
                           : el("span", { class: "next disabled", "aria-disabled": "true" }, "下一页"));
    pagerEl.replaceChildren(...items);
    show(pagerEl, true);
  }

  // ---- suggestions (ARIA combobox) -----------------------------------------------------------

  // A popular past query (kind "query") and an article title (kind "title") both search their text:
  // the title's own article comes first (exact-title match). Queries are marked by the stylesheet.
  combobox(input, list, form, {
    idPrefix: "suggestion",
    load: (text, signal) => fetchJSON("/suggest?" + new URLSearchParams({ q: text, size: "8" }), { signal })
      .then((data) => data.suggestions || []),
    label: (item, text) => {
      const terms = queryTerms(text);
      return highlight(item.text, terms.length ? terms : [text]);
    },
  });

  // ---- start ---------------------------------------------------------------------------------

  fillForm(current);
  run(current, { scrollTo: rememberedScroll() });
  loadHot();
  if (!current.q) input.focus();
})();
