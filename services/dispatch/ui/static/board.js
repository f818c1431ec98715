/* The dispatcher's day board (调度台): what waits to move, urgent orders, planning tomorrow with
 * live solver progress, the routes on an SVG map and as a list with loads, locks and pins for a
 * re-plan, publishing, and links to each driver's manifest.
 *
 * State lives in the API: the page keeps the plan it shows in the address bar (?plan=<id>), so a
 * reload or a second PC picks up the same plan (and its progress, if it is still solving).
 */
(function () {
  "use strict";
  const { el, tr, t, api, busy, fmtTime, toast, reportError, clearFieldErrors, showFieldErrors } = window.hub;
  const D = window.dispatch;

  const $ = (id) => document.getElementById(id);
  const pendingBody = document.querySelector("#pending tbody");
  const form = $("urgent-form");
  const siteSelect = $("u-site");
  const planSelect = $("plan-select");
  const solveBox = $("solve-box");
  const progressBar = $("solve-progress");
  const resultBox = $("result");

  const POLL_MS = 500;
  const SVG = "http://www.w3.org/2000/svg";

  const state = {
    sites: [], siteBy: {}, vehicles: [], vehicleBy: {},
    day: D.tomorrow(), plan: null, base: null, gen: 0, newShipment: null, shipments: null,
  };

  // ------------------------------------------------------------------ small helpers

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) if (value !== undefined && value !== null) node.setAttribute(key, String(value));
    for (const child of children.flat()) if (child) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  /** An SVG <title> that follows the language switch. */
  function svgTitle(zh, en) {
    const node = svg("title", { "data-zh": zh, "data-en": en || zh });
    node.textContent = t(zh, en);
    return node;
  }

  function siteName(code, refs) {
    return (state.siteBy[code] || {}).name || ((refs || {})[code] || {}).name || code;
  }

  function siteCell(code, refs) {
    return el("td", {}, siteName(code, refs), el("span", { class: "sub mono" }, code));
  }

  function colourOf(vehicleId) {
    const i = state.vehicles.findIndex((v) => v.id === vehicleId);
    return D.COLOURS[(i >= 0 ? i : state.vehicles.length + vehicleId.length) % D.COLOURS.length];
  }

  function vehicleName(id) {
    return (state.vehicleBy[id] || {}).name || "";
  }

  function setPlanInUrl(planId) {
    const url = new URL(location.href);
    if (planId) url.searchParams.set("plan", planId);
    else url.searchParams.delete("plan");
    history.replaceState(null, "", url);
  }

  function showDay(day) {
    state.day = day;
    $("plan-day").textContent = day;
    const note = $("plan-day-note");
    const tomorrow = D.tomorrow();
    note.replaceChildren(D.weekdayLabel(day), day === tomorrow ? tr("（明日）", " (tomorrow)") : day === D.countyToday() ? tr("（今日）", " (today)") : "");
  }

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
        el("td", {}, tr(...D.SOURCE.rounds), done ? el("span", { class: "badge badge-essential" }, tr("已发布", "Published")) : null,
          el("span", { class: "sub" }, due.rounds.map((r) => tr(...(D.ROUND[r] || [r, r]))).reduce((acc, node, i) => (i ? [...acc, "、", node] : [node]), []))),
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
      for (const s of groups[level]) group.append(el("option", { value: s.code }, `${s.name}（${s.code}）`));
      siteSelect.append(group);
    }
    siteSelect.value = keep;
  }

  document.addEventListener("hub:lang", () => {
    // Everything else carries both languages (hub.tr spans, data-en attributes), so the plan is
    // not re-rendered: that would drop the locks and pins ticked but not yet re-planned.
    for (const g of siteSelect.querySelectorAll("optgroup")) g.label = t(g.dataset.zhLabel, g.dataset.enLabel);
    if (planSelect.options.length > 1) fillPlanSelect(planSelect.value);
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

  // ------------------------------------------------------------------ plans of the day

  async function fillPlanSelect(selectedId) {
    let plans = [];
    try {
      plans = await api("GET", "/api/v1/plans?date=" + encodeURIComponent(state.day));
    } catch (err) {
      reportError(err);
    }
    const placeholder = el("option", { value: "" }, tr(plans.length ? "选择方案…" : "尚无方案", plans.length ? "Choose a plan…" : "No plan yet"));
    planSelect.replaceChildren(placeholder, ...plans.map((p) => el("option", { value: p.id },
      `${fmtTime(p.created_at).slice(11)} · ${t(...(D.PLAN_STATUS[p.status] || [p.status, p.status]))}`
      + (p.base_plan_id ? t(" · 重新规划", " · re-plan") : "")
      + (p.result ? ` · ${p.result.totals.vehicles}${t(" 车", " veh")}` : ""))));
    planSelect.value = selectedId || "";
    return plans;
  }

  planSelect.addEventListener("change", () => {
    if (planSelect.value) openPlan(planSelect.value);
  });

  async function openPlan(planId) {
    const gen = ++state.gen;
    try {
      const plan = await api("GET", "/api/v1/plans/" + encodeURIComponent(planId));
      if (gen !== state.gen) return true;
      setPlanInUrl(plan.id);
      if (plan.date !== state.day) {
        showDay(plan.date);
        await loadPending();
      }
      state.base = null;
      if (plan.base_plan_id) {
        state.base = await api("GET", "/api/v1/plans/" + encodeURIComponent(plan.base_plan_id)).catch(() => null);
      }
      await fillPlanSelect(plan.id);
      if (plan.status === "queued" || plan.status === "solving") {
        follow(plan, gen, Date.parse(plan.created_at) || Date.now());
      } else {
        setSolving(false);
        showSolve(plan, null);
        renderPlan(plan);
      }
      return true;
    } catch (err) {
      if (err.status === 404) setPlanInUrl(null);
      reportError(err);
      return false;
    }
  }

  // ------------------------------------------------------------------ solving: progress and sparkline

  function timeLimit(plan) {
    return Number((((plan.request || {}).options) || {}).time_limit_s) || 1;
  }

  function showSolve(plan, startedAt) {
    solveBox.hidden = false;
    $("plan-error").hidden = true;
    const limit = timeLimit(plan);
    const samples = (plan.progress && plan.progress.length ? plan.progress : ((plan.result || {}).stats || {}).progress) || [];
    const last = samples.length ? samples[samples.length - 1] : null;
    const done = !["queued", "solving"].includes(plan.status);
    let elapsed;
    if (done) elapsed = limit;
    else if (plan.status === "queued") elapsed = 0;
    else elapsed = Math.max(last ? last[0] : 0, startedAt ? (Date.now() - startedAt) / 1000 : 0);
    elapsed = Math.min(elapsed, limit);
    progressBar.max = limit;
    progressBar.value = elapsed;
    progressBar.setAttribute("aria-valuetext", `${elapsed.toFixed(1)} / ${limit} s`);
    const text = $("solve-text");
    if (plan.status === "queued") text.replaceChildren(tr("排队等待求解…", "Waiting for the solver…"));
    else if (plan.status === "solving") text.replaceChildren(tr(`已用 ${elapsed.toFixed(1)} / ${limit} 秒`, `${elapsed.toFixed(1)} of ${limit} s`));
    else if (plan.status === "failed") text.replaceChildren(tr("求解失败", "The solve failed"));
    else {
      const took = ((plan.result || {}).stats || {}).solve_s;
      text.replaceChildren(tr(`完成 · 用时 ${took ?? limit} 秒`, `Done in ${took ?? limit} s`));
    }
    solveBox.dataset.status = plan.status;
    $("solve-label").replaceChildren(plan.base_plan_id ? tr("重新规划进度", "Re-plan progress") : tr("求解进度", "Solving"));
    drawSpark(samples, limit, done ? limit : elapsed);
    if (last) {
      $("objective").textContent = Math.round(last[1]).toLocaleString("zh-CN");
      const first = samples[0][1];
      $("objective-gain").replaceChildren(samples.length > 1 && first > 0
        ? tr(`较首个解降低 ${(100 * (1 - last[1] / first)).toFixed(0)}%，改进 ${samples.length - 1} 次`,
          `${(100 * (1 - last[1] / first)).toFixed(0)}% below the first solution, ${samples.length - 1} improvements`)
        : tr("已找到首个可行解", "first feasible solution"));
    } else {
      $("objective").textContent = "—";
      $("objective-gain").replaceChildren(plan.status === "solving" ? tr("正在寻找首个可行解…", "looking for a first solution…") : "");
    }
    $("plan-badge").replaceChildren(D.planStatusBadge(plan.status));
  }

  /** The objective over time as a step line, log scale (the first solution dwarfs the rest). */
  function drawSpark(samples, limit, until) {
    const box = $("spark");
    const W = 220, H = 44, P = 3;
    const nodes = [svg("line", { x1: P, y1: H - P, x2: W - P, y2: H - P, class: "spark-axis" })];
    if (samples.length) {
      const logs = samples.map((s) => Math.log10(Math.max(1, s[1])));
      const hi = Math.max(...logs), lo = Math.min(...logs);
      const x = (sec) => P + (Math.min(sec, limit) / limit) * (W - 2 * P);
      const y = (v) => (hi === lo ? H / 2 : P + ((hi - v) / (hi - lo)) * (H - 2 * P));
      const points = [];
      samples.forEach((s, i) => {
        if (i) points.push([x(s[0]), y(logs[i - 1])]);
        points.push([x(s[0]), y(logs[i])]);
      });
      points.push([x(Math.max(until, samples[samples.length - 1][0])), y(logs[logs.length - 1])]);
      nodes.push(svg("polyline", { points: points.map((p) => p.map((n) => n.toFixed(1)).join(",")).join(" "), class: "spark-line" }));
      const lastPoint = points[points.length - 2] || points[0];
      nodes.push(svg("circle", { cx: lastPoint[0].toFixed(1), cy: lastPoint[1].toFixed(1), r: 2.5, class: "spark-dot" }));
    }
    box.replaceChildren(...nodes);
  }

  /** While a solve runs, the buttons that would queue another (or publish the old plan) wait. */
  function setSolving(on) {
    for (const id of ["plan-tomorrow", "replan", "publish"]) $(id).disabled = on;
    resultBox.classList.toggle("stale", on);
    if (!on && state.plan) $("publish").disabled = state.plan.status !== "solved";
  }

  /** Poll a queued/solving plan every ~500 ms until it is solved or failed, then show it. */
  async function follow(plan, gen, startedAt) {
    setSolving(true);
    let current = plan;
    let solvingSince = plan.status === "solving" ? startedAt : null;
    for (;;) {
      if (gen !== state.gen) return;
      if (current.status === "solving" && !solvingSince) solvingSince = Date.now();
      showSolve(current, solvingSince);
      if (!["queued", "solving"].includes(current.status)) break;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (gen !== state.gen) return;
      try {
        current = await api("GET", "/api/v1/plans/" + encodeURIComponent(plan.id));
      } catch (err) {
        if (err.status === 401 || err.status === 404) {
          setSolving(false);
          reportError(err);
          return;
        }
        // A dropped connection on a township line: keep trying, the plan solves server-side.
      }
    }
    setSolving(false);
    await fillPlanSelect(current.id);
    if (current.status === "failed") {
      const box = $("plan-error");
      box.replaceChildren(el("strong", {}, tr("求解失败：", "The solve failed: ")), current.error || "");
      box.hidden = false;
      if (!state.plan) resultBox.hidden = true;
      return;
    }
    renderPlan(current);
    const r = current.result || {};
    toast(t(`方案已生成：${(r.totals || {}).vehicles || 0} 辆车，${(r.totals || {}).stops_served || 0} 个站点`,
      `Plan ready: ${(r.totals || {}).vehicles || 0} vehicles, ${(r.totals || {}).stops_served || 0} stops`), "ok");
  }

  $("plan-tomorrow").addEventListener("click", async (event) => {
    const limit = Number($("time-limit").value);
    const day = D.tomorrow();
    try {
      const plan = await busy(event.currentTarget, api("POST", "/api/v1/plans", { date: day, time_limit_s: limit, workers: 2 }));
      const gen = ++state.gen;
      state.base = null;
      setPlanInUrl(plan.id);
      if (day !== state.day) {
        showDay(day);
        loadPending();
      }
      fillPlanSelect(plan.id);
      follow(plan, gen, Date.now());
    } catch (err) {
      reportError(err);
    }
  });

  // ------------------------------------------------------------------ the plan: totals, map, routes, dropped

  function keptVehicles(plan) {
    return new Set(((plan.request || {}).kept_routes || []).map((r) => r.vehicle));
  }

  function capacityOf(plan, vehicleId) {
    const v = ((plan.request || {}).vehicles || []).find((x) => x.id === vehicleId);
    if (v) return v.compartments;
    return (state.vehicleBy[vehicleId] || {}).compartments_l || {};
  }

  function renderPlan(plan) {
    state.plan = plan;
    const result = plan.result;
    if (!result) {
      resultBox.hidden = true;
      return;
    }
    resultBox.hidden = false;
    resultBox.dataset.planId = plan.id;
    $("result-status").replaceChildren(D.planStatusBadge(plan.status), " ",
      D.badge(result.status === "solved" ? "badge-essential" : "badge-alert", ...(D.RESULT_STATUS[result.status] || [result.status, result.status])),
      plan.published_at ? el("span", { class: "muted" }, " ", tr("发布于 ", "published "), fmtTime(plan.published_at)) : "");
    renderTotals(plan);
    drawMap(plan);
    renderRoutes(plan);
    renderDropped(plan);
    if (state.shipments) renderPending(state.shipments);
    $("publish").disabled = plan.status !== "solved";
    $("replan").disabled = false;
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
    for (const route of result.routes) {
      const colour = colourOf(route.vehicle);
      const path = [hubXY, ...route.stops.map((s) => P(s.id)), hubXY].filter(Boolean);
      lines.append(svg("polyline", {
        points: path.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "),
        class: `route-line${kept.has(route.vehicle) ? " kept" : ""}`, stroke: colour, "data-vehicle": route.vehicle,
      }, svgTitle(`${route.vehicle} ${vehicleName(route.vehicle)} · ${route.stops.length} 站 · ${route.distance_km} km`,
        `${route.vehicle} · ${route.stops.length} stops · ${route.distance_km} km`)));
      route.stops.forEach((stop, i) => {
        const xy = P(stop.id);
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
    background, lines, markers, hubMark, scaleBar, north);
    holder.replaceChildren(map);

    const legend = $("map-legend");
    legend.replaceChildren(
      el("li", {}, el("span", { class: "key key-hub", "aria-hidden": "true" }), tr("物流中心", "Hub")),
      ...result.routes.map((r) => el("li", { dataset: { vehicle: r.vehicle } },
        el("span", { class: "key key-line", style: `background:${colourOf(r.vehicle)}`, "aria-hidden": "true" }), r.vehicle)),
      el("li", {}, el("span", { class: "key key-drop", "aria-hidden": "true" }, "×"), tr("未安排", "Left out")),
      el("li", {}, el("span", { class: "key key-site", "aria-hidden": "true" }), tr("其他机构", "Other sites")),
    );
  }

  function highlight(vehicleId) {
    const map = $("map");
    if (!map) return;
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
      const colour = colourOf(vid);
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
        return el("li", { dataset: { stop: stop.id } },
          el("span", { class: "seq", style: `background:${colour}` }, String(i + 1)),
          el("span", { class: "mono time" }, stop.arrival),
          el("span", { class: "stop-name" }, name, el("span", { class: "sub mono" }, stop.id)),
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
          el("h4", { id: `route-${vid}-title` }, vid, " ", el("span", { class: "muted" }, vehicleName(vid))),
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
          el("a", { class: "btn btn-small manifest-link", href: `/ui/plans/${encodeURIComponent(plan.id)}/manifest/${encodeURIComponent(vid)}` },
            tr("司机配送单", "Driver manifest"))),
        el("details", { class: "stops" }, el("summary", {}, tr(`站点顺序（${route.stops.length}）`, `Stops in order (${route.stops.length})`)), stopsList));
      card.addEventListener("mouseenter", () => highlight(vid));
      card.addEventListener("mouseleave", () => highlight(null));
      card.addEventListener("focusin", () => highlight(vid));
      card.addEventListener("focusout", () => highlight(null));
      return card;
    });

    // Vehicles with no route today: they may still be out (or off) for the re-plan.
    const used = new Set(result.routes.map((r) => r.vehicle));
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
      setPlanInUrl(next.id);
      fillPlanSelect(next.id);
      solveBox.scrollIntoView({ block: "nearest" });
      follow(next, gen, Date.now());
    } catch (err) {
      reportError(err);
    }
  });

  $("publish").addEventListener("click", async (event) => {
    const plan = state.plan;
    if (!plan) return;
    try {
      const data = await busy(event.currentTarget, api("POST", `/api/v1/plans/${encodeURIComponent(plan.id)}/publish`, {}, null, { idempotent: true }));
      const left = (data.unassigned || []).length;
      toast(t(`已发布给司机：${data.routes.length} 条线路`, `Published to the drivers: ${data.routes.length} routes`), "ok",
        { small: left ? t(`${left} 个站点未安排，仍在待运列表中`, `${left} stops left out stay on the waiting list`) : "" });
      const fresh = await api("GET", "/api/v1/plans/" + encodeURIComponent(plan.id));
      renderPlan(fresh);
      showSolve(fresh, null);
      await Promise.all([fillPlanSelect(fresh.id), loadPending()]);
    } catch (err) {
      reportError(err);
    }
  });

  $("refresh").addEventListener("click", () => load());

  // ------------------------------------------------------------------ start

  async function load() {
    try {
      const [sites, vehicles] = await Promise.all([
        api("GET", "/api/v1/reference/sites?limit=1000"),
        api("GET", "/api/v1/vehicles"),
      ]);
      state.sites = sites;
      state.siteBy = Object.fromEntries(sites.map((s) => [s.code, s]));
      state.vehicles = vehicles;
      state.vehicleBy = Object.fromEntries(vehicles.map((v) => [v.id, v]));
    } catch (err) {
      reportError(err);
      return;
    }
    fillSitePicker();
    $("no-sites").hidden = state.sites.length > 0;
    showDay(state.day);
    const pending = loadPending();
    const wanted = new URL(location.href).searchParams.get("plan");
    if (!wanted || !(await openPlan(wanted))) {
      const plans = await fillPlanSelect(null);
      const latest = plans.find((p) => p.status !== "superseded") || plans[0];
      if (latest) await openPlan(latest.id);
    }
    await pending;
  }

  hub.onSession(load);
})();
