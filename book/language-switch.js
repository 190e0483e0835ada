// The language switch in the page header: the English book is at the site's
// root and the Korean edition under ko/ (both built from the same sources; see
// po/README.md). The link goes to the same page in the other language, online
// and in an offline copy alike, because it is made from this page's own path
// relative to its book's root (mdBook's `path_to_root`).
(function () {
  "use strict";
  const buttons = document.querySelector("#mdbook-menu-bar .right-buttons");
  if (!buttons || typeof path_to_root === "undefined") {
    return;
  }
  const korean = document.documentElement.lang === "ko";
  const root = new URL(path_to_root || "./", window.location.href);
  let page = window.location.href.slice(root.href.length).split("#")[0];
  if (!window.location.href.startsWith(root.href)) {
    page = "";
  }
  // The other book's root: one level up from ko/, or ko/ below this root.
  const otherRoot = new URL(korean ? "../" : "ko/", root);
  const link = document.createElement("a");
  link.id = "language-switch";
  link.href = new URL(page, otherRoot).href + window.location.hash;
  link.lang = korean ? "en" : "ko";
  link.hreflang = link.lang;
  link.textContent = korean ? "English" : "한국어";
  link.title = korean ? "Read this page in English" : "이 페이지를 한국어로 읽기";
  link.setAttribute("aria-label", link.title);
  link.className = "language-switch";
  buttons.prepend(link);
})();
