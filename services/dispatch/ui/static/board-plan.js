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
  const tripLabel = (route) => (route.trip && route.trip > 1 ? tr(`第${route.trip}趟`, `trip ${route.trip}`) : route.trip ? tr("第1趟", "trip 1") : null);
  const hours = (periods) => (periods || []).map((p) => `${p[0]}–${p[1]}`).join(" / ");
  const minutes = (hhmm) => { const [h, m] = String(hhmm).split("+")[0].split(":").map(Number); return h * 60 + m; };
  const shortName = (name) => String(name || "").replace(/^.*?[县市区]/, "").replace(/(卫生院|社区卫生服务中心|卫生室)$/, "");

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
    drawMap(plan);
    renderRoutes(plan);
    renderDropped(plan);
    if (state.shipments) B.renderPending(state.shipments);
    $("publish").disabled = draft || plan.status !== "solved";
    $("replan").disabled = Boolean(draft);
    renderCompare(plan, draft);
    if (state.selected) select(state.selected, false);
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
    box.replaceChildren(
      el("h3", {}, tr("重新规划前后对比", "Before and after the re-plan")),
      el("dl", {},
        row("成本", "Cost", D.money(b.cost), D.money(a.cost), delta(diff.delta.cost, "", (v) => v.toFixed(2))),
        row("里程", "Distance", D.km(b.distance_km), D.km(a.distance_km), delta(diff.delta.distance_km, " km", (v) => v.toFixed(1))),
        row("车辆", "Vehicles", b.vehicles, a.vehicles, delta(diff.delta.vehicles, "")),
        row("服务站点", "Stops served", b.stops_served, a.stops_served, delta(diff.delta.stops_served, ""))),
      diff.vehicles_added.length || diff.vehicles_removed.length ? el("p", {},
        diff.vehicles_added.length ? tr(`新增车辆：${diff.vehicles_added.join("、")} `, `Vehicles added: ${diff.vehicles_added.join(", ")} `) : "",
        diff.vehicles_removed.length ? tr(`不再使用：${diff.vehicles_removed.join("、")}`, `No longer used: ${diff.vehicles_removed.join(", ")}`) : "") : null,
      el("p", {}, tr(`调整的站点 ${diff.moved.length} 个`, `${diff.moved.length} stops moved`)),
      el("ul", { class: "moved" }, diff.moved.slice(0, 30).map((m) => el("li", { dataset: { stop: m.stop_id } },
        `${m.name || m.stop_id}：${m.before || t("未安排", "left out")} → ${m.after || t("未安排", "left out")}`))),
    );
    box.hidden = false;
  }

  function renderTotals(plan) {
    const r = plan.result;
    const item = (zh, en, value, cls) => el("div", { class: cls || "" }, el("dt", {}, tr(zh, en)), el("dd", {}, value));
    const activeFleet = state.vehicles.filter((v) => v.active !== false).length;
    $("totals").replaceChildren(
      item("派车", "Vehicles", `${r.totals.vehicles} / ${activeFleet || r.totals.vehicles}`),
      item("服务站点", "Stops served", `${r.totals.stops_served}`),
      item("未安排", "Left out", `${r.unassigned.length}`, r.unassigned.length ? "bad" : ""),
      item("总里程", "Distance", D.km(r.totals.distance_km)),
      item("总成本", "Cost", D.money(r.totals.cost)),
      item("求解用时", "Solve time", `${(r.stats || {}).solve_s ?? "—"} s`),
    );
  }

  /** Equirectangular projection of every known site into the SVG box (x scaled by cos of the mid latitude). */
  function projection(points, width, maxHeight, pad) {
    const lons = points.map((p) => p[0]), lats = points.map((p) => p[1]);
    const minLon = Math.min(...lons), maxLon = Math.max(...lons), minLat = Math.min(...lats), maxLat = Math.max(...lats);
    const k = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
    const spanX = Math.max((maxLon - minLon) * k, 1e-6), spanY = Math.max(maxLat - minLat, 1e-6);
    let scale = (width - 2 * pad) / spanX;
    let height = spanY * scale + 2 * pad;
    if (height > maxHeight) {
      scale = (maxHeight - 2 * pad) / spanY;
      height = maxHeight;
    }
    const offsetX = (width - spanX * scale) / 2;
    return {
      width, height, scale,
      kmPerUnit: 111.32 / scale,
      xy: (lon, lat) => [offsetX + (lon - minLon) * k * scale, pad + (maxLat - lat) * scale],
    };
  }

  function drawMap(plan) {
    const refs = plan.stop_refs || {};
    const result = plan.result;
    const points = [];
    for (const s of state.sites) if (typeof s.lat === "number" && typeof s.lon === "number") points.push([s.lon, s.lat]);
    for (const r of Object.values(refs)) if (typeof r.lat === "number") points.push([r.lon, r.lat]);
    const holder = $("map-holder");
    if (!points.length) {
      holder.replaceChildren(el("p", { class: "empty" }, tr("没有机构坐标，无法绘制地图。", "No site coordinates to draw.")));
      return;
    }
    const proj = projection(points, 640, 600, 22);
    const P = (code) => {
      const ref = refs[code] || state.siteBy[code];
      return ref && typeof ref.lat === "number" ? proj.xy(ref.lon, ref.lat) : null;
    };
    const hubCode = Object.keys(refs).find((c) => refs[c].hub) || (state.sites.find((s) => s.is_hub) || {}).code;
    const hubXY = P(hubCode);
    const kept = keptVehicles(plan);

    const background = svg("g", { class: "map-sites", "aria-hidden": "true" },
      state.sites.filter((s) => !s.is_hub && typeof s.lat === "number").map((s) => {
        const [x, y] = proj.xy(s.lon, s.lat);
        return svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: s.level === "village" ? 2 : 3, class: `site-dot level-${s.level}` },
          svgTitle(`${s.name}（${s.code}）`, `${s.name} (${s.code})`));
      }));

    const lines = svg("g", { class: "map-routes" });
    const markers = svg("g", { class: "map-stops" });
    const labels = svg("g", { class: "map-labels", "aria-hidden": "true" });
    // Stops at the same place (a split load's parts, a site on two trips) fan out around it, so
    // every number stays readable and clickable.
    const taken = {};
    const fan = (xy) => {
      if (!xy) return xy;
      const key = `${Math.round(xy[0] / 6)},${Math.round(xy[1] / 6)}`;
      const n = (taken[key] = (taken[key] || 0) + 1) - 1;
      return n ? [xy[0] + 15 * Math.cos(n * 1.2), xy[1] + 15 * Math.sin(n * 1.2)] : xy;
    };
    const labelAll = result.routes.reduce((n, r) => n + r.stops.length, 0) <= 60;
    const placed = [];
    const label = (xy, text, vehicle) => {
      // Skip a label that would sit on one already placed (they crowd near the hub).
      if (placed.some(([x, y]) => Math.abs(x - xy[0]) < 40 && Math.abs(y - xy[1]) < 12) && labelAll) return;
      if (labelAll) placed.push(xy);
      labels.append(svg("text", { x: (xy[0] + 9).toFixed(1), y: (xy[1] + 4).toFixed(1), class: `map-label${labelAll ? " all" : ""}`,
        "data-vehicle": vehicle }, text));
    };
    for (const route of result.routes) {
      const colour = colourOf(route);
      const path = [hubXY, ...route.stops.map((s) => P(s.id)), hubXY].filter(Boolean);
      lines.append(svg("polyline", {
        points: path.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "),
        class: `route-line${kept.has(route.vehicle) ? " kept" : ""}`, stroke: colour, "data-vehicle": route.vehicle,
        "stroke-dasharray": route.trip > 1 ? "7 4" : null,
      }, svgTitle(`${route.vehicle} ${vehicleName(route)} · ${route.stops.length} 站 · ${route.distance_km} km`,
        `${route.vehicle} · ${route.stops.length} stops · ${route.distance_km} km`)));
      route.stops.forEach((stop, i) => {
        const xy = fan(P(stop.id));
        if (!xy) return;
        const name = siteName(stop.id, refs);
        const zh = `${route.vehicle} 第 ${i + 1} 站：${name}（${stop.id}）到达 ${stop.arrival}`;
        const en = `${route.vehicle} stop ${i + 1}: ${name} (${stop.id}) arrives ${stop.arrival}`;
        markers.append(svg("g", {
          class: "stop-mark", tabindex: 0, role: "img", "aria-label": t(zh, en), "data-zh-aria-label": zh, "data-en-aria-label": en,
          "data-vehicle": route.vehicle, "data-stop": stop.id, transform: `translate(${xy[0].toFixed(1)},${xy[1].toFixed(1)})`,
        },
        svg("circle", { r: 7, fill: colour }),
        svg("text", { "text-anchor": "middle", dy: "0.35em" }, String(i + 1)),
        svgTitle(zh, en)));
        label(xy, shortName(name), route.vehicle);
      });
    }
    for (const u of result.unassigned) {
      const xy = P(u.id);
      if (!xy) continue;
      const name = siteName(u.id, refs);
      const zh = `未安排：${name}（${u.id}）`;
      const en = `Left out: ${name} (${u.id})`;
      markers.append(svg("g", {
        class: "drop-mark", tabindex: 0, role: "img", "aria-label": t(zh, en), "data-zh-aria-label": zh, "data-en-aria-label": en,
        "data-stop": u.id, transform: `translate(${xy[0].toFixed(1)},${xy[1].toFixed(1)})`,
      },
      svg("circle", { r: 5.5 }),
      svg("path", { d: "M-3,-3L3,3M3,-3L-3,3" }),
      svgTitle(`${zh} · ${u.reason}`, `${en} · ${u.reason}`)));
    }
    let hubMark = null;
    if (hubXY) {
      const name = siteName(hubCode, refs);
      hubMark = svg("g", { class: "hub-mark", tabindex: 0, role: "img", "aria-label": t(`物流中心：${name}`, `Hub: ${name}`),
        "data-zh-aria-label": `物流中心：${name}`, "data-en-aria-label": `Hub: ${name}`,
        transform: `translate(${hubXY[0].toFixed(1)},${hubXY[1].toFixed(1)})` },
      svg("rect", { x: -8, y: -8, width: 16, height: 16, transform: "rotate(45)" }),
      svg("text", { "text-anchor": "middle", dy: "0.35em" }, "H"),
      svgTitle(`物流中心：${name}（${hubCode}）`, `Hub: ${name} (${hubCode})`));
    }
    // A 10 km scale bar and a north arrow, so distances on the map mean something.
    const barKm = 10;
    const barLen = barKm / proj.kmPerUnit;
    const sx = 16, sy = proj.height - 14;
    const scaleBar = svg("g", { class: "map-scale", "aria-hidden": "true" },
      svg("path", { d: `M${sx},${sy - 4}V${sy}H${(sx + barLen).toFixed(1)}V${sy - 4}` }),
      svg("text", { x: (sx + barLen / 2).toFixed(1), y: sy - 6, "text-anchor": "middle" }, `${barKm} km`));
    const north = svg("g", { class: "map-north", "aria-hidden": "true", transform: `translate(${proj.width - 18},22)` },
      svg("path", { d: "M0,-12L5,4L0,1L-5,4Z" }), svg("text", { y: 16, "text-anchor": "middle" }, "N"));

    const zh = `线路地图：${result.routes.length} 条线路，${result.unassigned.length} 个未安排站点`;
    const en = `Route map: ${result.routes.length} routes, ${result.unassigned.length} stops left out`;
    const map = svg("svg", {
      id: "map", viewBox: `0 0 ${proj.width} ${proj.height.toFixed(0)}`, role: "group",
      "aria-label": t(zh, en), "data-zh-aria-label": zh, "data-en-aria-label": en, preserveAspectRatio: "xMidYMid meet",
    },
    svg("rect", { class: "map-bg", x: 0, y: 0, width: proj.width, height: proj.height.toFixed(0) }),
    background, lines, labels, markers, hubMark, scaleBar, north);
    holder.replaceChildren(map);
    map.addEventListener("click", (event) => {
      const hit = event.target.closest("[data-vehicle]");
      if (hit) select(hit.dataset.vehicle, true);
    });
    map.addEventListener("keydown", (event) => {
      const hit = event.target.closest("[data-vehicle]");
      if (hit && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        select(hit.dataset.vehicle, true);
      }
    });

    const legend = $("map-legend");
    legend.replaceChildren(
      el("li", {}, el("span", { class: "key key-hub", "aria-hidden": "true" }), tr("物流中心", "Hub")),
      ...result.routes.map((r) => el("li", { dataset: { vehicle: r.vehicle } },
        el("span", { class: "key key-line", style: `background:${colourOf(r)}`, "aria-hidden": "true" }), r.vehicle)),
      el("li", {}, el("span", { class: "key key-drop", "aria-hidden": "true" }, "×"), tr("未安排", "Left out")),
      el("li", {}, el("span", { class: "key key-site", "aria-hidden": "true" }), tr("其他机构", "Other sites")),
    );
  }

  /** Select a route: its card and its line and stops on the map light up; the other one follows. */
  function select(vehicleId, scroll) {
    state.selected = state.selected === vehicleId && scroll ? null : vehicleId;
    for (const card of $("routes").querySelectorAll("article.route")) {
      const on = card.dataset.vehicle === state.selected;
      card.classList.toggle("selected", on);
      card.setAttribute("aria-current", on ? "true" : "false");
      if (on && scroll) card.scrollIntoView({ block: "nearest" });
    }
    highlight(state.selected);
  }

  function highlight(vehicleId) {
    const map = $("map");
    if (!map) return;
    vehicleId = vehicleId || state.selected;
    map.classList.toggle("focus-route", Boolean(vehicleId));
    for (const node of map.querySelectorAll("[data-vehicle]")) node.classList.toggle("on", node.dataset.vehicle === vehicleId);
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
          route.break ? el("span", {}, tr("午休 ", "break "), el("span", { class: "mono" }, route.break)) : null,
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
        if (!event.target.closest("input, label, a, summary, button")) select(vid, false);
      });
      card.addEventListener("mouseenter", () => highlight(vid));
      card.addEventListener("mouseleave", () => highlight(null));
      card.addEventListener("focusin", () => highlight(vid));
      card.addEventListener("focusout", () => highlight(null));
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
      const ref = refs[u.id] || {};
      return el("tr", { class: "row-error", dataset: { stop: u.id } },
        siteCell(u.id, refs),
        el("td", {}, D.volumesNode(ref.deliver_l)),
        el("td", {}, D.volumesNode(ref.pickup_l)),
        el("td", { title: u.reason }, D.reasonNode(u.reason)));
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
    const left = preview.unassigned.length;
    const summary = [
      [`${preview.vehicles.length} 辆车、${preview.stops} 个站点、${preview.shipments} 个货单发给司机`,
        `${preview.vehicles.length} vehicles, ${preview.stops} stops and ${preview.shipments} shipments go to the drivers`],
      [`成本 ${D.money(preview.totals.cost)}，里程 ${D.km(preview.totals.distance_km)}`,
        `Cost ${D.money(preview.totals.cost)}, distance ${D.km(preview.totals.distance_km)}`],
    ];
    if (left) summary.push([`${left} 个站点未安排，留在待运列表`, `${left} stops left out stay waiting`]);
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
      const leftOut = (data.unassigned || []).length;
      toast(t(`已发布给司机：${data.routes.length} 辆车`, `Published to the drivers: ${data.routes.length} vehicles`), "ok",
        { small: leftOut ? t(`${leftOut} 个站点未安排，仍在待运列表中`, `${leftOut} stops left out stay on the waiting list`) : "" });
      const fresh = await api("GET", "/api/v1/plans/" + encodeURIComponent(plan.id));
      renderPlan(fresh);
      B.showSolve(fresh, null);
      await Promise.all([B.fillPlanSelect(fresh.id), B.loadPending()]);
    } catch (err) {
      reportError(err);
    }
  });

  Object.assign(B, { renderPlan });
})();
