/* Procurement pages' shared helpers: status names, site of the signed-in person, table rows. */
(function () {
  const { t, tr, el } = window.hub;
  const STATUS = {
    draft: ["草稿", "Draft"], submitted: ["待审批", "Submitted"], approved: ["已批准待拣货", "Approved"],
    rejected: ["已驳回", "Rejected"], picked: ["已拣货待发运", "Picked"], shipped: ["已发运", "Shipped"],
    received: ["已收货", "Received"],
  };
  const DISCREPANCY = { none: ["无差异", "None"], short: ["短少", "Short"], damaged: ["破损", "Damaged"], wrong_batch: ["批号不符", "Wrong batch"] };

  function statusBadge(status) {
    const [zh, en] = STATUS[status] || [status, status];
    return el("span", { class: `badge status-${status}`, "data-status": status }, tr(zh, en));
  }

  function mySite() {
    const s = window.hub.session();
    return s && s.site ? s.site : null;
  }

  function cell(value, cls) {
    return el("td", cls ? { class: cls } : {}, value === null || value === undefined ? "—" : value);
  }

  function fillTable(table, rows, emptyZh, emptyEn) {
    const body = table.tBodies[0];
    body.replaceChildren(...rows);
    if (!rows.length) {
      const cols = table.tHead.rows[0].cells.length;
      body.append(el("tr", {}, el("td", { colspan: String(cols), class: "empty" }, tr(emptyZh, emptyEn))));
    }
  }

  function day(iso) {
    return iso ? window.hub.fmtTime(iso) : "—";
  }

  window.procurement = { STATUS, DISCREPANCY, statusBadge, mySite, cell, fillTable, day, t };
})();
