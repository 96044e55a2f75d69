/* gov-search: the large-text, high-contrast reading mode (适老化), on the search page and the article view.
 *
 * Loaded without `defer` in <head>, so the saved choice is on <html> before the first paint (no flash of
 * small text). The mode is the class `large-text` on <html>; the toggle button
 * (#a11y-toggle, a native <button>: Enter and Space work) carries it as aria-pressed. The choice persists in
 * localStorage and follows other open tabs of the site. */
(function () {
  "use strict";
  const KEY = "govsearch.largeText";
  const root = document.documentElement;

  function saved() {
    try { return window.localStorage.getItem(KEY) === "1"; } catch (_) { return false; }  // storage may be off
  }

  function apply(on) {
    root.classList.toggle("large-text", on);
    const button = document.getElementById("a11y-toggle");
    if (button) button.setAttribute("aria-pressed", on ? "true" : "false");
  }

  apply(saved());
  document.addEventListener("DOMContentLoaded", () => {
    apply(saved());
    document.getElementById("a11y-toggle").addEventListener("click", () => {
      const on = !root.classList.contains("large-text");
      try { window.localStorage.setItem(KEY, on ? "1" : "0"); } catch (_) { /* this page only */ }
      apply(on);
    });
  });
  window.addEventListener("storage", (event) => { if (event.key === KEY) apply(event.newValue === "1"); });
})();
