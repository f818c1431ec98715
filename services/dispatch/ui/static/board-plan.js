/* The day board's plan (调度台, part 2): totals, the before/after of a re-plan, the SVG map with
 * site labels and one distinct colour per vehicle (a second trip dashed), the routes list (trips,
 * lunch-closed sites, split loads, long waits) selecting and selected by the map, dropped stops,
 * re-plan with locks and pins, and publishing after a summary of what goes out.
 */
(function () {
  "use strict";
  const { el, tr, t, api, busy, fmtTime, toast, reportError } = window.hub;
  const D = window.dispatch;
  const B = window.dispatchBoard;
  const { state, $, svg, svgTitle, siteName, siteCell, resultBox, solveBox } = B;
  const vehicleOf = (route) => route.vehicle_id || route.vehicle;
  const colourOf = (route) => B.colourOf(vehicleOf(route));
  const vehicleName = (route) => B.vehicleName(vehicleOf(route));
  const tripLabel = (route) => (route.trip ? D.tripLabel(route.trip) : null);
  // The break rule a route followed, by its code (routing/solver.py BREAK_CODES), as [zh, en]; null without one.
  const breakNote = (route) => D.TERMS.break_note[route.break_code] || null;
  const hours = (periods) => (periods || []).map((p) => `${p[0]}–${p[1]}`).join(" / ");
  const minutes = (hhmm) => { const [h, m] = String(hhmm).split("+")[0].split(":").map(Number); return h * 60 + m; };

  // ------------------------------------------------------------------ the plan: totals, map, routes, dropped

  function keptVehicles(plan) {
    return new Set(((plan.request || {}).kept_routes || []).map((r) => r.vehicle));
  }

  function capacityOf(plan, vehicleId) {
    const v = ((plan.request || {}).vehicles || []).find((x) => x.id === vehicleId);
    if (v) return v.compartments;
    return (state.vehicleBy[vehicleId] || {}).compartments_l || {};
  }

  function renderPlan(plan, draft) {
    state.plan = plan;
    state.draft = Boolean(draft);
    state.routeOrder = [...new Set(((plan.result || {}).routes || []).map((r) => r.vehicle_id || r.vehicle))];
    const result = plan.result;
    if (!result) {
      resultBox.hidden = true;
      return;
    }
    resultBox.hidden = false;
    resultBox.dataset.planId = plan.id;
    $("result-status").replaceChildren(
      draft ? D.badge("badge-draft", "草稿：求解仍在进行，这是目前最好的方案", "Draft: the search goes on; this is the best plan so far") : D.planStatusBadge(plan.status), " ",
      D.badge(result.status === "solved" ? "badge-essential" : "badge-alert", ...(D.RESULT_STATUS[result.status] || [result.status, result.status])),
      plan.published_at ? el("span", { class: "muted" }, " ", tr("发布于 ", "published "), fmtTime(plan.published_at)) : "");
    renderTotals(plan);
    B.drawMap(plan);
    renderRoutes(plan);
    renderDropped(plan);
    if (state.shipments) B.renderPending(state.shipments);
    $("publish").disabled = draft || plan.status !== "solved";
    $("replan").disabled = Boolean(draft);
    renderCompare(plan, draft);
    if (state.selected) B.select(state.selected, false);
  }

  /** Before/after of a re-plan (cost, km, vehicles, stops moved), from GET /plans/{id}/compare. */
  async function renderCompare(plan, draft) {
    const box = $("compare");
    if (!plan.base_plan_id || draft) {
      box.hidden = true;
      return;
    }
    let diff;
    try {
      diff = await api("GET", `/api/v1/plans/${encodeURIComponent(plan.id)}/compare`);
    } catch (err) {
      box.hidden = true;
      return;
    }
    if (state.plan !== plan) return;
    const delta = (value, unit, fmt) => {
      const cls = value > 0 ? "up" : value < 0 ? "down" : "";
      return el("span", { class: cls }, `${value > 0 ? "+" : ""}${fmt ? fmt(value) : value}${unit}`);
    };
    const row = (zh, en, before, after, d) => el("div", {}, el("dt", {}, tr(zh, en)), el("dd", {}, `${before} → ${after} `, d));
    const b = diff.before, a = diff.after;
    // replaceChildren() writes a null child as the text "null": leave absent parts out instead.
    box.replaceChildren(...[
      el("h3", {}, tr("重新规划前后对比", "Before and after the re-plan")),
      el("dl", {},
        row("成本", "Cost", D.money(b.cost), D.money(a.cost), delta(diff.delta.cost, "", (v) => v.toFixed(2))),
        row("里程", "Distance", D.km(b.distance_km), D.km(a.distance_km), delta(diff.delta.distance_km, " km", (v) => v.toFixed(1))),
        row("车辆", "Vehicles", b.vehicles, a.vehicles, delta(diff.delta.vehicles, "")),
        row("服务站点", "Stops served", b.stops_served, a.stops_served, delta(diff.delta.stops_served, ""))),
      diff.vehicles_added.length || diff.vehicles_removed.length ? el("p", {},
        diff.vehicles_added.length ? tr(`新增车辆：${D.listText(diff.vehicles_added)[0]} `, `Vehicles added: ${D.listText(diff.vehicles_added)[1]} `) : "",
        diff.vehicles_removed.length ? tr(`不再使用：${D.listText(diff.vehicles_removed)[0]}`, `No longer used: ${D.listText(diff.vehicles_removed)[1]}`) : "") : null,
      el("p", {}, tr(`调整的站点 ${diff.moved.length} 个`, `${diff.moved.length} stops moved`)),
      el("ul", { class: "moved" }, diff.moved.slice(0, 30).map((m) => el("li", { dataset: { stop: m.stop_id } },
        `${m.name || m.stop_id}：${m.before || t("未安排", "left out")} → ${m.after || t("未安排", "left out")}`))),
    ].filter(Boolean));
    box.hidden = false;
  }

  function renderTotals(plan) {
    const r = plan.result;
    const item = (zh, en, value, cls) => el("div", { class: cls || "" }, el("dt", {}, tr(zh, en)), el("dd", {}, value));
    const activeFleet = state.vehicles.filter((v) => v.active !== false).length;
    $("totals").replaceChildren(...[
      item("派车", "Vehicles", `${r.totals.vehicles} / ${activeFleet || r.totals.vehicles}`),
      item("服务站点", "Stops served", `${r.totals.stops_served}`),
      item("未安排", "Left out", `${r.unassigned.length}`, r.unassigned.length ? "bad" : ""),
      item("总里程", "Distance", D.km(r.totals.distance_km)),
      item("总成本", "Cost", D.money(r.totals.cost)),
      item("求解用时", "Solve time", `${(r.stats || {}).solve_s ?? "—"} s`),
      r.totals.trips ? item("趟次", "Trips", `${r.totals.trips}`) : null,
      ...((plan.request || {}).left_out || []).map((lo) => el("div", { class: "bad left-out-vehicle", dataset: { vehicle: lo.vehicle } },
        el("dt", {}, tr(`未派 ${lo.vehicle}`, `${lo.vehicle} left out`)), el("dd", {}, lo.reason))),
    ].filter(Boolean));
  }

  function sameStops(a, b) {
    return a && b && a.length === b.length && a.every((s, i) => s.id === b[i].id);
  }

  function renderRoutes(plan) {
    const result = plan.result;
    const request = plan.request || {};
    const lockedRoutes = new Set(request.locked_routes || []);
    const kept = keptVehicles(plan);
    const baseRoutes = state.base && state.base.result ? Object.fromEntries(state.base.result.routes.map((r) => [r.vehicle, r])) : null;
    const routeStops = {};
    for (const r of result.routes) for (const s of r.stops) routeStops[s.id] = r.vehicle;
    const pinned = new Set(Object.entries(request.locks || {}).filter(([stop, v]) => !lockedRoutes.has(v) && routeStops[stop] === v).map(([s]) => s));

    const cards = result.routes.map((route) => {
      const vid = route.vehicle;
      const colour = colourOf(route);
      const note = breakNote(route);
      const isKept = kept.has(vid);
      let change = null;
      if (baseRoutes) {
        const before = baseRoutes[vid];
        if (!before) change = D.badge("badge-vbp", "新增线路", "New route");
        else if (sameStops(before.stops, route.stops)) change = el("span", { class: "badge badge-essential route-same" }, tr("线路未变", "Unchanged"));
        else if (sameStops(before.stops, route.stops.slice(0, before.stops.length))) {
          const added = route.stops.length - before.stops.length;
          change = el("span", { class: "badge badge-essential route-same" },
            tr(`原顺序未变，末尾加 ${added} 站`, `Same order, ${added} stops added at the end`));
        } else change = el("span", { class: "badge badge-draft route-changed" }, tr("已调整", "Changed"));
      }
      const stopsList = el("ol", { class: "stop-list" }, route.stops.map((stop, i) => {
        const name = siteName(stop.id, plan.stop_refs);
        const pinId = `pin-${vid}-${stop.id}`;
        const ref = (plan.stop_refs || {})[stop.id] || {};
        const wait = minutes(stop.start) - minutes(stop.arrival);
        const closed = (ref.receiving_hours || []).length > 1;
        return el("li", { dataset: { stop: stop.id, trip: String(stop.trip || 1) }, class: closed ? "lunch" : "" },
          el("span", { class: "seq", style: `background:${colour}` }, String(i + 1)),
          el("span", { class: "mono time" }, stop.arrival, wait >= 20 ? el("span", { class: "sub wait" }, tr(`等 ${wait} 分`, `wait ${wait} min`)) : null),
          el("span", { class: "stop-name" }, name,
            ref.parts > 1 ? el("span", { class: "badge badge-draft part-badge" }, tr(`分批 ${ref.part}/${ref.parts}`, `part ${ref.part}/${ref.parts}`)) : null,
            el("span", { class: "sub mono" }, stop.id),
            closed ? el("span", { class: "sub lunch-closed" }, tr(`午间闭门 · ${hours(ref.receiving_hours)}`, `closed at lunch · ${hours(ref.receiving_hours)}`)) : null),
          el("span", { class: "pin no-print" },
            el("input", { type: "checkbox", id: pinId, class: "pin-box", "data-stop": stop.id, "data-vehicle": vid,
              checked: pinned.has(stop.id) || lockedRoutes.has(vid), disabled: lockedRoutes.has(vid) || isKept }),
            el("label", { for: pinId, title: t(`固定 ${name} 到 ${vid}`, `Pin ${name} to ${vid}`),
              "data-zh-title": `固定 ${name} 到 ${vid}`, "data-en-title": `Pin ${name} to ${vid}` }, tr("固定", "Pin"),
              el("span", { class: "visually-hidden" }, ` ${name} → ${vid}`))));
      }));
      const lockBox = el("input", { type: "checkbox", id: `lock-${vid}`, class: "lock-box", "data-vehicle": vid, checked: lockedRoutes.has(vid), disabled: isKept });
      const outBox = el("input", { type: "checkbox", id: `out-${vid}`, class: "out-box", "data-vehicle": vid, checked: isKept });
      const card = el("article", { class: `route${isKept ? " kept" : ""}`, dataset: { vehicle: vid }, style: `--route:${colour}`, "aria-labelledby": `route-${vid}-title` },
        el("header", {},
          el("span", { class: "swatch", "aria-hidden": "true" }),
          el("h4", { id: `route-${vid}-title` }, vehicleOf(route), " ", el("span", { class: "muted" }, vehicleName(route)),
            tripLabel(route) ? el("span", { class: "badge badge-cold trip-badge" }, tripLabel(route)) : null),
          lockedRoutes.has(vid) ? D.badge("badge-cold", "已锁定", "Locked") : null,
          isKept ? D.badge("badge-muted", "已出车", "Out") : null,
          change),
        el("p", { class: "route-meta" },
          el("span", { class: "mono" }, `${route.start} → ${route.end}`),
          route.break ? el("span", note ? { class: "break", title: t(...note), "data-zh-title": note[0], "data-en-title": note[1],
            dataset: { breakCode: route.break_code } } : { class: "break" }, tr("午休 ", "break "), el("span", { class: "mono" }, route.break)) : null,
          !route.break && note ? el("span", { class: "muted break-note", dataset: { breakCode: route.break_code } }, tr(...note)) : null,
          el("span", {}, D.km(route.distance_km)),
          el("span", {}, `${Math.round(route.duration_min)} `, tr("分钟", "min")),
          el("span", {}, D.money(route.cost)),
          el("span", {}, `${route.stops.length} `, tr("站", "stops"))),
        D.loadBars(route, capacityOf(plan, vid)),
        el("div", { class: "route-controls no-print" },
          el("span", { class: "check" }, lockBox, el("label", { for: `lock-${vid}` }, tr("锁定线路", "Lock route"))),
          el("span", { class: "check" }, outBox, el("label", { for: `out-${vid}` }, tr("已出车", "Already out"))),
          el("a", { class: "btn btn-small manifest-link", href: `/ui/plans/${encodeURIComponent(plan.id)}/manifest/${encodeURIComponent(vehicleOf(route))}` },
            tr("司机配送单", "Driver manifest"))),
        el("details", { class: "stops" }, el("summary", {}, tr(`站点顺序（${route.stops.length}）`, `Stops in order (${route.stops.length})`)), stopsList));
      card.addEventListener("click", (event) => {
        if (!event.target.closest("input, label, a, summary, button")) B.select(vid, false);
      });
      card.addEventListener("mouseenter", () => B.highlight(vid));
      card.addEventListener("mouseleave", () => B.highlight(null));
      card.addEventListener("focusin", () => B.highlight(vid));
      card.addEventListener("focusout", () => B.highlight(null));
      return card;
    });

    // Vehicles with no route today: they may still be out (or off) for the re-plan.
    const used = new Set(result.routes.map((r) => vehicleOf(r)));
    const idle = state.vehicles.filter((v) => v.active !== false && !used.has(v.id));
    const idleCard = idle.length ? el("div", { class: "card idle" },
      el("h4", {}, tr("未派车辆", "Vehicles without a route")),
      el("ul", { class: "idle-list" }, idle.map((v) => el("li", {},
        el("span", { class: "check" },
          el("input", { type: "checkbox", id: `out-${v.id}`, class: "out-box", "data-vehicle": v.id }),
          el("label", { for: `out-${v.id}` }, `${v.id} ${v.name}`, el("span", { class: "muted" }, tr("（不参加重新规划）", " (leave out of the re-plan)"))))))))
      : null;
    if (!cards.length) cards.push(el("p", { class: "card empty" }, tr("没有线路。", "No routes.")));
    $("routes").replaceChildren(...cards, idleCard || "");
  }

  $("routes").addEventListener("change", (event) => {
    const box = event.target;
    if (box.classList.contains("lock-box")) {
      // A locked route holds every stop: its pins are implied.
      for (const pin of $("routes").querySelectorAll(`.pin-box[data-vehicle="${CSS.escape(box.dataset.vehicle)}"]`)) {
        pin.checked = box.checked;
        pin.disabled = box.checked;
      }
    }
    if (box.classList.contains("out-box")) {
      const lock = $(`lock-${box.dataset.vehicle}`);
      if (lock) {
        lock.disabled = box.checked;
        if (box.checked) lock.checked = false;
      }
      for (const pin of $("routes").querySelectorAll(`.pin-box[data-vehicle="${CSS.escape(box.dataset.vehicle)}"]`)) {
        pin.disabled = box.checked || (lock && lock.checked);
      }
    }
  });

  function renderDropped(plan) {
    const result = plan.result;
    const refs = plan.stop_refs || {};
    $("dropped-card").hidden = !result.unassigned.length;
    $("dropped-count").textContent = String(result.unassigned.length);
    document.querySelector("#dropped tbody").replaceChildren(...result.unassigned.map((u) => {
      // a shipment no stop carries (site inactive or unknown), told by its shipment_id (its id may
      // equal a stop's): its site, and its shipment id beneath
      const shipment = "shipment_id" in u;
      const ref = shipment ? {} : refs[u.id] || {};
      const cell = siteCell(shipment ? u.site : u.id, refs);
      if (shipment) cell.append(el("span", { class: "sub mono" }, tr("货单 ", "shipment "), u.shipment_id));
      const titles = D.reasonTitles(u.reason, u.rule);  // the tooltip in the page's language
      return el("tr", { class: "row-error", dataset: shipment ? { shipment: u.shipment_id, site: u.site } : { stop: u.id } },
        cell,
        el("td", {}, D.volumesNode(ref.deliver_l)),
        el("td", {}, D.volumesNode(ref.pickup_l)),
        el("td", { title: t(...titles), "data-zh-title": titles[0], "data-en-title": titles[1] }, D.reasonNode(u.reason, u.rule)));
    }));
  }

  // ------------------------------------------------------------------ re-plan and publish

  $("replan").addEventListener("click", async (event) => {
    const plan = state.plan;
    if (!plan || !plan.result) return;
    const routes = $("routes");
    const out = [...routes.querySelectorAll(".out-box:checked")].map((b) => b.dataset.vehicle);
    const outSet = new Set(out);
    const locked = [...routes.querySelectorAll(".lock-box:checked")].map((b) => b.dataset.vehicle).filter((v) => !outSet.has(v));
    const lockedSet = new Set(locked);
    const locks = {};
    for (const pin of routes.querySelectorAll(".pin-box:checked")) {
      const v = pin.dataset.vehicle;
      if (!outSet.has(v) && !lockedSet.has(v)) locks[pin.dataset.stop] = v;
    }
    const body = { locks, locked_routes: locked, vehicles_out: out, time_limit_s: Number($("replan-limit").value) };
    try {
      const next = await busy(event.currentTarget, api("POST", `/api/v1/plans/${encodeURIComponent(plan.id)}/replan`, body));
      const gen = ++state.gen;
      state.base = plan;
      B.setPlanInUrl(next.id);
      B.fillPlanSelect(next.id);
      solveBox.scrollIntoView({ block: "nearest" });
      B.follow(next, gen, Date.now());
    } catch (err) {
      reportError(err);
    }
  });

  $("publish").addEventListener("click", async (event) => {
    const plan = state.plan;
    if (!plan) return;
    const button = event.currentTarget;
    let preview;
    try {
      preview = await busy(button, api("GET", `/api/v1/plans/${encodeURIComponent(plan.id)}/publish-preview`));
    } catch (err) {
      reportError(err);
      return;
    }
    const closed = preview.closed_shipments || [];
    if (closed.length) {  // publishing would be refused (409): say why before asking to confirm
      toast(t(`请先重新规划：方案中的货单 ${D.listText(closed)[0]} 已取消或已送达`,
        `Re-plan first: shipments ${D.listText(closed)[1]} on this plan were cancelled or delivered`), "error");
      return;
    }
    const left = preview.unassigned.length;
    const summary = [
      [`${preview.vehicles.length} 辆车、${preview.stops} 个站点、${preview.shipments} 个货单发给司机`,
        `${preview.vehicles.length} vehicles, ${preview.stops} stops and ${preview.shipments} shipments go to the drivers`],
      [`成本 ${D.money(preview.totals.cost)}，里程 ${D.km(preview.totals.distance_km)}`,
        `Cost ${D.money(preview.totals.cost)}, distance ${D.km(preview.totals.distance_km)}`],
    ];
    if (left) summary.push([`${left} 个站点未安排，留在待运列表`, `${left} stops left out stay waiting`]);
    const unplanned = preview.unplanned_shipments || [];  // no stop carries them (site inactive or unknown)
    if (unplanned.length) {
      const [zh, en] = D.listText(unplanned);
      summary.push([`${unplanned.length} 个货单无法安排（收货单位未启用或未知）：${zh}`,
        `${unplanned.length} shipment${unplanned.length === 1 ? "" : "s"} no stop can carry (site inactive or unknown): ${en}`]);
    }
    const late = preview.late_shipments || [];  // carried after their deliver-by day: the dispatcher publishes knowing it
    if (late.length) {
      const [zh, en] = D.listText(late.map((x) => [`${x.shipment_id}（${x.site}，应于 ${x.deliver_by} 送达）`,
        `${x.shipment_id} (${x.site}, due ${x.deliver_by})`]));
      const one = late.length === 1;
      summary.push([`${late.length} 个货单晚于要求送达日期：${zh}`,
        `${late.length} shipment${one ? " arrives" : "s arrive"} after ${one ? "its" : "their"} deliver-by day: ${en}`]);
    }
    if (preview.replaces && preview.changes) {
      const c = preview.changes;
      summary.push([`替换已发布的方案：成本 ${c.delta.cost >= 0 ? "+" : ""}${c.delta.cost.toFixed(2)}，里程 ${c.delta.distance_km >= 0 ? "+" : ""}${c.delta.distance_km.toFixed(1)} km，${c.moved.length} 个站点调整`,
        `Replaces the published plan: cost ${c.delta.cost >= 0 ? "+" : ""}${c.delta.cost.toFixed(2)}, ${c.delta.distance_km >= 0 ? "+" : ""}${c.delta.distance_km.toFixed(1)} km, ${c.moved.length} stops moved`]);
    }
    const ok = await window.hub.confirmAction({
      title: [`发布 ${plan.date} 的配送方案`, `Publish the plan for ${plan.date}`],
      summary,
      confirm: ["发布", "Publish"],
    });
    if (!ok) return;
    try {
      const data = await busy(button, api("POST", `/api/v1/plans/${encodeURIComponent(plan.id)}/publish`, {}, null, { idempotent: true }));
      const leftOut = (data.unassigned || []).length + (data.unplanned_shipments || []).length;
      toast(t(`已发布给司机：${data.routes.length} 辆车`, `Published to the drivers: ${data.routes.length} vehicles`), "ok",
        { small: leftOut ? t(`${leftOut} 个站点或货单未安排，仍在待运列表中`, `${leftOut} stops or shipments left out stay on the waiting list`) : "" });
      const fresh = await api("GET", "/api/v1/plans/" + encodeURIComponent(plan.id));
      renderPlan(fresh);
      B.showSolve(fresh, null);
      await Promise.all([B.fillPlanSelect(fresh.id), B.loadPending()]);
    } catch (err) {
      reportError(err);
    }
  });

  Object.assign(B, { renderPlan, keptVehicles });
  hub.onSession(B.load);
})();
