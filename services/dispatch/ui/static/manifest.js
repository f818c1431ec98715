/* A driver's manifest (司机配送单): one vehicle's stops in order with what to drop and collect per
 * compartment, shipment ids, and blank columns for the receiver's signature and exceptions.
 * Printed on A4 landscape and carried in the cab.
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

  async function load() {
    let plan, vehicles;
    try {
      [plan, vehicles] = await Promise.all([
        api("GET", "/api/v1/plans/" + encodeURIComponent(planId)),
        api("GET", "/api/v1/vehicles"),
      ]);
    } catch (err) {
      showError(err.status === 404 ? t("找不到这个方案。", "No such plan.") : "");
      reportError(err);
      return;
    }
    const route = ((plan.result || {}).routes || []).find((r) => r.vehicle === vehicleId);
    if (!route) {
      showError(plan.result
        ? t(`方案中没有车辆 ${vehicleId} 的线路。`, `The plan has no route for vehicle ${vehicleId}.`)
        : t("方案尚未求解完成。", "The plan has not been solved yet."));
      return;
    }
    $("m-error").hidden = true;
    const vehicle = vehicles.find((v) => v.id === vehicleId) || {};
    const refs = plan.stop_refs || {};
    $("m-vehicle-name").textContent = vehicle.name || "";
    document.title = `${t("司机配送单", "Driver manifest")} ${vehicleId} ${plan.date}`;
    $("m-draft").hidden = plan.status === "published";

    const hubCode = Object.keys(refs).find((c) => refs[c].hub);
    const hubName = hubCode ? refs[hubCode].name : "";
    $("m-facts").replaceChildren(
      fact("日期", "Date", el("span", { class: "mono" }, plan.date, " "), D.weekdayLabel(plan.date)),
      fact("车辆", "Vehicle", `${vehicleId} ${vehicle.name || ""}`),
      fact("出发", "Leave the hub", el("span", { class: "mono" }, route.start)),
      fact("返回", "Back at the hub", el("span", { class: "mono" }, route.end)),
      fact("午休", "Break", el("span", { class: "mono" }, route.break || "—")),
      fact("站点数", "Stops", String(route.stops.length)),
      fact("里程", "Distance", D.km(route.distance_km)),
      fact("时长", "Duration", `${Math.round(route.duration_min)} ${t("分钟", "min")}`),
      fact("起讫点", "Start and end", hubName || hubCode || "—"),
      fact("方案", "Plan", el("span", { class: "mono" }, plan.id.slice(0, 8)), " ",
        tr(...(D.PLAN_STATUS[plan.status] || [plan.status, plan.status])),
        plan.published_at ? el("span", { class: "muted" }, ` ${fmtTime(plan.published_at)}`) : null),
    );

    // What to load at the hub, and what comes back at most (the pickup compartments' peak).
    const peak = {};
    for (const stop of route.stops) {
      for (const [c, v] of Object.entries(stop.load_after || {})) if (D.model.pickup.includes(c)) peak[c] = Math.max(peak[c] || 0, v);
    }
    const loading = [];
    for (const c of D.model.deliver) {
      if ((route.load_out || {})[c]) loading.push(el("li", {}, tr("装 ", "Load "), tr(...D.COMPARTMENT_LONG[c]), " ", el("strong", {}, `${D.litres(route.load_out[c])} L`)));
    }
    for (const c of D.model.pickup) {
      if (peak[c]) loading.push(el("li", {}, tr("预计收回 ", "Expect back "), tr(...D.COMPARTMENT_LONG[c]), " ", el("strong", {}, `${D.litres(peak[c])} L`)));
    }
    $("m-loading").replaceChildren(...(loading.length ? loading : [el("li", { class: "muted" }, "—")]));

    const totals = { deliver: {}, pickup: {} };
    const rows = route.stops.map((stop, i) => {
      const ref = refs[stop.id] || {};
      for (const side of ["deliver", "pickup"]) {
        for (const [c, v] of Object.entries(ref[side + "_l"] || {})) totals[side][c] = (totals[side][c] || 0) + v;
      }
      const ids = ref.shipment_ids || [];
      const rounds = ref.rounds && ref.rounds.length && !ids.length
        ? tr("例行收送", "Rounds")
        : ref.rounds && ref.rounds.length ? tr("+ 例行收送", "+ rounds") : null;
      return el("tr", { dataset: { stop: stop.id } },
        el("td", { class: "seq" }, String(i + 1)),
        el("td", { class: "mono nowrap" }, stop.arrival, stop.start && stop.start !== stop.arrival ? el("span", { class: "sub" }, tr(`${stop.start} 开始`, `start ${stop.start}`)) : null),
        el("td", {}, el("strong", {}, ref.name || stop.name || stop.id), el("span", { class: "sub mono" }, stop.id)),
        numCells(ref.deliver_l, "deliver"),
        numCells(ref.pickup_l, "pickup"),
        el("td", {}, ids.length ? el("div", { class: "ids" }, ids.join(", ")) : null, rounds ? el("span", { class: "sub" }, rounds) : null),
        el("td", { class: "sign" }),
        el("td", { class: "exc" }),
      );
    });
    const depot = (label, time) => el("tr", { class: "depot" },
      el("td", { class: "seq" }, "—"), el("td", { class: "mono" }, time),
      el("td", { colspan: 9 }, label, "：", hubName || hubCode || ""));
    document.querySelector("#m-stops tbody").replaceChildren(
      depot(tr("出发", "Leave"), route.start), ...rows, depot(tr("返回", "Return"), route.end));
    document.querySelector("#m-stops tfoot").replaceChildren(el("tr", {},
      el("td", { colspan: 3 }, tr("合计", "Total")),
      numCells(totals.deliver, "deliver"), numCells(totals.pickup, "pickup"),
      el("td", { colspan: 3 })));
  }

  function showError(message) {
    const box = $("m-error");
    box.textContent = message || t("无法加载配送单。", "The manifest could not be loaded.");
    box.hidden = false;
  }

  hub.onSession(load);
})();
