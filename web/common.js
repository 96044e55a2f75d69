/* gov-search: helpers shared by the search page and the article view.
 *
 * Escaping rule for the whole front end: text from the index only ever reaches the page through
 * textContent / createTextNode. The one exception is the API's `snippet`, which is HTML-escaped text
 * with <em> marks: it is parsed here into text nodes and <em> elements (never innerHTML), and only if
 * it contains no markup other than <em>/</em>; otherwise the plain passage text is shown instead. */
(function () {
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
      const message = data && data.error && typeof data.error.message === "string"
        ? data.error.message : `搜索服务返回错误（HTTP ${response.status}）。`;
      const error = new Error(message);
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

  window.GovSearch = { el, renderSnippet, isVettedSnippet, decodeEntities, queryTerms, highlight, fetchJSON, safeHttpUrl };
})();
