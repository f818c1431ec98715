/* VBP progress: a horizontal bar per contract (completion) with a mark for time progress, drawn as local SVG. */
(function () {
  const { api, reportError, el, tr, onSession } = window.hub;
  const { cell, fillTable } = window.procurement;
  const NS = "http://www.w3.org/2000/svg";
  const STATUS = { complete: ["已完成", "Complete"], on_track: ["正常", "On track"], behind: ["滞后", "Behind"], at_risk: ["有风险", "At risk"] };
  const COLOR = { complete: "#1b7f4b", on_track: "#1f7a8c", behind: "#c98a00", at_risk: "#c0392b" };

  function svg(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function draw(contracts) {
    const chart = document.getElementById("vbp-chart");
    const row = 34, left = 220, width = 760;
    chart.setAttribute("viewBox", `0 0 ${left + width + 80} ${Math.max(1, contracts.length) * row + 24}`);
    chart.setAttribute("height", String(Math.max(1, contracts.length) * row + 24));
    chart.replaceChildren();
    contracts.forEach((c, i) => {
      const y = i * row + 8;
      const done = Math.min(1, Number(c.completion));
      const time = Number(c.time_progress);
      chart.append(
        svg("text", { x: 0, y: y + 17 }, `${c.generic_name} ${c.item_code || (c.generic_key || "").split("|").slice(1).join(" ")}`),
        svg("rect", { x: left, y, width, height: 22, fill: "#eef2f6", rx: 3 }),
        svg("rect", { x: left, y, width: width * done, height: 22, fill: COLOR[c.status] || "#1f7a8c", rx: 3, "data-status": c.status }),
        svg("line", { x1: left + width * time, x2: left + width * time, y1: y - 3, y2: y + 25, stroke: "#1d2733", "stroke-width": 2 }),
        svg("text", { x: left + width + 8, y: y + 17 }, `${(Number(c.completion) * 100).toFixed(1)}%`));
    });
  }

  onSession(async () => {
    try {
      const { contracts } = await api("GET", "/api/v1/vbp/contracts");
      draw(contracts);
      fillTable(document.getElementById("vbp-table"), contracts.map((c) => el("tr", { "data-contract": c.contract_id },
        el("td", {}, c.generic_name, el("span", { class: "sub" }, c.item_code || (c.generic_key || "").split("|").slice(1).join(" "))), cell(c.price, "num"), cell(c.agreed_quantity, "num"),
        cell(c.accepted_quantity, "num"), cell(`${(Number(c.completion) * 100).toFixed(1)}%`, "num"),
        cell(`${(Number(c.time_progress) * 100).toFixed(1)}%`, "num"),
        el("td", { class: `vbp-${c.status}` }, tr(...(STATUS[c.status] || [c.status, c.status]))),
        cell(`${(Number(c.non_vbp_share) * 100).toFixed(1)}%`, "num"), cell(`${c.unpaid_overdue} / ¥${c.unpaid_overdue_amount}`, "num"),
        cell(`¥${c.retained_savings}`, "num"))), "暂无集采合同", "No VBP contracts");
    } catch (err) { reportError(err); }
  });
})();
