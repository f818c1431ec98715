/* Quality figures as SVG bar charts drawn here (no chart library, nothing from a CDN). */
(function () {
  const NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** Horizontal bars: rows of [label, value 0..1 or count, caption]. */
  function bars(rows, max, width) {
    const rowH = 28, labelW = 230, barW = width - labelW - 90;
    const chart = svg("svg", { viewBox: `0 0 ${width} ${rows.length * rowH + 10}`, role: "img", width });
    rows.forEach(([label, value, caption, extra], i) => {
      const y = i * rowH + 5;
      chart.append(svg("text", { x: 0, y: y + 18 }, label));
      chart.append(svg("rect", { x: labelW, y: y + 4, width: Math.max(1, (barW * (value || 0)) / (max || 1)), height: 18, fill: "#1b6f76" }));
      if (extra != null) {
        chart.append(svg("rect", { x: labelW, y: y + 16, width: Math.max(0, (barW * extra * (value || 0)) / (max || 1)), height: 6, fill: "#d97706" }));
      }
      chart.append(svg("text", { x: labelW + barW + 6, y: y + 18 }, caption));
    });
    return chart;
  }
  const pct = (x) => (x == null ? "—" : `${(x * 100).toFixed(1)}%`);

  async function load() {
    const q = await hub.api("GET", "/api/v1/quality");
    const rates = [
      [hub.t("自动通过率", "Auto-pass rate"), q.auto_pass_rate, pct(q.auto_pass_rate)],
      [hub.t("干预率(退回/拒绝)", "Intervention rate"), q.intervention_rate, pct(q.intervention_rate)],
      [hub.t("干预接受率", "Acceptance of interventions"), q.acceptance_rate, pct(q.acceptance_rate)],
    ];
    document.getElementById("rates-chart").replaceChildren(bars(rates, 1, 640));
    const t = q.turnaround_minutes;
    document.getElementById("turnaround").textContent = hub.t(
      `处方 ${q.prescriptions} 张；药师审核用时中位数 ${t.median ?? "—"} 分钟，P90 ${t.p90 ?? "—"} 分钟（${t.n} 张）；超时放行 ${q.released_unreviewed} 张；双签 ${q.double_signed} 张`,
      `${q.prescriptions} prescriptions; pharmacist turnaround median ${t.median ?? "—"} min, p90 ${t.p90 ?? "—"} min (${t.n}); released unreviewed ${q.released_unreviewed}; double-signed ${q.double_signed}`);
    const rules = Object.entries(q.rules);
    const max = Math.max(1, ...rules.map(([, r]) => r.hits));
    const rows = rules.map(([code, r]) => [review.ruleTitle(code), r.hits,
      `${r.hits} · ${hub.t("放行", "overridden")} ${pct(r.override_rate)}`, r.override_rate]);
    document.getElementById("rules-chart").replaceChildren(rows.length ? bars(rows, max, 760)
      : hub.el("p", { class: "muted" }, hub.t("暂无数据", "No data yet")));
  }
  hub.onSession(() => load().catch(hub.reportError));
})();
