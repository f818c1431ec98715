/* Goods receipt: check the two invoices (no write), or book when clean; recent receipts. */
(function () {
  const { api, apiFull, ApiError, reportError, clearFieldErrors, el, tr, toast, onSession } = window.hub;
  const { cell, fillTable } = window.procurement;
  const form = document.getElementById("rc-form");
  const result = document.getElementById("rc-result");

  function showViolations(ok, violations) {
    if (ok) {
      result.replaceChildren(el("p", { class: "notice notice-ok" }, tr("票、货、价一致，可入库", "Invoices, goods and prices agree: ready to book")));
      return;
    }
    result.replaceChildren(el("div", { class: "notice notice-error violations" },
      el("p", {}, tr(`发现 ${violations.length} 个问题，不能入库`, `${violations.length} problems: cannot be booked`)),
      el("ul", {}, ...violations.map((v) => el("li", { "data-code": v.code },
        el("code", {}, v.code), ` ${v.line === null ? "" : `第 ${v.line + 1} 行 `}${v.message}`)))));
  }

  async function loadList() {
    try {
      const found = await api("GET", "/api/v1/receipts?limit=50");
      fillTable(document.getElementById("rc-table"), found.receipts.map((r) => el("tr", {},
        cell(r.id), cell(r.site_code), cell(r.supplier_tax_id), cell(r.received_on), cell(r.total, "num"), cell(r.paid_on))),
      "暂无入库记录", "No receipts yet");
    } catch (err) { reportError(err); }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    let body;
    try {
      body = JSON.parse(form.elements.body.value);
    } catch (err) {
      window.hub.showFieldErrors(form, [{ field: "body", message: "不是有效的 JSON" }]);
      return;
    }
    const book = event.submitter && event.submitter.value === "book";
    try {
      if (book) {
        const done = (await apiFull("POST", "/api/v1/receipts", body, null, { idempotent: true })).data;
        showViolations(true, []);
        toast(tr(`已入库 ${done.receipt_id}`, `Booked ${done.receipt_id}`), "ok");
        loadList();
      } else {
        const checked = await api("POST", "/api/v1/receipts/check", body);
        showViolations(checked.ok, checked.violations);
      }
    } catch (err) {
      if (err instanceof ApiError && err.problem && err.problem.violations) showViolations(false, err.problem.violations);
      else reportError(err, form);
    }
  });
  onSession(loadList);
})();
