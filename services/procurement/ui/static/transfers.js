/* 调剂: transfer at cost between sites, the list, and the month's settlement (sums to zero). */
(function () {
  const { api, reportError, clearFieldErrors, el, tr, toast, onSession } = window.hub;
  const { mySite, cell, fillTable } = window.procurement;
  const form = document.getElementById("tr-form");
  const monthForm = document.getElementById("st-form");

  async function loadTransfers() {
    try {
      const { transfers } = await api("GET", "/api/v1/transfers");
      fillTable(document.getElementById("tr-table"), transfers.map((t) => el("tr", {},
        cell(t.day), cell(t.from_site), cell(t.to_site), cell(t.item_code), cell(t.quantity, "num"), cell(t.value, "num"))),
      "暂无调剂", "No transfers");
    } catch (err) { reportError(err); }
  }

  async function loadSettlement(month) {
    try {
      const s = await api("GET", `/api/v1/settlements?month=${encodeURIComponent(month)}`);
      fillTable(document.getElementById("st-table"), s.entries.map((e) => el("tr", {},
        cell(e.site_code), cell(e.counterparty), cell(e.received_value, "num"), cell(e.sent_value, "num"), cell(e.payable, "num"))),
      "本月无调剂", "No transfers this month");
      document.getElementById("st-total").textContent = s.total;
      const netRow = document.getElementById("st-net-row");
      netRow.hidden = s.site_net === null || s.site_net === undefined;
      document.getElementById("st-net").textContent = netRow.hidden ? "" : s.site_net;
    } catch (err) { reportError(err, monthForm); }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const f = form.elements;
    try {
      await api("POST", "/api/v1/transfers", { from_site: f.from_site.value.trim(), to_site: f.to_site.value.trim(),
        item_code: f.item_code.value.trim(), quantity: parseInt(f.quantity.value || "0", 10), reason: f.reason.value.trim() || null },
        null, { idempotent: true });
      toast(tr("调剂已记账", "Transfer booked"), "ok");
      loadTransfers();
      if (monthForm.elements.month.value) loadSettlement(monthForm.elements.month.value);
    } catch (err) { reportError(err, form); }
  });
  monthForm.addEventListener("submit", (event) => { event.preventDefault(); loadSettlement(monthForm.elements.month.value); });

  onSession(() => {
    const site = mySite();
    if (site) form.elements.from_site.value = site;
    const now = new Date();
    monthForm.elements.month.value = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
    loadTransfers();
    loadSettlement(monthForm.elements.month.value);
  });
})();
