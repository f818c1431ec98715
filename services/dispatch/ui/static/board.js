/* The dispatcher's day board (调度台): what waits to move, urgent orders, planning any day from
 * today (earlier days can be read) with live solver progress, and (board-plan.js) the routes on an
 * SVG map and as a list with trips, loads, locks and pins for a re-plan, the before/after of a
 * re-plan, publishing with a summary, and links to each driver's manifest.
 *
 * State lives in the API: the page keeps the plan it shows in the address bar (?plan=<id>), so a
 * reload or a second PC picks up the same plan (and its progress, if it is still solving). Progress
 * polls read /plans/{id}/progress (a few KB); the full plan is fetched when the solver has a first
 * plan (shown at once, marked as a draft while the search goes on) and again when it is done.
 */
(function () {
  "use strict";
  const { el, tr, t, api, busy, fmtTime, toast, reportError } = window.hub;
  const D = window.dispatch;

  const $ = (id) => document.getElementById(id);
  const planSelect = $("plan-select");
  const solveBox = $("solve-box");
  const progressBar = $("solve-progress");
  const resultBox = $("result");

  const POLL_MS = 500;
  const SITE_PAGES = 10; // pages of 1,000 sites: a Rizhao-size county has ~1,650
  const SVG = "http://www.w3.org/2000/svg";

  const state = {
    sites: [], siteBy: {}, vehicles: [], vehicleBy: {},
    day: D.tomorrow(), plan: null, base: null, gen: 0, newShipment: null, shipments: null, limit: 1, selected: null,
  };
  const B = window.dispatchBoard = { state, $, SVG, resultBox, solveBox };

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

  /** A distinct colour per vehicle of the plan shown: a hand-picked palette first, then hues a
   * golden angle apart at alternating lightness (never two neighbours alike). */
  function colourOf(vehicleId) {
    const order = state.routeOrder || [];
    let i = order.indexOf(vehicleId);
    if (i < 0) i = order.length + Math.max(0, state.vehicles.findIndex((v) => v.id === vehicleId));
    if (i < D.COLOURS.length) return D.COLOURS[i];
    const k = i - D.COLOURS.length;
    return `hsl(${Math.round((k * 137.508) % 360)}, 70%, ${k % 2 ? 38 : 52}%)`;
  }

  function vehicleName(id) {
    return (state.vehicleBy[id] || {}).name || "";
  }

  Object.assign(B, { svg, svgTitle, siteName, siteCell, colourOf, vehicleName });

  function setPlanInUrl(planId) {
    const url = new URL(location.href);
    if (planId) url.searchParams.set("plan", planId);
    else url.searchParams.delete("plan");
    history.replaceState(null, "", url);
  }

  function showDay(day) {
    state.day = day;
    $("plan-day").textContent = day;
    $("day-picker").value = day;
    const past = day < D.countyToday();
    $("plan-tomorrow").hidden = past;
    $("past-day-note").hidden = !past;
    const note = $("plan-day-note");
    const tomorrow = D.tomorrow();
    note.replaceChildren(D.weekdayLabel(day), day === tomorrow ? tr("（明日）", " (tomorrow)") : day === D.countyToday() ? tr("（今日）", " (today)") : "");
  }

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
        await B.loadPending();
      }
      state.base = null;
      if (plan.base_plan_id) {
        state.base = await api("GET", "/api/v1/plans/" + encodeURIComponent(plan.base_plan_id)).catch(() => null);
      }
      await fillPlanSelect(plan.id);
      timeLimit(plan);
      if (plan.status === "queued" || plan.status === "solving") {
        if (plan.result) B.renderPlan(plan, true);
        follow(plan, gen, Date.parse(plan.created_at) || Date.now());
      } else {
        setSolving(false);
        showSolve(plan, null);
        B.renderPlan(plan);
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
    const limit = Number((((plan.request || {}).options) || {}).time_limit_s);
    if (limit) state.limit = limit;
    return limit || state.limit || 1;
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
    else if (plan.status === "failed") text.replaceChildren(tr(...D.PLAN_STATUS.failed));
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
    for (const id of ["plan-tomorrow", "replan", "publish", "day-picker"]) $(id).disabled = on;
    resultBox.classList.toggle("stale", on);
    if (!on && state.plan) $("publish").disabled = state.plan.status !== "solved";
    if (on) $("publish").disabled = true;
  }

  /** Poll a queued/solving plan every ~500 ms until it is solved or failed, then show it. */
  async function follow(plan, gen, startedAt) {
    setSolving(true);
    let current = plan;
    let solvingSince = plan.status === "solving" ? startedAt : null;
    let drafted = Boolean(plan.result);
    for (;;) {
      if (gen !== state.gen) return;
      if (current.status === "solving" && !solvingSince) solvingSince = Date.now();
      showSolve(current, solvingSince);
      if (!["queued", "solving"].includes(current.status)) break;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (gen !== state.gen) return;
      try {
        current = await api("GET", `/api/v1/plans/${encodeURIComponent(plan.id)}/progress`);
        if (current.status === "solving" && current.has_routes && !drafted) {
          // The solver has a first plan: show it now, marked as a draft, while the search goes on.
          drafted = true;
          const draft = await api("GET", "/api/v1/plans/" + encodeURIComponent(plan.id));
          if (gen !== state.gen) return;
          if (draft.result) B.renderPlan(draft, true);
        }
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
    try {
      current = await api("GET", "/api/v1/plans/" + encodeURIComponent(plan.id));
    } catch (err) {
      reportError(err);
      return;
    }
    if (gen !== state.gen) return;
    await fillPlanSelect(current.id);
    if (current.status === "failed") {
      const box = $("plan-error");
      box.replaceChildren(el("strong", {}, tr("求解失败：", "The solve failed: ")), current.error || "");
      box.hidden = false;
      if (!state.plan) resultBox.hidden = true;
      return;
    }
    B.renderPlan(current);
    const r = current.result || {};
    toast(t(`方案已生成：${(r.totals || {}).vehicles || 0} 辆车，${(r.totals || {}).stops_served || 0} 个站点`,
      `Plan ready: ${(r.totals || {}).vehicles || 0} vehicles, ${(r.totals || {}).stops_served || 0} stops`), "ok");
  }

  $("day-picker").addEventListener("change", async () => {
    const day = $("day-picker").value;
    if (!day || day === state.day) return;
    state.gen++;
    showDay(day);
    setPlanInUrl(null);
    state.plan = null;
    resultBox.hidden = true;
    solveBox.hidden = true;
    const plans = await fillPlanSelect(null);
    if (state.day !== day) return; // another day was picked meanwhile
    B.loadPending();
    const latest = plans.find((p) => p.status !== "superseded") || plans[0];
    if (latest) openPlan(latest.id);
  });

  $("plan-tomorrow").addEventListener("click", async (event) => {
    const limit = Number($("time-limit").value);
    const day = state.day;
    try {
      const plan = await busy(event.currentTarget, api("POST", "/api/v1/plans", { date: day, time_limit_s: limit, workers: 2 }));
      const gen = ++state.gen;
      state.base = null;
      setPlanInUrl(plan.id);
      if (day !== state.day) {
        showDay(day);
        B.loadPending();
      }
      fillPlanSelect(plan.id);
      follow(plan, gen, Date.now());
    } catch (err) {
      reportError(err);
    }
  });

  $("refresh").addEventListener("click", () => load());

  Object.assign(B, { setPlanInUrl, fillPlanSelect, follow, showSolve, setSolving, openPlan, showDay });

  // ------------------------------------------------------------------ start

  /** Every site, following the reference API's Link pages. */
  async function allSites() {
    const out = [];
    let next = "/api/v1/reference/sites?limit=1000";
    for (let page = 0; next && page < SITE_PAGES; page++) {
      const { data, headers } = await window.hub.apiFull("GET", next);
      out.push(...data);
      const link = /<([^>]+)>;\s*rel="next"/.exec(headers.get("Link") || "");
      next = link ? link[1] : null;
    }
    return out;
  }

  async function load() {
    try {
      const [sites, vehicles] = await Promise.all([allSites(), api("GET", "/api/v1/vehicles")]);
      state.sites = sites;
      state.siteBy = Object.fromEntries(sites.map((s) => [s.code, s]));
      state.vehicles = vehicles;
      state.vehicleBy = Object.fromEntries(vehicles.map((v) => [v.id, v]));
    } catch (err) {
      reportError(err);
      return;
    }
    B.fillSitePicker();
    $("no-sites").hidden = state.sites.length > 0;
    $("day-picker").min = "";
    showDay(state.day);
    const pending = B.loadPending();
    const wanted = new URL(location.href).searchParams.get("plan");
    const dayAtStart = state.day;
    if (!wanted || !(await openPlan(wanted))) {
      const plans = await fillPlanSelect(null);
      // The dispatcher may have picked another day while the plans loaded: theirs wins.
      if (state.day !== dayAtStart) return;
      const latest = plans.find((p) => p.status !== "superseded") || plans[0];
      if (latest) await openPlan(latest.id);
    }
    await pending;
  }

  B.load = load; // started by board-plan.js, the last of the board's scripts
})();
