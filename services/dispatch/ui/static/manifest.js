/* A driver's manifest (司机配送单): one vehicle's trips and stops in order, from
 * GET /api/v1/plans/{id}/manifests/{vehicle}: per stop the priority (紧急 …), notes, the items and
 * quantities to hand over, litres to drop and collect, the site's address, phone and receiving
 * hours (a lunch closure shows as two periods), the planned wait when it is long, a split load's
 * part; the header names the vehicle, its driver and the day's break rules (by code). Printed on A4
 * landscape, carried in the cab.
 */
(function () {
  "use strict";
  const { el, tr, t, api, fmtTime, reportError } = window.hub;
  const D = window.dispatch;

  const root = document.getElementById("manifest");
  const planId = root.dataset.plan;
  const vehicleId = root.dataset.vehicle;
  const $ = (id) => document.getElementById(id);
  document.body.classList.add("manifest-print");

  $("print").addEventListener("click", () => window.print());

  function fact(zh, en, value) {
    return el("div", {}, el("dt", {}, tr(zh, en)), el("dd", {}, value));
  }

  function numCells(volumes, side) {
    const keys = side === "deliver" ? D.model.deliver : D.model.pickup;
    return keys.map((c) => el("td", { class: "num" }, D.litres((volumes || {})[c])));
  }

  const hours = (periods) => (periods || []).map((p) => `${p[0]}–${p[1]}`).join(" / ");

  function siteCell(stop) {
    const closed = (stop.receiving_hours || []).length > 1;
    return el("td", {},
      el("strong", {}, stop.name || stop.site_code),
      stop.parts > 1 ? el("span", { class: "badge badge-draft part-badge" }, tr(`分批 ${stop.part}/${stop.parts}`, `part ${stop.part}/${stop.parts}`)) : null,
      el("span", { class: "sub mono" }, stop.stop_id),
      stop.address ? el("span", { class: "sub" }, stop.address) : null,
      stop.phone ? el("span", { class: "sub mono" }, "☎ ", stop.phone) : null,
      el("span", { class: "sub hours" }, tr("收货 ", "Receives "), el("span", { class: "mono" }, hours(stop.receiving_hours) || "—"),
        closed ? el("span", { class: "lunch-closed" }, tr("（午间闭门）", " (closed at lunch)")) : null));
  }

  function itemsCell(stop) {
    const lines = stop.shipments.flatMap((s) => s.items.map((i) =>
      el("li", {}, `${i.name} × ${i.quantity}${i.unit ? " " + i.unit : ""}`)));
    const ids = stop.shipments.map((s) => s.id);
    // A split load's parts share the order's item list: say it is the whole order, not this part's.
    const whole = stop.parts > 1 && lines.length
      ? el("div", { class: "sub split-note" }, tr(`整单明细，分 ${stop.parts} 批送达（本批为第 ${stop.part} 批，按升数分装）：`,
        `Whole order, delivered in ${stop.parts} parts (this is part ${stop.part}, split by litres):`))
      : null;
    return el("td", {},
      whole,
      lines.length ? el("ul", { class: "items" }, lines) : null,
      ids.length ? el("div", { class: "ids" }, ids.join(", ")) : null,
      stop.rounds && stop.rounds.length ? el("span", { class: "sub rounds" }, tr(`${D.SOURCE.rounds[0]}：`, `${D.SOURCE.rounds[1]}: `),
        D.joined(stop.rounds.map(D.roundPair))) : null);
  }

  async function load() {
    let m;
    try {
      m = await api("GET", `/api/v1/plans/${encodeURIComponent(planId)}/manifests/${encodeURIComponent(vehicleId)}`);
    } catch (err) {
      showError(err.status === 404 ? window.hub.localizeDetail(err.detail, t("找不到这个配送单。", "No such manifest.")) || t("找不到这个配送单。", "No such manifest.") : "");
      reportError(err);
      return;
    }
    $("m-error").hidden = true;
    $("m-vehicle-name").textContent = m.vehicle_name || "";
    document.title = `${t("司机配送单", "Driver manifest")} ${vehicleId} ${m.date}`;
    $("m-draft").hidden = m.status === "published";
    // The day's break rules by code ([zh, en] from the terms table; a break between trips gets its hub times).
    const breaks = (m.break_notes || []).filter((n) => D.TERMS.break_note[n.code])
      .map((n) => D.TERMS.break_note[n.code].map((s) => s.replace("{start}", n.start || "").replace("{end}", n.end || "")));
    // replaceChildren() writes a null child as the text "null": leave absent facts out instead.
    $("m-facts").replaceChildren(...[
      fact("日期", "Date", el("span", { class: "mono" }, m.date, " "), D.weekdayLabel(m.date)),
      fact("车辆", "Vehicle", `${m.vehicle_id} ${m.vehicle_name || ""}`),
      fact("司机", "Driver", el("strong", { id: "m-driver" }, m.driver || "—")),
      fact("出发", "Leave the hub", el("span", { class: "mono" }, m.start)),
      fact("返回", "Back at the hub", el("span", { class: "mono" }, m.end)),
      fact("趟次", "Trips", el("span", { id: "m-trips" }, D.joined(m.trips.map((trip) => {
        const [zh, en] = D.tripPair(trip.trip);
        return [`${zh} ${trip.start}–${trip.end}（${trip.stops}站）`,
          `${en} ${trip.start}–${trip.end} (${trip.stops} stop${trip.stops === 1 ? "" : "s"})`];
      }), "clauses"))),
      breaks.length ? fact("午休", "Break", el("span", { id: "m-break" }, D.joined(breaks, "clauses"))) : null,
      fact("站点数", "Stops", String(m.stops.length)),
      fact("里程", "Distance", D.km(m.distance_km)),
      fact("方案", "Plan", el("span", { class: "mono" }, m.plan_id.slice(0, 8)), " ", tr(...(D.PLAN_STATUS[m.status] || [m.status, m.status]))),
    ].filter(Boolean));
    const loading = [];
    for (const trip of m.trips) {
      const parts = D.model.deliver.filter((c) => (trip.load_out || {})[c])
        .map((c) => D.COMPARTMENT_LONG[c].map((name) => `${name} ${D.litres(trip.load_out[c])} L`));
      const [zh, en] = D.tripPair(trip.trip);
      loading.push(el("li", {}, tr(`${zh}装车：`, `${en} load: `), parts.length ? D.joined(parts, "parts") : "—"));
    }
    $("m-loading").replaceChildren(...loading);

    const totals = { deliver: {}, pickup: {} };
    const rows = [];
    let trip = 0;
    const depot = (label, time) => el("tr", { class: "depot" }, el("td", { class: "seq" }, "—"), el("td", { class: "mono" }, time || ""),
      el("td", { colspan: 10 }, label));
    m.stops.forEach((stop) => {
      if (stop.trip !== trip) {
        const info = m.trips.find((x) => x.trip === stop.trip) || {};
        if (trip) rows.push(depot(tr("回中心：午休、卸回收物、再装车", "Back at the hub: break, unload returns, reload"), ""));
        trip = stop.trip;
        rows.push(el("tr", { class: "trip-row", dataset: { trip: String(trip) } }, el("td", { colspan: 12 },
          el("strong", {}, D.tripLabel(trip)), " ", el("span", { class: "mono" }, `${info.start || ""}–${info.end || ""}`))));
      }
      for (const side of ["deliver", "pickup"]) {
        for (const [c, v] of Object.entries(stop[side + "_l"] || {})) totals[side][c] = (totals[side][c] || 0) + v;
      }
      rows.push(el("tr", { dataset: { stop: stop.stop_id }, class: stop.priority >= 3 ? "row-urgent" : "" },
        el("td", { class: "seq" }, String(stop.sequence)),
        el("td", { class: "mono nowrap" }, stop.arrival,
          stop.start !== stop.arrival ? el("span", { class: "sub" }, tr(`${stop.start} 开始`, `start ${stop.start}`)) : null,
          stop.wait_min ? el("span", { class: "sub wait" }, tr(`需等候 ${stop.wait_min} 分钟`, `wait ${stop.wait_min} min`)) : null),
        siteCell(stop),
        el("td", {}, el("span", { class: `prio prio-${stop.priority}` }, D.priorityLabel(stop.priority)),
          ...stop.notes.map((n) => el("span", { class: "sub note" }, n))),
        numCells(stop.deliver_l, "deliver"),
        numCells(stop.pickup_l, "pickup"),
        itemsCell(stop),
        el("td", { class: "sign" }),
        el("td", { class: "exc" })));
    });
    document.querySelector("#m-stops tbody").replaceChildren(
      depot(tr("出发：物流中心", "Leave the hub"), m.start), ...rows, depot(tr("返回：物流中心", "Back at the hub"), m.end));
    document.querySelector("#m-stops tfoot").replaceChildren(el("tr", {},
      el("td", { colspan: 4 }, tr("合计", "Total")),
      numCells(totals.deliver, "deliver"), numCells(totals.pickup, "pickup"),
      el("td", { colspan: 3 })));
    if (m.status === "published" && fmtTime) $("m-draft").hidden = true;
  }

  function showError(message) {
    const box = $("m-error");
    box.textContent = message || t("无法加载配送单。", "The manifest could not be loaded.");
    box.hidden = false;
  }

  hub.onSession(load);
})();
