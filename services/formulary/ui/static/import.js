/* Bulk import in two steps. "Upload and check" sends the file with confirm=false: the server reads
 * it (detecting encoding, sheet and header row) and answers a per-row report; nothing is written.
 * "Confirm import" sends the same file with confirm=true: the rows become one batch of proposals
 * for the committee (all or nothing unless "valid rows only" is ticked).
 */
(function () {
  "use strict";
  const { el, tr, t, api, busy, toast, reportError, clearFieldErrors, showFieldErrors, localizeMessage } = window.hub;
  const F = window.formulary;

  const form = document.getElementById("import-form");
  const progress = document.getElementById("import-progress");
  const section = document.getElementById("report");
  const source = document.getElementById("report-source");
  const summary = document.getElementById("report-summary");
  const tbody = document.querySelector("#report-table tbody");
  const confirmBar = document.getElementById("confirm-bar");
  const confirmButton = document.getElementById("confirm-import");
  let checkedFile = null;

  const ACTION = { item_create: ["新增", "New"], item_update: ["修改", "Change"], none: ["无变化", "Unchanged"] };
  const FLAG = {
    pack_size_without_volume: ["包装数量变了，但体积/重量没有改", "Pack size changes without new volume/weight"],
    possible_duplicate: ["疑似重复品种", "Likely duplicate"],
  };

  function query(confirm) {
    const params = new URLSearchParams({ confirm: String(confirm), valid_only: String(form.elements.valid_only.checked) });
    for (const name of ["reason", "meeting_ref"]) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    }
    return "/api/v1/imports/items?" + params.toString();
  }

  async function send(file, confirm, button) {
    const data = new FormData();
    data.append("file", file, file.name);
    progress.hidden = false;
    try {
      return await busy(button, api("POST", query(confirm), data));
    } catch (err) {
      if (err.problem && err.problem.report) return err.problem.report;
      throw err;
    } finally {
      progress.hidden = true;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const file = form.elements.file.files[0];
    if (!file) return void showFieldErrors(form, [{ field: "file", message: t("请选择文件", "Choose a file") }]);
    try {
      const report = await send(file, false, form.querySelector("[type=submit]"));
      checkedFile = file;
      render(report);
    } catch (err) {
      section.hidden = true;
      reportError(err, form);
    }
  });

  confirmButton.addEventListener("click", async () => {
    if (!checkedFile) return;
    const ok = await window.hub.confirmAction({
      title: ["确认导入", "Confirm the import"],
      summary: [
        [`文件：${checkedFile.name}`, `File: ${checkedFile.name}`],
        ["所有有效行作为一批提议提交药事会，整批审批后生效", "Every valid row becomes one batch of proposals; it takes effect when the committee approves the batch"],
      ],
      confirm: ["确认导入", "Import"],
    });
    if (!ok) return;
    try {
      const report = await send(checkedFile, true, confirmButton);
      render(report);
      if (report.written) toast(t(`已提交 ${report.written} 条提议`, `${report.written} proposals submitted`), "ok");
    } catch (err) {
      reportError(err, form);
    }
  });

  function render(report) {
    const ok = report.rows.filter((r) => r.status === "ok").length;
    source.replaceChildren(
      el("div", {}, el("dt", {}, tr("编码", "Encoding")), el("dd", { id: "detected-encoding" }, report.encoding || tr("Excel 工作簿", "Excel workbook"))),
      el("div", {}, el("dt", {}, tr("工作表", "Sheet")), el("dd", { id: "detected-sheet" }, report.sheet || "—")),
      el("div", {}, el("dt", {}, tr("表头行", "Header row")), el("dd", { id: "detected-header-row" }, String(report.header_row))),
      el("div", {}, el("dt", {}, tr("读取的列", "Columns read")), el("dd", {}, (report.columns || []).map((c) => F.FIELDS[c] ? F.label(c) : c).join("、"))));
    let notice;
    if (report.confirmed && report.written) {
      notice = el("div", { class: "notice notice-ok" },
        el("p", {}, el("strong", {}, tr(`已提交 ${report.written} 条提议（一批）。`, `${report.written} proposals submitted as one batch.`))),
        el("p", {}, tr("经药事会整批审批后生效：", "They take effect when the committee approves the batch: "),
          el("a", { href: "/ui/changes" }, tr("去审批", "go to approvals"))));
    } else if (report.invalid && !form.elements.valid_only.checked) {
      notice = el("div", { class: "notice notice-error" },
        el("p", {}, el("strong", {}, tr(`${report.invalid} 行有错误，没有写入任何数据。`, `${report.invalid} rows have errors; nothing was written.`))),
        el("p", {}, tr("请修改文件后重新校验，或勾选“只导入有效的行”。", "Fix the file and check it again, or tick “valid rows only”.")));
    } else {
      notice = el("div", { class: "notice notice-info" },
        el("p", {}, el("strong", {}, tr("校验完成，尚未写入任何数据。", "Checked; nothing has been written yet."))),
        el("p", {}, tr("核对下表后点击“确认导入”。", "Review the rows below, then choose “Confirm import”.")));
    }
    confirmBar.hidden = Boolean(report.confirmed) || !ok || (report.invalid && !form.elements.valid_only.checked);
    summary.replaceChildren(notice,
      el("p", { class: "muted" }, tr(
        `共 ${report.rows.length} 行：有效 ${ok} 行，错误 ${report.invalid} 行，需留意 ${report.flagged} 行。`,
        `${report.rows.length} rows: ${ok} valid, ${report.invalid} with errors, ${report.flagged} flagged.`)));
    const order = { error: 0, ok: 1, unchanged: 2 };
    const rows = [...report.rows].sort((a, b) => (order[a.status] - order[b.status]) || (a.row - b.row));
    tbody.replaceChildren(...rows.map((r) => el("tr", { class: r.status === "error" ? "row-error" : "", dataset: { row: r.row } },
      el("td", { class: "num" }, String(r.row)),
      el("td", { class: "mono" }, r.code || "—"),
      el("td", {}, r.status === "error"
        ? el("span", { class: "badge badge-alert" }, tr("错误", "Error"))
        : el("span", { class: r.status === "ok" ? "badge badge-essential" : "badge badge-muted" }, tr(...(ACTION[r.action] || ACTION.none)))),
      el("td", {}, (r.errors || []).length
        ? el("ul", {}, r.errors.map((e) => el("li", {}, F.FIELDS[e.field] ? F.label(e.field) : e.field, "：", localizeMessage(e.message))))
        : (r.flags || []).length
          ? el("ul", {}, r.flags.map((f) => el("li", { class: "text-danger" }, tr(...(FLAG[f.flag] || [f.flag, f.flag])), f.related ? ` (${f.related})` : "")))
          : "—"))));
    section.hidden = false;
    section.scrollIntoView({ block: "start" });
  }

  // The template: the headers are the labels the pages and error messages use; the example row is Chinese.
  const EXAMPLE = {
    code: "YP990001", kind: "药品", generic_name: "阿莫西林", generic_name_en: "Amoxicillin", trade_name: "",
    category: "抗微生物药", dosage_form: "胶囊剂", strength: "0.25g", unit: "粒", package_size: "24", package_unit: "盒",
    manufacturer: "某某制药有限公司", approval_no: "国药准字H00000000", nhsa_code: "", atc_code: "J01CA04", essential: "是",
    reimbursement: "甲类", vbp: "否", vbp_batch: "", storage: "常温", controlled: "非管制", antibiotic_tier: "非限制使用级",
    high_alert: "否", volume_cm3: "60", weight_g: "30",
  };
  document.getElementById("template").addEventListener("click", () => {
    const fields = F.spec.fields;
    const csv = "\ufeff" + [fields.map((f) => f.zh), fields.map((f) => EXAMPLE[f.name] || "")]
      .map((line) => line.map((v) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(","))
      .join("\r\n") + "\r\n";
    const link = el("a", { href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })), download: "目录导入模板.csv" });
    document.body.append(link);
    link.click();
    link.remove();
  });

  // The column reference, from the same field list as the forms.
  document.getElementById("columns").append(el("table", { class: "data" },
    el("thead", {}, el("tr", {}, el("th", {}, tr("表头", "Header")), el("th", {}, tr("必填（新品种）", "Required (new items)")), el("th", {}, tr("可填写的值", "Values")))),
    el("tbody", {}, F.spec.fields.map((f) => el("tr", {},
      el("td", {}, f.zh, el("span", { class: "sub mono" }, f.name)),
      el("td", {}, f.required ? tr("是", "Yes") : f.drug_only ? tr("仅药品", "Drugs only") : tr("否", "No")),
      el("td", {}, f.control === "checkbox" ? tr("是 / 否", "是 / 否 (yes / no)")
        : f.choices.length ? f.choices.map((c) => el("span", { class: "nowrap" }, tr(c[1], c[2]), "  ")) : "—"))))));

  window.hub.onSession(() => {});
})();
