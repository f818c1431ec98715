/* What every dispatch page shares: compartment, priority and source labels, litres, the
 * planning day, the recurring rounds due on a day, route colours, load bars and the solver's
 * reasons, from the one terms table (presentation.py TERMS). Exposed as window.dispatch.
 */
(function () {
  "use strict";
  const { el, tr, t } = window.hub;

  const model = JSON.parse(document.getElementById("dispatch-model").textContent);

  // One table of terms, [Chinese, English], shared with the manifest API (presentation.py TERMS):
  // a term is the same word on the board and the manifest, in either language.
  const TERMS = model.terms;
  const COMPARTMENT = TERMS.compartment;
  const COMPARTMENT_LONG = TERMS.compartment_long;
  const PRIORITY = TERMS.priority;
  const SOURCE = TERMS.source;
  const ROUND = TERMS.round;
  const LEVEL = TERMS.level;
  const PLAN_STATUS = TERMS.plan_status;
  const RESULT_STATUS = TERMS.result_status;
  // Tableau 10: distinct on screen and still apart when printed in colour.
  // Twelve route colours told apart on a township PC screen and in print (Okabe–Ito first, then
  // Paul Tol's "bright" set), with no two near each other in hue and lightness.
  const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#AA3377",
    "#228833", "#EE6677", "#4477AA", "#997700"];

  const compLabel = (c) => tr(...(COMPARTMENT[c] || [c, c]));
  const priorityLabel = (p) => tr(...(PRIORITY[p] || [String(p), String(p)]));
  const roundPair = (r) => ROUND[r] || [r, r];

  /** "第2趟" / "Trip 2": a van's trip, the same words on the board and the manifest. */
  const tripPair = (n) => TERMS.pattern.trip.map((p) => p.replace("{n}", String(n)));
  const tripLabel = (n) => tr(...tripPair(n));

  /**
   * [zh, en] pairs joined in each language with its own joiner (kind: "list" 、 or ", "; "clauses"
   * ； or "; "; "parts" ， or ", "), as a node that follows a language switch.
   */
  function joined(pairs, kind) {
    return tr(...listText(pairs, kind));
  }

  /** [zh, en] texts of a list (codes, or [zh, en] pairs), each joined with its language's joiner. */
  function listText(items, kind) {
    const [zhSep, enSep] = TERMS.pattern[kind || "list"];
    const pairs = items.map((i) => (Array.isArray(i) ? i : [String(i), String(i)]));
    return [pairs.map((p) => p[0]).join(zhSep), pairs.map((p) => p[1]).join(enSep)];
  }

  /** 12.5 → "12.5", 12 → "12", nothing → "" */
  function litres(value) {
    if (!value) return "";
    return (Math.round(value * 10) / 10).toLocaleString("zh-CN", { maximumFractionDigits: 1 });
  }

  /** "冷链 30 · 洁净 120" from {cold: 30, clean: 120}, in compartment order; "—" if empty. */
  function volumesText(volumes) {
    const parts = model.compartments.filter((c) => (volumes || {})[c] > 0).map((c) => `${t(...COMPARTMENT[c])} ${litres(volumes[c])}`);
    return parts.length ? parts.join(" · ") : "—";
  }

  function volumesNode(volumes) {
    const keys = model.compartments.filter((c) => (volumes || {})[c] > 0);
    if (!keys.length) return document.createTextNode("—");
    return el("span", { class: "vols" }, keys.map((c) => el("span", { class: `vol vol-${c}` }, compLabel(c), " ", litres(volumes[c]))));
  }

  const money = (v) => "¥" + Number(v || 0).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const km = (v) => `${Number(v || 0).toLocaleString("zh-CN", { maximumFractionDigits: 1 })} km`;

  // ------------------------------------------------------------------ the planning day

  /** Today's date in the county (Asia/Shanghai) as YYYY-MM-DD, whatever the PC's zone. */
  function countyToday() {
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" })
      .formatToParts(new Date()).map((p) => [p.type, p.value]));
    return `${parts.year}-${parts.month}-${parts.day}`;
  }

  function addDays(iso, n) {
    const [y, m, d] = iso.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
  }

  const tomorrow = () => addDays(countyToday(), 1);

  /** Python's weekday(): Monday 0 … Sunday 6. */
  function weekday(iso) {
    const [y, m, d] = iso.split("-").map(Number);
    return (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
  }

  const WEEKDAY = [["周一", "Mon"], ["周二", "Tue"], ["周三", "Wed"], ["周四", "Thu"], ["周五", "Fri"], ["周六", "Sat"], ["周日", "Sun"]];
  const weekdayLabel = (iso) => tr(...WEEKDAY[weekday(iso)]);

  // ------------------------------------------------------------------ rounds due (model.py's rule)

  const CRC_TABLE = (() => {
    const table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
    return table;
  })();

  /** zlib.crc32 of the UTF-8 bytes, as Python computes it. */
  function crc32(text) {
    let crc = 0xffffffff;
    for (const byte of new TextEncoder().encode(text)) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
    return (crc ^ 0xffffffff) >>> 0;
  }

  function roundDue(frequency, siteCode, iso) {
    const day = weekday(iso);
    if (frequency === "daily") return day < 6;
    const first = crc32(siteCode) % 5;
    if (frequency === "weekly") return day === first;
    if (frequency === "twice_weekly") return day === first || day === (first + 3) % 6;
    return false;
  }

  /**
   * The rounds that visit a site on a day, as the planner will add them (services/dispatch/model.py
   * rounds_for): {deliver: {...}, pickup: {...}, rounds: [names]}, or null when none is due.
   */
  function roundsFor(site, iso) {
    if (site.is_hub || site.active === false) return null;
    const plan = model.default_rounds[site.level] || {};
    const volumes = model.round_volumes[site.level] || {};
    const out = { deliver: {}, pickup: {}, rounds: [] };
    for (const [name, frequency] of Object.entries(plan)) {
      if (!roundDue(frequency, site.code, iso)) continue;
      out.rounds.push(name);
      for (const [compartment, value] of Object.entries(volumes[name] || {})) {
        const side = model.pickup.includes(compartment) ? "pickup" : "deliver";
        out[side][compartment] = (out[side][compartment] || 0) + value;
      }
    }
    return out.rounds.length ? out : null;
  }

  // ------------------------------------------------------------------ solver reasons

  // Each machine-readable rule (routing/timing.py RULE_*) in the terms table; the solver's English
  // sentence stays in the title, so new wording never loses the translation.
  const RULES = TERMS.rule;
  const PRIORITY_NAMES = ["low", "normal", "high", "urgent"];

  const CJK = /[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]/;

  /**
   * [zh, en] tooltips of a reason, each in its page's language: a two-language reason
   * ("收货单位 X 未启用 (site X is inactive)", dayplan.unplanned_shipments) split into its parts;
   * the solver's English sentence kept for both; else, on the English page, the rule's label.
   */
  function reasonTitles(reason, rule) {
    const text = String(reason || "");
    const both = text.match(/^(.+?)\s*\(([^()]+)\)$/);
    if (both && CJK.test(both[1]) && !CJK.test(both[2])) return [both[1].trim(), both[2].trim()];
    const known = RULES[rule];
    return [text, CJK.test(text) && known ? known[1] : text];
  }

  /**
   * A dropped stop's reason, translated by its rule (the reason itself as the title, in the page's
   * language: reasonTitles). Not enough vehicles names the priority that lost out.
   */
  function reasonNode(reason, rule) {
    const known = RULES[rule];
    if (!known) return document.createTextNode(String(reason || ""));
    let [zh, en] = known;
    const m = rule === "not_enough_vehicles" && String(reason).match(/\((\w+)\)$|\(([a-z]+)\)/);
    const level = m ? PRIORITY_NAMES.indexOf(m[1] || m[2]) : -1;
    if (level >= 0) {
      zh += `（优先级：${PRIORITY[level][0]}）`;
      en += ` (priority ${PRIORITY[level][1].toLowerCase()})`;
    }
    const titles = reasonTitles(reason, rule);
    return el("span", { dataset: { zh, en }, title: t(...titles), "data-zh-title": titles[0], "data-en-title": titles[1] },
      hub.lang() === "en" ? en : zh);
  }

  /** [zh, en] plain texts of a reason (map tooltips keep both for the language switch). */
  function reasonTexts(reason, rule) {
    const known = RULES[rule];
    const titles = reasonTitles(reason, rule);
    if (!known) return titles;
    return [known[0], titles[1] === known[1] ? known[1] : `${known[1]}: ${titles[1]}`];
  }

  // ------------------------------------------------------------------ loads

  /**
   * A labelled bar per compartment: what leaves the hub (load_out) for delivery compartments and
   * the most carried back (peak of load_after) for pickup ones, against the vehicle's capacity.
   */
  function loadBars(route, capacity) {
    const peak = {};
    for (const stop of route.stops || []) {
      for (const [c, v] of Object.entries(stop.load_after || {})) if (model.pickup.includes(c)) peak[c] = Math.max(peak[c] || 0, v);
    }
    const rows = [];
    for (const c of model.compartments) {
      const cap = (capacity || {})[c] || 0;
      const value = model.pickup.includes(c) ? peak[c] || 0 : (route.load_out || {})[c] || 0;
      if (!cap && !value) continue;
      const pct = cap ? Math.min(100, (value / cap) * 100) : 100;
      const over = cap && value > cap;
      const dir = model.pickup.includes(c) ? ["收", "back"] : ["送", "out"];
      rows.push(el("div", { class: "load" },
        el("span", { class: "load-label" }, tr(dir[0], dir[1]), "·", compLabel(c)),
        el("span", {
          class: `load-bar comp-${c}${over ? " over" : ""}`, role: "img",
          "aria-label": `${t(...COMPARTMENT[c])} ${litres(value) || 0} / ${cap} L`,
          "data-zh-aria-label": `${COMPARTMENT[c][0]} ${litres(value) || 0} / ${cap} L`,
          "data-en-aria-label": `${COMPARTMENT[c][1]} ${litres(value) || 0} / ${cap} L`,
        }, el("span", { class: "load-fill", style: `width: ${pct.toFixed(1)}%` })),
        el("span", { class: "load-num mono" }, `${litres(value) || 0}/${cap}`),
      ));
    }
    return el("div", { class: "loads" }, rows);
  }

  function badge(cls, zh, en) {
    return el("span", { class: `badge ${cls}` }, tr(zh, en));
  }

  function planStatusBadge(status) {
    const cls = { published: "badge-essential", solved: "badge-vbp", failed: "badge-alert", superseded: "badge-muted" }[status] || "badge-draft";
    return badge(cls, ...(PLAN_STATUS[status] || [status, status]));
  }

  // The dispatch API's own field messages, in Chinese (schemas_volumes.py: volumes are whole millilitres).
  hub.addMessages([[/^finer than 1 mL/, () => "精度不能细于 1 毫升：升数最多 3 位小数"]]);

  window.dispatch = {
    model, COMPARTMENT, COMPARTMENT_LONG, PRIORITY, SOURCE, ROUND, LEVEL, PLAN_STATUS, RESULT_STATUS, COLOURS,
    TERMS, compLabel, priorityLabel, roundPair, tripPair, tripLabel, joined, listText, litres, volumesText, volumesNode, money, km,
    countyToday, addDays, tomorrow, weekday, weekdayLabel, crc32, roundsFor,
    reasonNode, reasonTexts, reasonTitles, loadBars, badge, planStatusBadge,
  };
})();
