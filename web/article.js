/* gov-search: the article view. GET /articles/{id}, the whole body (paragraphs = lines), the searched
 * words marked client-side, a link back to the results that restores their state, and 相关文章
 * (GET /articles/{id}/related) linking to articles like it with the same way back. */
(function () {
  "use strict";
  const { el, highlight, fetchJSON, safeHttpUrl, MAX_QUERY_CHARS } = govSearchCommon();
  const $ = (id) => document.getElementById(id);

  const params = new URLSearchParams(window.location.search);
  const id = params.get("id") || "";
  const q = params.get("q") || "";
  // `back` is the results page's query string: it can only ever lead to "/?…" on this site.
  const back = params.get("back");
  const backParams = new URLSearchParams(back || (q ? "q=" + encodeURIComponent(q) : ""));
  $("back").href = backParams.toString() ? "/?" + backParams.toString() : "/";
  if (!backParams.get("q")) $("back").querySelector("span").textContent = "返回搜索首页";

  const META = [
    ["publisher", "发布单位"], ["town", "镇"], ["department", "部门"], ["date", "发布日期"],
    ["doc_number", "文号"], ["newsletter", "刊物"], ["section", "栏目"],
  ];

  function showError(message) {
    $("status").textContent = "文章未能加载";
    $("error").replaceChildren(el("h2", {}, "无法显示这篇文章"), el("p", { class: "error-message" }, message),
      el("p", {}, el("a", { href: $("back").href }, $("back").textContent.trim())));
    $("error").hidden = false;
  }

  async function load() {
    if (!id) { showError("缺少文章编号（id）。"); return; }
    let article;
    try {
      const asked = q.trim().slice(0, MAX_QUERY_CHARS);  // the marks are an aid: never a reason to fail
      article = await fetchJSON("/articles/" + encodeURIComponent(id) + (asked ? "?" + new URLSearchParams({ q: asked }) : ""));
    } catch (err) { showError(err.message); return; }
    // The API says what a search for q marks in this article (安全生產 as 安全生产, a synonym rule's official
    // terms, whole words rather than stray characters): those texts are marked wherever they occur.
    const terms = (article.marks || []).map((text) => text.toLowerCase());  // highlight() compares lower case
    document.title = `${article.title || "文章"} - 政务搜索`;
    $("title").replaceChildren(highlight(article.title || "（无标题）", terms));
    $("meta").replaceChildren(...META.filter(([key]) => article[key]).map(([key, label]) =>
      el("div", { class: "meta-item" }, el("dt", {}, label), el("dd", {}, String(article[key])))));
    const paragraphs = String(article.body || "").split("\n").map((line) => line.trim()).filter(Boolean);
    $("body").replaceChildren(...paragraphs.map((line) => el("p", {}, highlight(line, terms))));
    const original = article.url ? safeHttpUrl(article.url) : null;
    if (original) {
      $("original").replaceChildren("原文链接：", el("a", { href: original, rel: "noopener noreferrer" }, original));
      $("original").hidden = false;
    }
    const marks = $("body").querySelectorAll("mark").length;
    $("status").textContent = q
      ? (marks ? `正文中已标出“${q}”相关词语 ${marks} 处` : `正文中没有与“${q}”完全相同的词语`) : "";
    $("article").hidden = false;
    loadRelated();
  }

  // ---- 相关文章 ------------------------------------------------------------------------------

  const RELATED_SIZE = 5;

  /** The list stays hidden when there is nothing like this article or the request fails: it is an
   * extra, and the article itself is already shown. */
  async function loadRelated() {
    let data;
    try {
      data = await fetchJSON(`/articles/${encodeURIComponent(id)}/related?size=${RELATED_SIZE}`);
    } catch (_) { return; }
    if (!data.related.length) return;
    $("related-list").replaceChildren(...data.related.map((item) => {
      const next = new URLSearchParams({ id: item.id });
      if (q) next.set("q", q);
      if (back) next.set("back", back);
      const meta = [item.publisher || item.town, item.date].filter(Boolean).join(" · ");
      return el("li", {},
        el("a", { href: "/article.html?" + next.toString() }, item.title || "（无标题）"),
        meta ? el("span", { class: "related-meta" }, meta) : null);
    }));
    $("related").hidden = false;
  }

  load();
})();
