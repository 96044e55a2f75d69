/* gov-search: helpers shared by the search page, the article view and the portal widget.
 *
 * One function, govSearchCommon(), returns them. The pages load this file as its own <script> and call
 * it; the API serves the widget (GET /widget.js) as this file and widget.js inside one function scope,
 * so the widget calls it too and still adds no global of its own but window.GovSearchWidget.
 *
 * Escaping rule for the whole front end: text from the index only ever reaches the page through
 * textContent / createTextNode. The one exception is the API's `snippet`, which is HTML-escaped text
 * with <em> marks: it is parsed here into text nodes and <em> elements (never innerHTML), and only if
 * it contains no markup other than <em>/</em>; otherwise the plain passage text is shown instead. */
function govSearchCommon() {  // eslint-disable-line no-unused-vars -- called by app.js, article.js, widget.js
  "use strict";

  /** Create an element; string/number children become text nodes, null/false children are skipped. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const NAMED = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

  /** Decode the entities html.escape() produces (plus numeric ones); unknown ones stay literal text. */
  function decodeEntities(text) {
    return text.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,6});/g, (whole, name) => {
      if (name[0] === "#") {
        const code = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : whole;
      }
      return Object.prototype.hasOwnProperty.call(NAMED, name) ? NAMED[name] : whole;
    });
  }

  /** Is this snippet escaped text with nothing but <em>…</em> marks? */
  function isVettedSnippet(snippet) {
    return typeof snippet === "string" && !/[<>]/.test(snippet.replace(/<\/?em>/g, ""));
  }

  /** The snippet as DOM nodes: text nodes and <em> elements, built without innerHTML. */
  function renderSnippet(snippet, fallbackText) {
    const fragment = document.createDocumentFragment();
    if (!isVettedSnippet(snippet)) {
      fragment.append(document.createTextNode(String(fallbackText || "").slice(0, 160)));
      return fragment;
    }
    let inside = false;
    for (const part of snippet.split(/(<\/?em>)/)) {
      if (part === "<em>") { inside = true; continue; }
      if (part === "</em>") { inside = false; continue; }
      if (!part) continue;
      const text = document.createTextNode(decodeEntities(part));
      if (inside) { const em = document.createElement("em"); em.append(text); fragment.append(em); }
      else fragment.append(text);
    }
    return fragment;
  }

  const HAN_RUN = /\p{Script=Han}+/gu;

  /** Words to highlight for a query: CJK runs of 2+ characters and their bigrams, other words of 2+. */
  function queryTerms(query) {
    const terms = new Set();
    for (const token of String(query || "").toLowerCase().split(/[\s\p{P}\p{S}]+/u)) {
      if (!token) continue;
      for (const run of token.match(HAN_RUN) || []) {
        const chars = Array.from(run);
        if (chars.length < 2) continue;
        terms.add(run);
        for (let i = 0; i + 1 < chars.length; i++) terms.add(chars[i] + chars[i + 1]);
      }
      for (const word of token.split(HAN_RUN)) {
        if (Array.from(word).length >= 2) terms.add(word);
      }
    }
    return Array.from(terms).sort((a, b) => b.length - a.length);
  }

  /** Plain text as nodes, every occurrence of a term wrapped in <mark>; touching or overlapping
   * occurrences become one mark (安全 + 生产 → one mark around 安全生产). */
  function highlight(text, terms) {
    const fragment = document.createDocumentFragment();
    text = String(text || "");
    const lower = text.toLowerCase();
    const haystack = lower.length === text.length ? lower : text;
    const covered = new Uint8Array(text.length);
    for (const term of terms) {
      if (!term) continue;
      for (let at = haystack.indexOf(term); at !== -1; at = haystack.indexOf(term, at + 1)) {
        covered.fill(1, at, at + term.length);
      }
    }
    let start = 0;
    while (start < text.length) {
      let end = start;
      while (end < text.length && covered[end] === covered[start]) end++;
      const piece = text.slice(start, end);
      if (covered[start]) { const mark = document.createElement("mark"); mark.textContent = piece; fragment.append(mark); }
      else fragment.append(document.createTextNode(piece));
      start = end;
    }
    return fragment;
  }

  /** GET a JSON endpoint. Resolves to {ok, status, data}; rejects only when nothing usable came back. */
  // The API's longest query (service/params.py; tests/unit/test_web_limits.py keeps it equal).
  const MAX_QUERY_CHARS = 200;
  
  /** What a resident reads for the API's error `{code, message, parameter}` (HTTP `status`, `Retry-After`
   * seconds `retryAfter`): Chinese, chosen by the stable code. The API's own message is for developers:
   * it goes to the console. */
  function errorText(status, error, retryAfter) {
    const code = error && error.code;
    const later = retryAfter ? `请 ${retryAfter} 秒后再试。` : "请稍后再试。";
    if (error && typeof error.message === "string") console.warn(`gov-search: HTTP ${status} ${code}: ${error.message}`);
    switch (code) {
      case "invalid_parameter": {
        const parameter = String(error.parameter || "");
        if (parameter === "q") return `请输入 1–${MAX_QUERY_CHARS} 个字的搜索词。`;
        if (parameter.startsWith("date")) return "日期条件有误：日期写作“年-月-日”，开始日期不能晚于结束日期。";
        if (parameter === "page" || parameter === "size") return "页码超出了可以浏览的范围，请缩小搜索范围。";
        return "搜索条件有误，请修改后重试。";
      }
      case "rate_limited": return "搜索过于频繁，" + later;
      case "overloaded": return "搜索的人太多，服务正忙，" + later;
      case "unavailable": return "搜索服务暂时不可用，" + later;
      case "not_found": return "没有找到这篇文章，它可能已被删除或链接有误。";
      case "api_key_required": case "invalid_api_key": case "origin_not_allowed":
        return "本网站的搜索服务设置有误，暂时无法搜索，请联系网站管理员。";
      default: return `搜索服务出错（HTTP ${status}），` + later;
    }
  }

  async function fetchJSON(url, options) {
    let response;
    try {
      response = await fetch(url, Object.assign({ headers: { Accept: "application/json" } }, options || {}));
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new Error("无法连接搜索服务，请检查网络后重试。");
    }
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const error = new Error(errorText(response.status, data && data.error, response.headers.get("Retry-After")));
      error.status = response.status;
      error.code = data && data.error ? data.error.code : null;
      throw error;
    }
    if (data === null) throw new Error("搜索服务返回了无法识别的内容。");
    return data;
  }

  /** Only http(s) links from the index become hrefs. */
  function safeHttpUrl(value) {
    try {
      const url = new URL(String(value), window.location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_) { return null; }
  }

  /** Suggestions as you type on `input` (role=combobox, aria-controls = the id of `list`, role=listbox):
   * ArrowDown/ArrowUp move through the options, Enter or a click chooses one, Escape closes; choosing
   * puts its text in the box and submits `form`. A request waits for 150 ms of quiet and for the IME to
   * finish its word; a newer one cancels the older. Returns {close}.
   *   load(text, signal): resolves to the API's suggestions for text ([{text, kind}]) or null
   *   label(item, text): an option's content (default: the item's text)
   *   idPrefix: option i has the id `${idPrefix}-${i}` (for aria-activedescendant) */
  function combobox(input, list, form, { load, label, idPrefix }) {
    let timer = null, pending = null, active = -1, options = [];
    // The options are reached from the box (aria-activedescendant), never by Tab: a list that scrolls would
    // otherwise be a tab stop of its own, and Tab from the box would land on it as it closes (focus to <body>).
    list.tabIndex = -1;
    const focused = () => input.getRootNode().activeElement === input;  // also inside a shadow root

    function close() {
      clearTimeout(timer);
      if (pending) pending.abort();
      list.hidden = true;
      list.replaceChildren();
      options = [];
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function setActive(index) {
      options.forEach((option, i) => option.setAttribute("aria-selected", i === index ? "true" : "false"));
      active = index;
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else input.removeAttribute("aria-activedescendant");
    }

    function choose(text) {
      input.value = text;
      close();
      form.requestSubmit();
    }

    async function show(text) {
      if (pending) pending.abort();
      const mine = pending = new AbortController();
      let items = null;
      try { items = await load(text, mine.signal); } catch (_) { items = null; }
      if (mine !== pending) return;
      if (!items) { close(); return; }
      if (input.value.trim() !== text || !focused()) return;
      options = items.map((item, i) => el("li", {
        id: `${idPrefix}-${i}`, role: "option", "aria-selected": "false", class: "suggestion",
        "data-kind": item.kind, "data-text": item.text,
        onmousedown: (event) => { event.preventDefault(); choose(item.text); },
      }, label ? label(item, text) : item.text));
      list.replaceChildren(...options);
      active = -1;
      list.hidden = options.length === 0;
      input.setAttribute("aria-expanded", options.length ? "true" : "false");
    }

    // Chinese is typed through an IME: while a word is being composed the box holds pinyin, so wait.
    input.addEventListener("compositionend", () => input.dispatchEvent(new Event("input")));
    input.addEventListener("input", (event) => {
      if (event.isComposing) return;
      clearTimeout(timer);
      const text = input.value.trim();
      if (!text || text.length > 100) { close(); return; }
      timer = setTimeout(() => show(text), 150);
    });
    input.addEventListener("keydown", (event) => {
      if (event.isComposing || event.keyCode === 229) return;  // the IME owns these keys
      const open = !list.hidden && options.length > 0;
      if (event.key === "ArrowDown" && open) {
        event.preventDefault();
        setActive(active + 1 >= options.length ? 0 : active + 1);
      } else if (event.key === "ArrowUp" && open) {
        event.preventDefault();
        setActive(active <= 0 ? options.length - 1 : active - 1);
      } else if (event.key === "Enter" && open && active >= 0) {
        event.preventDefault();
        choose(options[active].dataset.text);
      } else if (event.key === "Escape" && open) {
        event.preventDefault();
        close();
      }
    });
    input.addEventListener("blur", () => setTimeout(() => { if (!focused()) close(); }, 100));
    form.addEventListener("submit", close);
    return { close };
  }

  return { el, renderSnippet, isVettedSnippet, decodeEntities, queryTerms, highlight, fetchJSON, safeHttpUrl, combobox,
    MAX_QUERY_CHARS };
}
