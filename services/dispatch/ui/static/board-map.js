/* The day board's map (调度台, part 4): every site faint, each route in its vehicle's colour (a
 * second trip dashed), numbered stops fanned out where they share a place, site labels, the hub,
 * a scale bar and north arrow; clicking a route on the map selects its card and the other way round.
 */
(function () {
  "use strict";
  const { el, tr, t } = window.hub;
  const B = window.dispatchBoard;
  const { state, $, svg, svgTitle, siteName } = B;
  const vehicleOf = (route) => route.vehicle_id || route.vehicle;
  const colourOf = (route) => B.colourOf(vehicleOf(route));
  const vehicleName = (route) => B.vehicleName(vehicleOf(route));
  const shortName = (name) => String(name || "").replace(/^.*?[县市区]/, "").replace(/(卫生院|社区卫生服务中心|卫生室)$/, "");
  const keptVehicles = (plan) => B.keptVehicles(plan);

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
    // Numbered markers never cover each other or the hub (a split load's parts, a site on two
    // trips, county hospitals a few hundred metres apart): a marker whose place is taken moves to
    // the nearest free spot on rings around it, so every number stays readable and clickable.
    const MIN_GAP = 21; // two 10 px circles and a pixel between
    const occupied = hubXY ? [hubXY] : [];
    const free = (p) => occupied.every(([x, y]) => Math.hypot(x - p[0], y - p[1]) >= MIN_GAP);
    const fan = (xy) => {
      if (!xy) return xy;
      let spot = xy;
      if (!free(xy)) {
        search: for (let ring = 1; ring <= 6; ring++) {
          const steps = 8 * ring;
          for (let k = 0; k < steps; k++) {
            const a = (2 * Math.PI * k) / steps;
            const p = [xy[0] + ring * MIN_GAP * Math.cos(a), xy[1] + ring * MIN_GAP * Math.sin(a)];
            if (free(p)) { spot = p; break search; }
          }
        }
      }
      occupied.push(spot);
      return spot;
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
        svg("circle", { r: 10, fill: colour }),  // room for a 12 px number (township PC text floor)
        svg("text", { "text-anchor": "middle", dy: "0.35em" }, String(i + 1)),
        svgTitle(zh, en)));
        label(xy, shortName(name), route.vehicle);
      });
    }
    for (const u of result.unassigned) {
      // a shipment no stop carries is told by its shipment_id and marked at its site (its id may be a stop's)
      const shipment = "shipment_id" in u;
      const code = shipment ? u.site : u.id;
      const xy = P(code);
      if (!xy) continue;
      const name = siteName(code, refs);
      const zh = shipment ? `未安排：${name}（${code}）货单 ${u.shipment_id}` : `未安排：${name}（${code}）`;
      const en = shipment ? `Left out: ${name} (${code}) shipment ${u.shipment_id}` : `Left out: ${name} (${code})`;
      const why = window.dispatch.reasonTexts(u.reason, u.rule);
      markers.append(svg("g", {
        class: "drop-mark", tabindex: 0, role: "img", "aria-label": t(zh, en), "data-zh-aria-label": zh, "data-en-aria-label": en,
        ...(shipment ? { "data-shipment": u.shipment_id, "data-site": code } : { "data-stop": u.id }),
        transform: `translate(${xy[0].toFixed(1)},${xy[1].toFixed(1)})`,
      },
      svg("circle", { r: 5.5 }),
      svg("path", { d: "M-3,-3L3,3M3,-3L-3,3" }),
      svgTitle(`${zh} · ${why[0]}`, `${en} · ${why[1]}`)));
    }
    let hubMark = null;
    if (hubXY) {
      const name = siteName(hubCode, refs);
      hubMark = svg("g", { class: "hub-mark", tabindex: 0, role: "img", "aria-label": t(`物流中心：${name}`, `Hub: ${name}`),
        "data-zh-aria-label": `物流中心：${name}`, "data-en-aria-label": `Hub: ${name}`,
        transform: `translate(${hubXY[0].toFixed(1)},${hubXY[1].toFixed(1)})` },
      svg("rect", { x: -10, y: -10, width: 20, height: 20, transform: "rotate(45)" }),
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

    const leftShipments = result.unassigned.filter((u) => "shipment_id" in u).length;
    const leftStops = result.unassigned.length - leftShipments;
    const zh = `线路地图：${result.routes.length} 条线路，${leftStops} 个未安排站点` + (leftShipments ? `，${leftShipments} 个货单无站点` : "");
    const en = `Route map: ${result.routes.length} routes, ${leftStops} stops left out` + (leftShipments ? `, ${leftShipments} shipments on no stop` : "");
    const map = svg("svg", {
      id: "map", viewBox: `0 0 ${proj.width} ${proj.height.toFixed(0)}`, role: "group",
      "aria-label": t(zh, en), "data-zh-aria-label": zh, "data-en-aria-label": en, preserveAspectRatio: "xMidYMid meet",
    },
    svg("rect", { class: "map-bg", x: 0, y: 0, width: proj.width, height: proj.height.toFixed(0) }),
    // The hub is drawn under the stops: a clinic next door to the hub stays visible and clickable.
    background, lines, hubMark, labels, markers, scaleBar, north);
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
        el("span", { class: `key key-line${r.trip > 1 ? " key-dashed" : ""}`, style: `background:${colourOf(r)}`, "aria-hidden": "true" }),
        vehicleOf(r), r.trip ? el("span", { class: "muted" }, " ", window.dispatch.tripLabel(r.trip)) : null)),
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

  Object.assign(B, { drawMap, select, highlight });
})();
