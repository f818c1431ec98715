/* The day board (调度台, part 2): what waits to move (pending shipments and the rounds due) and
 * the urgent-shipment form. Shares the board's state and helpers through window.dispatchBoard.
 */
(function () {
  "use strict";
  const { el, tr, t, api, busy, toast, reportError, clearFieldErrors, showFieldErrors } = window.hub;
  const D = window.dispatch;
  const B = window.dispatchBoard;
  const { state, $, siteName, siteCell } = B;
  const pendingBody = document.querySelector("#pending tbody");
  const form = $("urgent-form");
  const siteSelect = $("u-site");
  const planSelect = $("plan-select");

  // ------------------------------------------------------------------ waiting shipments and rounds

  async function loadPending() {
    try {
      const shipments = await api("GET", "/api/v1/shipments?status=pending");
      renderPending(shipments);
    } catch (err) {
      pendingBody.replaceChildren();
      reportError(err);
    }
  }

  function volumeCells(deliver, pickup) {
    return D.model.compartments.map((c) => {
      const side = D.model.pickup.includes(c) ? pickup : deliver;
      return el("td", { class: "num" }, D.litres((side || {})[c]));
    });
  }

  /** Sites on a route of the day's published plan: their rounds are on a driver's manifest already. */
  function publishedStops() {
    const plan = state.plan;
    if (!plan || plan.status !== "published" || plan.date !== state.day || !plan.result) return new Set();
    return new Set(plan.result.routes.flatMap((r) => r.stops.map((s) => s.id)));
  }

  function renderPending(shipments) {
    state.shipments = shipments;
    const onPublished = publishedStops();
    const rows = [];
    const sorted = [...shipments].sort((a, b) => b.priority - a.priority || String(a.created_at).localeCompare(String(b.created_at)));
    for (const s of sorted) {
      rows.push(el("tr", {
        class: s.id === state.newShipment ? "row-new" : s.priority >= 3 ? "row-urgent" : "",
        dataset: { site: s.site_code, source: s.source, shipment: s.id },
      },
      siteCell(s.site_code),
      volumeCells(s.deliver_l, s.pickup_l),
      el("td", {}, el("span", { class: `prio prio-${s.priority}` }, D.priorityLabel(s.priority))),
      el("td", {}, tr(...(D.SOURCE[s.source] || [s.source, s.source])),
        el("span", { class: "sub mono", title: s.note || "" }, s.id),
        s.note ? el("span", { class: "sub" }, s.note) : null),
      ));
    }
    let roundSites = 0;
    for (const site of state.sites) {
      const due = D.roundsFor(site, state.day);
      if (!due) continue;
      roundSites++;
      const done = onPublished.has(site.code);
      rows.push(el("tr", { class: `row-round${done ? " row-done" : ""}`, dataset: { site: site.code, source: "rounds" } },
        siteCell(site.code),
        volumeCells(due.deliver, due.pickup),
        el("td", {}, el("span", { class: "prio prio-1" }, D.priorityLabel(1))),
        el("td", {}, tr(...D.SOURCE.rounds), done ? el("span", { class: "badge badge-essential" }, tr(...D.PLAN_STATUS.published)) : null,
          el("span", { class: "sub" }, D.joined(due.rounds.map(D.roundPair)))),
      ));
    }
    pendingBody.replaceChildren(...rows);
    if (!rows.length) {
      pendingBody.append(el("tr", {}, el("td", { colspan: 8, class: "empty" }, tr("没有待运的货单，当日也没有例行收送。", "Nothing waits and no round is due that day."))));
    }
    $("pending-summary").replaceChildren(tr(
      `货单 ${shipments.length} 个 · 例行收送 ${roundSites} 个机构`,
      `${shipments.length} shipment${shipments.length === 1 ? "" : "s"} · rounds at ${roundSites} sites`));
  }

  // ------------------------------------------------------------------ the urgent shipment form

  function fillSitePicker() {
    const keep = siteSelect.value;
    const groups = {};
    for (const s of state.sites) {
      if (s.is_hub || s.active === false) continue;
      (groups[s.level] = groups[s.level] || []).push(s);
    }
    const order = ["township", "village", "county_hospital", ...Object.keys(groups)];
    const seen = new Set();
    const placeholder = siteSelect.options[0];
    siteSelect.replaceChildren(placeholder);
    for (const level of order) {
      if (seen.has(level) || !groups[level]) continue;
      seen.add(level);
      const [zh, en] = D.LEVEL[level] || [level, level];
      const group = el("optgroup", { label: t(zh, en), "data-zh-label": zh, "data-en-label": en });
      for (const s of groups[level]) {
        const [zhName, enName] = [`${s.name}（${s.code}）`, `${s.name} (${s.code})`];
        group.append(el("option", { value: s.code, dataset: { zh: zhName, en: enName } }, t(zhName, enName)));
      }
      siteSelect.append(group);
    }
    siteSelect.value = keep;
  }

  document.addEventListener("hub:lang", () => {
    // Everything else carries both languages (hub.tr spans, data-en attributes), so the plan is
    // not re-rendered: that would drop the locks and pins ticked but not yet re-planned.
    for (const g of siteSelect.querySelectorAll("optgroup")) g.label = t(g.dataset.zhLabel, g.dataset.enLabel);
    if (planSelect.options.length > 1) B.fillPlanSelect(planSelect.value);
  });

  function readUrgent() {
    const body = { site_code: form.elements.site_code.value, deliver: {}, pickup: {}, priority: Number(form.elements.priority.value) };
    for (const input of form.querySelectorAll("input[type=number]")) {
      if (input.value.trim() === "" && !input.validity.badInput) continue;
      const [side, compartment] = input.name.split(".");
      // A value the browser could not read as a number goes to the server as text, so the
      // message comes back beside this field like any other.
      body[side][compartment] = input.validity.badInput ? "?" : Number(input.value);
    }
    const note = form.elements.note.value.trim();
    if (note) body.note = note;
    return body;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    if (!form.elements.site_code.value) {
      showFieldErrors(form, [{ field: "site_code", message: t("请选择机构", "Choose a site") }]);
      return;
    }
    try {
      const created = await busy(form.querySelector("button[type=submit]"),
        api("POST", "/api/v1/shipments", readUrgent(), null, { idempotent: true }));
      state.newShipment = created.id;
      toast(t(`已加入待运：${siteName(created.site_code)}`, `Added to the waiting list: ${siteName(created.site_code)}`), "ok",
        { small: created.id });
      form.reset();
      await loadPending();
      const fresh = pendingBody.querySelector(".row-new");
      if (fresh) fresh.scrollIntoView({ block: "nearest" });
    } catch (err) {
      reportError(err, form);
    }
  });
  form.addEventListener("reset", () => clearFieldErrors(form));

  Object.assign(B, { loadPending, renderPending, fillSitePicker });
})();
