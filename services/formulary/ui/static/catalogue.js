/* Catalogue search: search-as-you-type by code, name or pinyin initials, filters, cursor paging.
 * The query lives in the address bar too, so "back" from an item returns to the same results.
 */
(function () {
  "use strict";
  const { el, tr, t, api, debounce, reportError } = window.hub;
  const F = window.formulary;

  const form = document.getElementById("search-form");
  const q = document.getElementById("q");
  const table = document.getElementById("results");
  const tbody = table.querySelector("tbody");
  const status = document.getElementById("result-status");
  const more = document.getElementById("more");
  const FILTERS = ["kind", "level", "essential", "status"];
  const mine = document.getElementById("mine"); // a storekeeper's own site's stocking list

  let nextCursor = null; // where the next page of `shownQuery` starts
  let shownQuery = ""; // the query whose results the table shows (a page is only appended to its own query)
  let shown = 0;
  let inflight = null; // the running search, aborted when a newer one starts

  // Restore the search from the address bar (back button, shared link).
  const params = new URLSearchParams(location.search);
  q.value = params.get("q") || "";
  for (const name of FILTERS) if (params.get(name)) form.elements[name].value = params.get(name);

  /** The query the form describes, as it goes into the address bar. */
  function currentQuery() {
    const p = new URLSearchParams();
    if (q.value.trim()) p.set("q", q.value.trim());
    for (const name of FILTERS) if (form.elements[name].value) p.set(name, form.elements[name].value);
    if (mine.checked && mine.value) p.set("site", mine.value);
    return p.toString();
  }

  /** The rows on screen no longer answer what is typed: say so until the new search lands. */
  function markStale() {
    more.hidden = true;
    table.setAttribute("aria-busy", "true"); // screen readers (and tests) learn the rows are stale
  }

  async function search(append) {
    // "Load more" belongs to the results on screen; while a new search runs there is nothing to extend.
    if (append && (inflight || !nextCursor)) return;
    if (inflight) inflight.abort();
    const controller = new AbortController();
    inflight = controller;
    const query = append ? shownQuery : currentQuery();
    const apiQuery = new URLSearchParams(query);
    apiQuery.set("limit", "30");
    if (append) apiQuery.set("cursor", nextCursor);
    if (!append) history.replaceState(null, "", query ? "?" + query : location.pathname);
    status.textContent = t("正在查询…", "Searching…");
    markStale();
    try {
      const page = await api("GET", "/api/v1/items?" + apiQuery, null, null, { signal: controller.signal });
      if (!append) {
        window.hub.clearFieldErrors(form);
        tbody.replaceChildren();
        shown = 0;
        shownQuery = query;
      }
      for (const item of page.items) tbody.append(row(item));
      shown += page.items.length;
      nextCursor = page.next_cursor;
      more.hidden = !nextCursor;
      renderStatus();
    } catch (err) {
      if (err.name === "AbortError") return;
      status.textContent = "";
      reportError(err, form);
    } finally {
      if (inflight === controller) {
        inflight = null;
        table.removeAttribute("aria-busy");
      }
    }
  }

  function renderStatus() {
    status.replaceChildren();
    if (!shown) {
      status.append(tr("没有找到匹配的药品耗材。", "No matching items."));
      tbody.append(el("tr", {}, el("td", { colspan: 7, class: "empty" }, tr("没有结果", "No results"))));
    } else if (nextCursor) {
      status.append(tr(`已显示 ${shown} 条，还有更多`, `Showing ${shown}; more available`));
    } else {
      status.append(tr(`共 ${shown} 条`, `${shown} items`));
    }
  }

  function row(item) {
    const link = el("a", { href: F.itemUrl(item.code), class: "mono" }, item.code);
    return el("tr", {},
      el("td", { class: "nowrap" }, link),
      el("td", {},
        el("strong", {}, item.generic_name),
        item.trade_name ? el("span", { class: "sub" }, "（" + item.trade_name + "）") : null,
        item.generic_name_en ? el("span", { class: "sub", lang: "en" }, item.generic_name_en) : null),
      el("td", {}, item.strength || "—"),
      el("td", {}, item.dosage_form || (item.kind === "consumable" ? tr("耗材", "Consumable") : "—")),
      el("td", { class: "nowrap" }, F.packaging(item)),
      el("td", {}, item.manufacturer || "—"),
      el("td", {}, F.badges(item)),
    );
  }

  const searchSoon = debounce(() => search(false), 250);
  q.addEventListener("input", () => {
    markStale();
    searchSoon();
  });
  // A filter changed: search now. (The box fires "change" too when it loses focus — e.g. on a
  // click of "load more" — and that must not start a new search over the page being extended.)
  form.addEventListener("change", (event) => {
    if (event.target !== q) searchSoon.flush();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    searchSoon.flush();
  });
  more.addEventListener("click", () => search(true));

  // Keyboard: ↓ from the box into the result links, ↑/↓ between them, ↑ from the first back up.
  q.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      const first = tbody.querySelector("a");
      if (first) {
        event.preventDefault();
        first.focus();
      }
    }
  });
  tbody.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const links = [...tbody.querySelectorAll("a")];
    const i = links.indexOf(document.activeElement);
    if (i < 0) return;
    event.preventDefault();
    if (event.key === "ArrowDown" && links[i + 1]) links[i + 1].focus();
    else if (event.key === "ArrowUp") (links[i - 1] || q).focus();
  });

  window.hub.onSession((session) => {
    // Someone who works for one site mostly wants what that site may stock.
    document.getElementById("mine-field").hidden = !session.site;
    mine.value = session.site || "";
    mine.checked = Boolean(session.site) && (params.get("site") === session.site || !location.search);
    search(false);
    q.focus();
  });
})();
