/* gov-search embeddable widget.
 *
 *   <div id="gov-search"></div>
 *   <script src="https://SEARCH-HOST/widget.js" data-target="#gov-search" data-api-key="..."
 *           data-placeholder="搜索本镇政务信息" data-size="5" async></script>
 *
 * Renders a search box and results inside a Shadow DOM (no CSS leaks in or out) and calls the API by
 * absolute URL, derived from this script's own src. Text from the index is inserted with textContent;
 * snippets are rebuilt from text and <em> only. The API serves this file inside one function scope
 * after common.js (the helpers and suggestion box the pages use too, `govSearchCommon`), so the
 * widget adds no global besides window.GovSearchWidget. */
(function () {
  "use strict";

  const script = document.currentScript
    || Array.from(document.querySelectorAll('script[src*="widget.js"]')).find((s) => !s.dataset.govSearchMounted);
  if (!script) return;
  script.dataset.govSearchMounted = "1";

  const base = new URL(".", script.src);              // the API root, e.g. https://search.example.gov.cn/
  const apiKey = script.dataset.apiKey || "";
  const placeholder = script.dataset.placeholder || "搜索政务信息";
  const size = Math.min(Math.max(parseInt(script.dataset.size || "5", 10) || 5, 1), 20);
  const { el, renderSnippet, combobox, fetchJSON, MAX_QUERY_CHARS } = govSearchCommon();
  const headers = () => Object.assign({ Accept: "application/json" }, apiKey ? { "X-API-Key": apiKey } : {});

  const CSS = `
    :host { all: initial; display: block; }
    /* The host page's rules on the host element win over :host, and inherited properties (color,
       font, letter-spacing…) would flow in: reset everything again on our own root element. */
    .root { all: initial; display: block; font-family: "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei",
      "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", system-ui, sans-serif;
      font-size: 15px; line-height: 1.6; color: #1f2328; text-align: left; }
    * { box-sizing: border-box; }
    .box { border: 1px solid #d8dee4; border-top: 3px solid #b3261e; border-radius: 6px; background: #fff; padding: 12px; }
    form { display: flex; gap: 6px; margin: 0; }
    input { flex: 1; min-width: 0; font: inherit; padding: 7px 10px; border: 2px solid #8c959f; border-radius: 5px;
      color: #1f2328; background: #fff; }
    input:focus { outline: none; border-color: #b3261e; box-shadow: 0 0 0 3px rgba(179, 38, 30, .25); }
    button { font: inherit; font-weight: 600; padding: 0 16px; border: 0; border-radius: 5px; color: #fff;
      background: #b3261e; cursor: pointer; }
    button:hover { background: #8c1d17; }
    :focus-visible { outline: 3px solid #1a73e8; outline-offset: 2px; }
    .status { margin: 8px 0 0; font-size: 13px; color: #57606a; min-height: 1em; }
    .status:empty { display: none; }
    ol { list-style: none; margin: 6px 0 0; padding: 0; }
    li { padding: 8px 0; border-top: 1px solid #eaeef2; }
    li:first-child { border-top: 0; }
    a { color: #0b4ea2; }
    .title { display: block; font-weight: 600; text-decoration: none; }
    .title:hover { text-decoration: underline; }
    .snippet { margin: 2px 0; font-size: 14px; overflow-wrap: anywhere; }
    em { font-style: normal; color: #b3261e; font-weight: 600; }
    .meta { font-size: 12px; color: #57606a; }
    .error { margin: 8px 0 0; padding: 8px 10px; border-left: 4px solid #b3261e; background: #fdf3f2; font-size: 14px; }
    .more { display: inline-block; margin-top: 6px; font-size: 14px; }
    .dym, .synonyms, .date-read { margin: 8px 0 0; font-size: 14px; }
    .synonyms, .date-read { color: #555; }
    .best-bets { margin: 8px 0 0; padding: 6px 10px; list-style: none; background: #fdf3f2; border-left: 4px solid #b3261e; }
    .best-bets li { border: 0; padding: 2px 0; }
    .dym-link, .dym-link:hover { border: 0; background: none; padding: 0; color: #0b4ea2; text-decoration: underline;
      font: inherit; font-weight: 600; cursor: pointer; }
    .combo { position: relative; flex: 1; min-width: 0; display: flex; }
    .suggestions { position: absolute; z-index: 10; left: 0; right: 0; top: calc(100% + 2px); margin: 0; padding: 4px 0;
      list-style: none; background: #fff; border: 1px solid #8c959f; border-radius: 5px;
      box-shadow: 0 6px 18px rgba(0, 0, 0, .12); max-height: 280px; overflow-y: auto; }
    .suggestions[hidden] { display: none; }
    .suggestion { padding: 6px 10px; border: 0; cursor: pointer; overflow: hidden; text-overflow: ellipsis;
      white-space: nowrap; }
    .suggestion:hover, .suggestion[aria-selected="true"] { background: #eef3fb; }
    .suggestion[data-kind="query"]::after { content: "热门搜索"; float: right; margin-left: 8px; font-size: 12px;
      color: #57606a; }
    .label { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
    /* On a touch screen the box, its button and the suggestions are at least 44 px tall (WCAG 2.5.5). */
    @media (pointer: coarse) {
      input, button { min-height: 44px; }
      .suggestion { line-height: 32px; }
      .suggestions { max-height: min(60vh, 400px); }
    }
  `;

  /** "您是不是要找：…" for the API's typo correction: a button that searches the corrected words. */
  function didYouMean(corrected, input, form) {
    const button = el("button", { type: "button", class: "dym-link" }, corrected);
    button.addEventListener("click", () => { input.value = corrected; form.requestSubmit(); });
    return el("p", { class: "dym" }, "您是不是要找：", button);
  }

  /** "同时搜索：…": the official terms the API searched besides plain words of the query (老人 → 老年人). */
  function alsoSearched(understood) {
    const terms = [...new Set(((understood && understood.synonyms) || []).flatMap((s) => s.terms))];
    return terms.length ? el("p", { class: "synonyms" }, "同时搜索：" + terms.join("、")) : null;
  }

  /** The date range the API read out of the query (去年, 2022年12月): applied, or searched at any time when nothing of
   *  that time answered (`understood.date_applied`). */
  function dateRead(understood) {
    if (!understood || !understood.date_from) return null;
    const range = `${understood.date_from} 至 ${understood.date_to}`;
    return el("p", { class: "date-read" }, understood.date_applied ? `时间：${range}`
      : `${range} 没有相关文章，已显示全部时间的结果`);
  }

  /** 办事直达: what administrators pinned for the query, as links on the API's host (or their own URL). */
  function bestBets(bets) {
    return el("ul", { class: "best-bets" }, bets.map((bet) => {
      let href = null;
      if (bet.article_id) {
        const url = new URL("article.html", base);
        url.search = new URLSearchParams({ id: bet.article_id }).toString();
        href = url.href;
      } else {
        try { const url = new URL(bet.url, base); if (/^https?:$/.test(url.protocol)) href = url.href; } catch (_) { href = null; }
      }
      return href ? el("li", {}, el("a", { class: "title", href, target: "_blank", rel: "noopener" }, "办事直达：" + bet.title)) : null;
    }));
  }

  function mount(host) {
    const root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    const uid = "gsw-" + Math.random().toString(36).slice(2, 8);
    const input = el("input", { type: "search", id: uid, placeholder, autocomplete: "off", enterkeyhint: "search",
      maxlength: MAX_QUERY_CHARS,
      role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false", "aria-controls": uid + "-list" });
    const list = el("ul", { class: "suggestions", id: uid + "-list", role: "listbox", "aria-label": "搜索建议", hidden: "" });
    const status = el("p", { class: "status", role: "status", "aria-live": "polite" });
    const results = el("div", {});
    const form = el("form", { role: "search" },
      el("label", { class: "label", for: uid }, placeholder), el("div", { class: "combo" }, input, list),
      el("button", { type: "submit" }, "搜索"));
    root.append(el("style", {}, CSS), el("div", { class: "root" }, el("div", { class: "box", part: "box" }, form, status, results)));
    let controller = null;
    // Popular past queries (marked 热门搜索) and article titles; choosing either searches its text.
    combobox(input, list, form, {
      idPrefix: uid + "-s",
      load: async (text, signal) => {
        const url = new URL("suggest", base);
        url.search = new URLSearchParams({ q: text, size: "6" }).toString();
        const response = await fetch(url, { headers: headers(), signal, credentials: "omit" });
        return response.ok ? ((await response.json()).suggestions || []) : null;
      },
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const q = input.value.trim();
      if (!q) { input.focus(); return; }
      if (controller) controller.abort();
      controller = new AbortController();
      const mine = controller;
      status.textContent = "正在搜索…";
      results.replaceChildren();
      const url = new URL("search", base);
      url.search = new URLSearchParams({ q, size: String(size) }).toString();
      let data;
      try {
        // The pages' own fetch: its errors are told in Chinese by the API's error code (common.js, errorText).
        data = await fetchJSON(url, { headers: headers(), signal: mine.signal, credentials: "omit" });
      } catch (err) {
        if (err.name === "AbortError" || mine !== controller) return;
        status.textContent = "";
        results.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
        return;
      }
      if (mine !== controller) return;
      status.textContent = data.total ? `找到 ${data.total} 条结果` : `没有找到与“${q}”相关的结果`;
      results.replaceChildren(el("ol", {}, data.hits.map((hit) => {
        const href = new URL("article.html", base);
        href.search = new URLSearchParams({ id: hit.id, q, back: new URLSearchParams({ q }).toString() }).toString();
        return el("li", {},
          el("a", { class: "title", href: href.href, target: "_blank", rel: "noopener" },
            hit.title ? renderSnippet(hit.title_snippet, hit.title) : "（无标题）"),
          el("p", { class: "snippet" }, renderSnippet(hit.snippet, hit.text)),
          el("span", { class: "meta" },
            [hit.match === "meaning" ? "意思相近" : null, hit.publisher || hit.town, hit.date].filter(Boolean).join(" · ")));
      })));
      const synonyms = alsoSearched(data.understood);
      if (synonyms) results.prepend(synonyms);
      const dated = dateRead(data.understood);
      if (dated) results.prepend(dated);
      if (data.did_you_mean) results.prepend(didYouMean(data.did_you_mean, input, form));
      if (data.best_bets && data.best_bets.length) results.prepend(bestBets(data.best_bets));
      if (data.total > data.hits.length) {
        const more = new URL(".", base);
        more.search = new URLSearchParams({ q }).toString();
        results.append(el("a", { class: "more", href: more.href, target: "_blank", rel: "noopener" },
          `在政务搜索中查看全部 ${data.total} 条结果 →`));
      }
    });
  }

  function start() {
    const selector = script.dataset.target;
    let host = selector ? document.querySelector(selector) : null;
    if (!host) {
      host = document.createElement("div");
      script.parentNode.insertBefore(host, script.nextSibling);
    }
    if (host.shadowRoot || host.dataset.govSearchWidget) return;
    host.dataset.govSearchWidget = "1";
    mount(host);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  window.GovSearchWidget = { version: "1" };
})();
