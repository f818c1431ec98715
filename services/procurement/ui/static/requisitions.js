/* The requisition list: urgent and newest first; a storekeeper sees their own site's. */
(function () {
  const { api, reportError, el, tr, onSession } = window.hub;
  const { statusBadge, cell, fillTable, day } = window.procurement;
  const table = document.getElementById("req-table");
  const filter = document.getElementById("req-filter");

  async function load() {
    const status = filter.elements.status.value;
    try {
      const found = await api("GET", `/api/v1/requisitions?limit=200${status ? `&status=${status}` : ""}`);
      fillTable(table, found.requisitions.map((r) => el("tr", { "data-id": r.id },
        el("td", {}, el("a", { href: `/ui/requisitions/${encodeURIComponent(r.id)}` }, r.id),
          r.urgent ? el("span", { class: "badge badge-alert" }, tr("急", "Urgent")) : ""),
        cell(r.site_code), el("td", {}, statusBadge(r.status)), cell(r.line_count, "num"),
        cell(day(r.created_at)), cell(r.delivered_at ? `${tr("已送达", "Delivered").textContent} ${day(r.delivered_at)}` : day(r.expected_at)))),
      "没有请领单", "No requisitions");
    } catch (err) {
      reportError(err);
    }
  }

  filter.addEventListener("change", load);
  onSession(() => {
    if (window.hub.hasRole("pharmacy_manager") && !window.hub.hasRole("storekeeper")) filter.elements.status.value = "submitted";
    load();
  });
})();
