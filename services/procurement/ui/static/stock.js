/* The storekeeper's stock with suggested orders. */
(function () {
  const { api, reportError, el, tr, onSession } = window.hub;
  const { mySite, cell, fillTable } = window.procurement;
  const table = document.getElementById("stock-table");
  let current = null;
  const KINDS = {
    receipt: ["请领入库", "Requisition received"], direct_receipt: ["直送入库", "Direct delivery"],
    prescription: ["处方发药", "Prescription"], dispense: ["手工发药", "Manual dispensing"], count: ["盘点调整", "Stock count"],
    transfer_in: ["调剂调入", "Transfer in"], transfer_out: ["调剂调出", "Transfer out"],
  };

  /** The site's whole stock: GET /api/v1/stock pages by item code, so follow next_cursor to the end
   *  (the suggested order below needs every item, not the first page). */
  async function allStock(site) {
    const base = `/api/v1/stock?site=${encodeURIComponent(site)}&limit=1000`;
    let page = await api("GET", base);
    const items = [...page.items];
    while (page.next_cursor) {
      page = await api("GET", `${base}&cursor=${encodeURIComponent(page.next_cursor)}`);
      items.push(...page.items);
    }
    return { ...page, items, next_cursor: null };
  }

  async function load(site) {
    try {
      current = await allStock(site);
    } catch (err) {
      reportError(err);
      return;
    }
    const rows = current.items.map((i) => el("tr", { "data-item": i.item_code },
      el("td", {}, i.generic_name || i.item_code, el("span", { class: "sub" }, i.item_code)),
      cell(i.on_hand, "num"), cell(i.on_order, "num"), cell(i.consumed, "num"), cell(i.avg_daily, "num"),
      el("td", { class: "num" }, el("strong", {}, String(i.suggested))),
      el("td", {}, i.lots.filter((l) => l.balance).map((l) => `${l.batch_no || "—"} · ${l.expiry || "—"} · ${l.balance}`).join("；"))));
    fillTable(table, rows, "暂无库存记录", "No stock yet");
    try {
      const { movements } = await api("GET", `/api/v1/stock/history?site=${encodeURIComponent(site)}&limit=50`);
      fillTable(document.getElementById("history-table"), movements.map((m) => el("tr", {},
        cell(window.hub.fmtTime(m.at)), cell(m.item_code), cell(m.batch_no || "—"), el("td", {}, tr(...(KINDS[m.kind] || [m.kind, m.kind]))),
        cell(m.quantity, "num"), cell([m.ref, m.reason].filter(Boolean).join(" · ") || "—"))), "暂无记录", "No movements yet");
    } catch (err) {
      reportError(err);
    }
  }

  document.getElementById("stock-site-form").addEventListener("submit", (event) => {
    event.preventDefault();
    load(event.target.elements.site.value.trim());
  });
  document.getElementById("stock-order").addEventListener("click", () => {
    if (!current) return;
    const lines = current.items.filter((i) => i.suggested > 0).map((i) => ({ item_code: i.item_code, quantity: i.suggested,
      generic_name: i.generic_name, package_size: i.package_size }));
    sessionStorage.setItem("procurement.prefill", JSON.stringify(lines));
    window.location.href = "/ui/requisitions/new";
  });
  onSession(() => {
    const site = mySite();
    if (site) load(site);
  });
})();
