/* What every formulary page shares: field labels and choices (from the server's field list, so
 * the pages and the forms never disagree), item badges, value formatting, snapshot diffs, and
 * reading/filling/checking the item form. Exposed as window.formulary.
 */
(function () {
  "use strict";
  const { el, tr, t } = window.hub;

  const spec = JSON.parse(document.getElementById("formulary-spec").textContent);
  const FIELDS = Object.fromEntries(spec.fields.map((f) => [f.name, f]));
  const FIELD_ORDER = spec.fields.map((f) => f.name);

  function label(name) {
    const f = FIELDS[name];
    return f ? tr(f.zh, f.en) : document.createTextNode(name);
  }

  function choice(name, value) {
    const found = ((FIELDS[name] || {}).choices || []).find((c) => c[0] === value);
    return found ? tr(found[1], found[2]) : null;
  }

  function levelLabel(value) {
    const found = spec.levels.find((c) => c[0] === value);
    return found ? tr(found[1], found[2]) : document.createTextNode(value || "—");
  }

  /** A field's value for reading: choices by their label, booleans as 是/否, empty as —. */
  function formatValue(name, value) {
    if (value === null || value === undefined || value === "") return document.createTextNode("—");
    if (typeof value === "boolean") return value ? tr("是", "Yes") : tr("否", "No");
    return choice(name, value) || document.createTextNode(String(value));
  }

  /** "24粒/盒": how many dispensing units come in one package. */
  function packaging(item) {
    return `${item.package_size}${item.unit}/${item.package_unit}`;
  }

  // Short badge text for the controlled classes (the full name is in the title).
  const CONTROLLED_SHORT = {
    narcotic: ["麻醉", "Narcotic"],
    psychotropic_1: ["精一", "Psych I"],
    psychotropic_2: ["精二", "Psych II"],
    toxic: ["毒性", "Toxic"],
    radioactive: ["放射", "Radioactive"],
  };
  const ABX_SHORT = {
    unrestricted: ["抗菌·非限制", "Abx unrestricted"],
    restricted: ["抗菌·限制", "Abx restricted"],
    special: ["抗菌·特殊", "Abx special"],
  };

  function badge(cls, zh, en, titleZh, titleEn) {
    const b = el("span", { class: `badge ${cls}` }, tr(zh, en));
    if (titleZh) {
      b.title = t(titleZh, titleEn);
      b.dataset.zhTitle = titleZh;
      b.dataset.enTitle = titleEn;
    }
    return b;
  }

  /** The flags a dispensing pharmacist scans for: 基药, 集采, 高警示, 冷链, 管制, 抗菌分级. */
  function badges(item) {
    const out = [];
    if (item.status === "retired") out.push(badge("badge-muted", "已停用", "Retired"));
    if (item.essential) out.push(badge("badge-essential", "基药", "Essential", "国家基本药物", "National essential medicine"));
    if (item.vbp) out.push(badge("badge-vbp", "集采", "VBP", `集中带量采购 ${item.vbp_batch || ""}`, `Volume-based procurement ${item.vbp_batch || ""}`));
    if (item.high_alert) out.push(badge("badge-alert", "高警示", "High alert", "高警示药品", "High-alert medication"));
    if (item.storage === "cold" || item.storage === "frozen") {
      const [zh, en] = item.storage === "cold" ? ["冷藏 2–8℃", "Refrigerated 2–8 °C"] : ["冷冻", "Frozen"];
      out.push(badge("badge-cold", "冷链", "Cold chain", zh, en));
    }
    if (item.controlled && item.controlled !== "none") {
      const [zh, en] = CONTROLLED_SHORT[item.controlled] || [item.controlled, item.controlled];
      const full = ((FIELDS.controlled.choices || []).find((c) => c[0] === item.controlled) || [null, zh, en]);
      out.push(badge("badge-controlled", zh, en, full[1], full[2]));
    }
    if (item.antibiotic_tier && item.antibiotic_tier !== "none") {
      const [zh, en] = ABX_SHORT[item.antibiotic_tier] || [item.antibiotic_tier, item.antibiotic_tier];
      out.push(badge("badge-abx", zh, en));
    }
    return out;
  }

  // Badge titles are attributes; keep them in step with the language switch too.
  document.addEventListener("hub:lang", () => {
    for (const b of document.querySelectorAll("[data-zh-title][data-en-title]")) {
      b.title = t(b.dataset.zhTitle, b.dataset.enTitle);
    }
  });

  /** Fields whose values differ between two item snapshots, in form order. */
  function diff(before, after) {
    const names = FIELD_ORDER.concat(["status"]);
    return names
      .filter((n) => n in (after || {}) || n in (before || {}))
      .filter((n) => !same((before || {})[n], (after || {})[n]))
      .map((n) => ({ name: n, old: (before || {})[n], new: (after || {})[n] }));
  }

  function same(a, b) {
    const norm = (v) => (v === undefined || v === "" ? null : v);
    return norm(a) === norm(b);
  }

  const STATUS = { active: ["在用", "Active"], retired: ["已停用", "Retired"] };

  /** A small table: field | old → new. */
  function diffTable(changes) {
    const rows = changes.map((c) => {
      const show = (v) => (c.name === "status" && STATUS[v] ? tr(...STATUS[v]) : formatValue(c.name, v));
      const name = c.name === "status" ? tr("状态", "Status") : label(c.name);
      return el("tr", {},
        el("th", { scope: "row" }, name),
        el("td", { class: "old" }, show(c.old)),
        el("td", { class: "arrow", "aria-hidden": "true" }, "→"),
        el("td", { class: "new" }, show(c.new)),
      );
    });
    return el("table", { class: "diff" },
      el("caption", { class: "visually-hidden" }, tr("修改前 → 修改后", "Before → after")),
      el("tbody", {}, rows));
  }

  // ---------------------------------------------------------------- the item form

  /** Put an item's values into the form (used to pre-fill a proposed change). */
  function fillForm(form, item) {
    for (const name of FIELD_ORDER) {
      const control = form.elements.namedItem(name);
      if (!control || !(name in item)) continue;
      if (control.type === "checkbox") control.checked = Boolean(item[name]);
      else control.value = item[name] === null || item[name] === undefined ? "" : String(item[name]);
    }
    syncForm(form);
  }

  /** The form's values typed as the API wants them: numbers, booleans, null for empty text. */
  function readForm(form) {
    const out = {};
    for (const name of FIELD_ORDER) {
      const control = form.elements.namedItem(name);
      if (!control) continue;
      if (control.type === "checkbox") out[name] = control.checked;
      else if (control.type === "number") out[name] = control.value === "" ? null : Number(control.value);
      else out[name] = control.value.trim() === "" ? null : control.value.trim();
    }
    return out;
  }

  /**
   * Check the form in the browser before sending, with the same wording style as the server's
   * messages. The browser's constraint API does the checking (required, min/max, pattern) but the
   * form is novalidate, so the messages appear beside the fields rather than as native bubbles.
   */
  function checkForm(form) {
    const errors = [];
    for (const control of form.elements) {
      if (!control.name || control.disabled || control.closest("[hidden]")) continue;
      const v = control.validity;
      if (!v || v.valid) continue;
      let message;
      if (v.valueMissing) message = t("必填项", "Required");
      else if (v.badInput) message = t("请输入数字", "Enter a number");
      else if (v.rangeUnderflow) message = t(`须不小于 ${control.min}`, `At least ${control.min}`);
      else if (v.rangeOverflow) message = t(`须不大于 ${control.max}`, `At most ${control.max}`);
      else if (v.stepMismatch) message = t("请输入整数", "Enter a whole number");
      else if (v.patternMismatch || v.tooLong) {
        const hint = FIELDS[control.name];
        message = t("格式不正确", "Not in the expected format") + (hint && hint.hint_zh ? `（${t(hint.hint_zh, hint.hint_en)}）` : "");
      } else message = control.validationMessage;
      errors.push({ field: control.name, message });
    }
    return errors;
  }

  /** Show only what applies: drug-only fields for drugs; the VBP batch once VBP is ticked. */
  function syncForm(form) {
    const kind = form.elements.namedItem("kind");
    const isDrug = !kind || kind.value === "drug";
    for (const wrap of form.querySelectorAll("[data-drug-only]")) {
      wrap.hidden = !isDrug;
      const control = wrap.querySelector("input, select");
      // A consumable may not carry drug-only values: reset them so the server rules pass.
      if (!isDrug && control) control.value = control.tagName === "SELECT" ? "none" : "";
    }
    const dosage = form.elements.namedItem("dosage_form");
    if (dosage) dosage.required = isDrug;
    const vbp = form.elements.namedItem("vbp");
    const batch = form.elements.namedItem("vbp_batch");
    if (vbp && batch) batch.required = vbp.checked;
    // The red star follows `required` (the control itself tells screen readers).
    for (const name of ["dosage_form", "vbp_batch"]) {
      const control = form.elements.namedItem(name);
      const star = control && control.closest(".field").querySelector(".req");
      if (star) star.hidden = !control.required;
    }
  }

  function wireForm(form) {
    form.addEventListener("change", (event) => {
      if (["kind", "vbp"].includes(event.target.name)) syncForm(form);
    });
    // Codes are upper-case; typing them lower-case is the most common slip.
    const code = form.elements.namedItem("code");
    if (code) code.addEventListener("input", () => {
      const pos = code.selectionStart;
      code.value = code.value.toUpperCase();
      code.setSelectionRange(pos, pos);
    });
    syncForm(form);
  }

  // The catalogue rules' messages (services/formulary/model.py), in Chinese.
  window.hub.addMessages([
    [/^does not match the drug code pattern (.*)$/, (m) => `不符合药品医保编码格式（X 或 Z 开头，共 23 位）：${m[1]}`],
    [/^does not match the consumable code pattern (.*)$/, (m) => `不符合耗材医保编码格式（C 开头，共 20 位）：${m[1]}`],
    [/^a drug needs a dosage form$/, () => "药品须填写剂型"],
    [/^not a 7-character ATC code/, () => "不是 7 位 ATC 编码（如 J01CA04）"],
    [/^only drugs have ATC codes$/, () => "只有药品有 ATC 编码"],
    [/^only drugs have an antibiotic tier$/, () => "只有药品有抗菌药物分级"],
    [/^only drugs can be controlled$/, () => "只有药品属于特殊管理药品"],
    [/^a volume-based procurement item names its batch/, () => "集采品种须填写集采批次"],
    [/^not an approval number/, () => "批准文号格式不正确（如 国药准字H20003263）"],
    [/^upper-case letters, digits, - and _, 2–40 characters$/, () => "编码只能含大写字母、数字、- 和 _，2–40 位"],
    [/^appears twice in this file$/, () => "文件中重复出现"],
    [/^name at least one field to change$/, () => "请至少修改一个字段"],
    [/^stale ETag$/, () => "品种已被他人修改"],
    [/^no such site$/, () => "没有这个机构"],
  ]);

  /** Only these roles may propose catalogue changes (the server checks too). */
  function canPropose() {
    return window.hub.hasRole("formulary_admin", "pharmacy_manager");
  }

  // People whose role may read but not propose get a notice instead of the proposal buttons.
  window.hub.onSession(() => {
    for (const note of document.querySelectorAll("[data-proposers-only]")) note.hidden = canPropose();
    for (const action of document.querySelectorAll("[data-proposers-action]")) action.hidden = !canPropose();
  });

  function itemUrl(code) {
    return "/ui/items/" + encodeURIComponent(code);
  }

  window.formulary = {
    spec, FIELDS, FIELD_ORDER, label, choice, levelLabel, formatValue, packaging, badges, diff, diffTable,
    fillForm, readForm, checkForm, syncForm, wireForm, itemUrl, canPropose,
  };
})();
