// Live navigation: a same-site link fetches the server's page and puts its `<main id="main">`
// in place of this one's (the header follows, the socket stays), with the title, history and
// scroll kept as a full load would; the caller then moves its channels. Anything it cannot
// show that way (another kind of page, not HTML, no main region, scripts of its own in it)
// is loaded the ordinary way.
import { morph, announce } from "./dom.js";

// sameKind(doc) -> whether a fetched page may replace this one in place (same visitor, same
// socket); onNavigated() once it has.
export function setupNavigation(sameKind, onNavigated) {
  if (!window.history || !history.pushState || !window.DOMParser || !window.fetch) return;
  var current = 0;   // the latest navigation; older ones that finish late are dropped
  history.scrollRestoration = "manual";
  history.replaceState(stateWith(history.state, null), "");

  function stateWith(state, scroll) {
    var s = {};
    if (state && typeof state === "object") Object.keys(state).forEach(function (k) { s[k] = state[k]; });
    s.sneakers = true;
    s.scroll = scroll;
    return s;
  }

  function saveScroll() {
    history.replaceState(stateWith(history.state, [window.scrollX, window.scrollY]), "");
  }

  function followable(a, ev) {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return null;
    if (a.hasAttribute("download") || a.closest("[data-full-reload]")) return null;
    var target = a.getAttribute("target");
    if (target && target !== "_self") return null;
    var url;
    try { url = new URL(a.href, location.href); } catch (e) { return null; }
    if (url.origin !== location.origin) return null;
    // An anchor within this page is the browser's.
    if (url.pathname === location.pathname && url.search === location.search && url.hash) return null;
    return url;
  }

  function onClick(ev) {
    var a = ev.target.closest && ev.target.closest("a[href]");
    if (!a) return;
    var url = followable(a, ev);
    if (!url) return;
    ev.preventDefault();
    saveScroll();
    go(url.href, true, null);
  }

  function onPop(ev) {
    clearTimeout(scrollTimer);
    if (!ev.state || !ev.state.sneakers) return;
    go(location.href, false, ev.state.scroll);
  }

  // Markup from a parser without scripting holds <noscript> content as elements (a refresh
  // tag in it would fire); a full load with JavaScript on keeps it as text.
  function asLoaded(main) {
    main.querySelectorAll("noscript").forEach(function (n) { n.textContent = n.innerHTML; });
    return document.importNode(main, true);
  }

  function go(href, push, scroll) {
    var id = ++current;
    fetch(href, { credentials: "same-origin", headers: { accept: "text/html" } }).then(function (res) {
      var type = res.headers.get("content-type") || "";
      if (type.indexOf("text/html") !== 0) throw new Error("not a page");
      return res.text().then(function (text) { return { url: res.url || href, text: text }; });
    }).then(function (page) {
      if (id !== current) return;
      var doc = new DOMParser().parseFromString(page.text, "text/html");
      var main = doc.getElementById("main"), here = document.getElementById("main");
      if (!main || !here || !sameKind(doc)) throw new Error("another kind of page");
      // Scripts of its own (Stripe's card field) would not run once swapped in, and this
      // page's Content-Security-Policy is not that page's: the browser loads it.
      if (main.querySelector("script")) throw new Error("a page with scripts of its own");
      if (push) history.pushState(stateWith(null, null), "", page.url);
      else if (page.url !== location.href) history.replaceState(stateWith(history.state, scroll), "", page.url);
      document.title = doc.title;
      ["csrf-token", "socket-token", "admin-token"].forEach(function (name) {
        var fresh = doc.querySelector('meta[name="' + name + '"]');
        var old = document.querySelector('meta[name="' + name + '"]');
        if (fresh && old) old.setAttribute("content", fresh.getAttribute("content"));
      });
      var header = document.querySelector("header.site-header"), freshHeader = doc.querySelector("header.site-header");
      if (header && freshHeader) morph(header, document.importNode(freshHeader, true), false);
      var fresh = asLoaded(main);
      here.replaceWith(fresh);
      restoreScroll(scroll, new URL(page.url).hash);
      // As after a full load, reading starts at the new page; its name is said once.
      fresh.focus({ preventScroll: true });
      announce(doc.title);
      onNavigated();
    }).catch(function () {
      if (id === current) location.assign(href);
    });
  }

  function restoreScroll(scroll, hash) {
    if (scroll) return window.scrollTo(scroll[0], scroll[1]);
    var target = hash ? document.getElementById(decodeURIComponent(hash.slice(1))) : null;
    if (target) target.scrollIntoView();
    else window.scrollTo(0, 0);
  }

  // Back and forward come back to where the reader was: the entry keeps its scroll as it moves
  // (a popstate comes after the entry has already changed).
  var scrollTimer = null;
  window.addEventListener("scroll", function () {
    clearTimeout(scrollTimer);
    scrollTimer = setTimeout(saveScroll, 100);
  }, { passive: true });
  document.addEventListener("click", onClick);
  window.addEventListener("popstate", onPop);
}
