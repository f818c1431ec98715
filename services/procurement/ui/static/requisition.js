/* One requisition and the actions its status allows: submit, approve (cuts with reasons) or reject, pick, ship, receive. */
(function () {
  const { api, reportError, clearFieldErrors, el, tr, toast, onSession, hasRole, busy } = window.hub;
  const { statusBadge, day, DISCREPANCY } = window.procurement;
  const holder = document.getElementById("rq-body");
  const id = holder.dataset.reqId;
  const path = `/api/v1/requisitions/${encodeURIComponent(id)}`;

  function linesTable(req, editable) {
    return el("div", { class: "table-wrap" }, el("table", { class: "data", id: "rq-lines" },
      el("thead", {}, el("tr", {}, el("th", {}, tr("药品", "Item")), el("th", { class: "num" }, tr("请领", "Requested")),
        el("th", { class: "num" }, tr("批准", "Approved")), el("th", {}, tr("核减原因", "Cut reason")))),
      el("tbody", {}, ...req.lines.map((line) => el("tr", { "data-item": line.item_code },
        el("td", {}, line.item_code),
        el("td", { class: "num" }, String(line.quantity)),
        el("td", { class: "num" }, editable
          ? el("input", { type: "number", min: "0", class: "qty-input", name: `approved:${line.item_code}`, value: String(line.quantity),
              "aria-label": `批准数量 ${line.item_code}`, "data-field": `lines[${line.item_code}].approved_quantity` })
          : String(line.approved_quantity ?? "—")),
        el("td", {}, editable
          ? el("input", { name: `reason:${line.item_code}`, "aria-label": `核减原因 ${line.item_code}`, "data-field": `lines[${line.item_code}].reason` })
          : line.cut_reason || ""))))));
  }

  function lotsTable(req, receiving) {
    if (!req.allocations.length) return "";
    return el("div", { class: "table-wrap" }, el("table", { class: "data", id: "rq-lots" },
      el("thead", {}, el("tr", {}, el("th", {}, tr("药品", "Item")), el("th", {}, tr("批号", "Batch")), el("th", {}, tr("效期", "Expiry")),
        el("th", { class: "num" }, tr("发出", "Shipped")), el("th", { class: "num" }, tr("实收", "Received")), el("th", {}, tr("差异", "Discrepancy")))),
      el("tbody", {}, ...req.allocations.map((a, i) => el("tr", { "data-lot": `${a.item_code}/${a.batch_no}` },
        el("td", {}, a.item_code), el("td", {}, a.batch_no), el("td", {}, a.expiry), el("td", { class: "num" }, String(a.quantity)),
        el("td", { class: "num" }, receiving
          ? el("input", { type: "number", min: "0", class: "qty-input", name: `received:${i}`, value: String(a.quantity),
              "aria-label": `实收 ${a.item_code} ${a.batch_no}`, "data-field": `lines[${i}].received_quantity` })
          : String(a.received_quantity ?? "—")),
        el("td", {}, receiving
          ? el("select", { name: `discrepancy:${i}`, "aria-label": `差异 ${a.batch_no}`, "data-field": `lines[${i}].discrepancy` },
              ...Object.entries(DISCREPANCY).map(([value, [zh, en]]) => el("option", { value, "data-en": en }, zh)))
          : a.discrepancy ? tr(...DISCREPANCY[a.discrepancy]) : "—"))))));
  }

  function action(labelZh, labelEn, run, primary) {
    const button = el("button", { type: "button", class: primary ? "btn btn-primary" : "btn" }, tr(labelZh, labelEn));
    button.addEventListener("click", () => busy(button, run()));
    return button;
  }

  async function post(suffix, body, form) {
    try {
      const updated = await api("POST", `${path}/${suffix}`, body || {});
      toast(tr("已完成", "Done"), "ok");
      render(updated);
    } catch (err) {
      reportError(err, form);
    }
  }

  function render(req) {
    document.getElementById("rq-status").replaceWith(Object.assign(statusBadge(req.status), { id: "rq-status" }));
    const meta = [`${req.site_code}`, `${tr("创建", "created").textContent} ${day(req.created_at)}`];
    if (req.urgent) meta.push(`${tr("加急", "urgent").textContent}: ${req.urgent_reason}`);
    if (req.expected_at) meta.push(`${tr("预计到达", "expected").textContent} ${day(req.expected_at)}`);
    if (req.delivered_at) meta.push(`${tr("已送达", "delivered").textContent} ${day(req.delivered_at)} ${req.delivered_to || ""}`);
    if (req.decision_reason) meta.push(req.decision_reason);
    document.getElementById("rq-meta").textContent = meta.join(" · ");
    const manager = hasRole("pharmacy_manager");
    const keeper = hasRole("storekeeper") || manager;
    const approving = manager && req.status === "submitted";
    const receiving = keeper && req.status === "shipped";
    const form = el("form", { id: "rq-form", novalidate: "" }, el("div", { class: "notice notice-error", "data-form-errors": "", hidden: "" }));
    form.append(linesTable(req, approving), lotsTable(req, receiving));
    const actions = el("div", { class: "actions" });
    if (req.status === "draft" && keeper) actions.append(action("提交请领", "Submit", () => post("submit", null, form), true));
    if (approving) {
      const reason = el("input", { name: "reject_reason", "aria-label": "驳回原因", "data-field": "reason", placeholder: "驳回原因" });
      actions.append(
        action("批准并按效期分配", "Approve (FEFO)", () => {
          clearFieldErrors(form);
          const lines = req.lines.map((l) => ({ item_code: l.item_code, approved_quantity: parseInt(form.elements[`approved:${l.item_code}`].value || "0", 10),
            reason: form.elements[`reason:${l.item_code}`].value.trim() || null })).filter((l, i) => l.approved_quantity !== req.lines[i].quantity);
          return post("approve", { lines }, form);
        }, true),
        reason, action("驳回", "Reject", () => post("reject", { reason: reason.value.trim() }, form)));
    }
    if (manager && req.status === "approved") actions.append(action("拣货出库（通知调度）", "Pick (tell dispatch)", () => post("pick", null, form), true));
    if (manager && req.status === "picked") actions.append(action("交付（自提）", "Hand over (collected)", () => post("ship", null, form)));
    if (receiving) {
      actions.append(action("确认收货", "Confirm receipt", () => {
        clearFieldErrors(form);
        const lines = req.allocations.map((a, i) => ({ item_code: a.item_code, batch_no: a.batch_no,
          received_quantity: parseInt(form.elements[`received:${i}`].value || "0", 10), discrepancy: form.elements[`discrepancy:${i}`].value }));
        const merged = new Map();
        for (const l of lines) {
          const key = `${l.item_code}/${l.batch_no}`;
          if (merged.has(key)) merged.get(key).received_quantity += l.received_quantity;
          else merged.set(key, { ...l });
        }
        return post("receive", { lines: [...merged.values()] }, form);
      }, true));
    }
    form.append(actions);
    holder.replaceChildren(form);
    window.hub.applyLang && window.hub.applyLang(holder);
  }

  onSession(async () => {
    try {
      render(await api("GET", path));
    } catch (err) {
      reportError(err);
    }
  });
})();
