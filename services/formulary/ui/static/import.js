/* Bulk import: upload a CSV/Excel file, then show the server's per-row report. With "valid rows
 * only" the good rows become proposals and the bad ones are listed; without it, one bad row
 * means nothing is written (the server answers 422 with the report).
 */
(function () {
  "use strict";
  const { el, tr, t, api, busy, toast, reportError, clearFieldErrors, showFieldErrors, localizeMessage } = window.hub;
  const F = window.formulary;

  const form = document.getElementById("import-form");
  const progress = document.getElementById("import-progress");
  const section = document.getElementById("report");
  const summary = document.getElementById("report-summary");
  const tbody = document.querySelector("#report-table tbody");

  // The Chinese headers the importer understands (services/formulary/importing.py HEADER_ALIASES).
  const HEADERS = {
    code: "编码", kind: "类别", generic_name: "通用名", generic_name_en: "英文名", trade_name: "商品名",
    dosage_form: "剂型", strength: "规格", unit: "单位", package_size: "包装数量", package_unit: "包装单位",
    manufacturer: "生产企业", approval_no: "批准文号", nhsa_code: "医保编码", atc_code: "ATC", essential: "基药",
    reimbursement: "医保类别", vbp: "集采", vbp_batch: "集采批次", storage: "储存条件", controlled: "管制类别",
    antibiotic_tier: "抗菌药物分级", high_alert: "高警示", volume_cm3: "体积cm3", weight_g: "重量g", category: "分类",
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const file = form.elements.file.files[0];
    if (!file) return void showFieldErrors(form, [{ field: "file", message: t("请选择文件", "Choose a file") }]);
    const data = new FormData();
    data.append("file", file, file.name);
    const validOnly = form.elements.valid_only.checked;
    const ok = await window.hub.confirmAction({
      title: [`导入 ${file.name}`, `Import ${file.name}`],
      summary: [
        ["每一有效行成为一项待药事会审批的提议", "Each valid row becomes a proposal awaiting the committee"],
        validOnly ? ["有错误的行跳过，其余照常写入", "Rows with errors are skipped; the rest are written"]
          : ["只要有一行有错误，就一行也不写入", "If any row has an error, nothing is written"],
      ],
      confirm: ["导入", "Import"],
      irreversible: false,
    });
    if (!ok) return;
    progress.hidden = false;
    try {
      const report = await busy(form.querySelector("[type=submit]"),
        api("POST", "/api/v1/imports/items?valid_only=" + validOnly, data));
      render(report, validOnly);
      toast(t(`已写入 ${report.written} 条提议`, `${report.written} proposals written`), "ok");
    } catch (err) {
      if (err.problem && err.problem.report) {
        render(err.problem.report, validOnly);
        return;
      }
      section.hidden = true;
      reportError(err, form);
    } finally {
      progress.hidden = true;
    }
  });

  function render(report, validOnly) {
    const ok = report.rows.filter((r) => r.status === "ok").length;
    const notice = report.invalid && !report.written
      ? el("div", { class: "notice notice-error" },
        el("p", {}, el("strong", {}, tr(`${report.invalid} 行有错误，没有写入任何数据。`, `${report.invalid} rows have errors; nothing was written.`))),
        el("p", {}, tr("请修改文件后重新上传，或勾选“只导入有效的行”。", "Fix the file and upload it again, or tick “valid rows only”.")))
      : el("div", { class: report.invalid ? "notice notice-warn" : "notice notice-ok" },
        el("p", {}, el("strong", {}, tr(`已写入 ${report.written} 条提议`, `${report.written} proposals written`)),
          report.invalid ? tr(`，跳过 ${report.invalid} 行有错误的行。`, `; ${report.invalid} rows with errors skipped.`) : tr("。", ".")),
        el("p", {}, tr("提议需经药事会审批后生效：", "They take effect once the committee approves them: "),
          el("a", { href: "/ui/changes" }, tr("去审批", "go to approvals"))));
    summary.replaceChildren(notice,
      el("p", { class: "muted" }, tr(`共 ${report.rows.length} 行：有效 ${ok} 行，错误 ${report.invalid} 行。`,
        `${report.rows.length} rows: ${ok} valid, ${report.invalid} with errors.`)));
    // Bad rows first: they are what the reader has to act on.
    const rows = [...report.rows].sort((a, b) => (a.status === b.status ? a.row - b.row : a.status === "error" ? -1 : 1));
    tbody.replaceChildren(...rows.map((r) => el("tr", { class: r.status === "error" ? "row-error" : "", dataset: { row: r.row } },
      el("td", { class: "num" }, String(r.row)),
      el("td", { class: "mono" }, r.code || "—"),
      el("td", {}, r.status === "error"
        ? el("span", { class: "badge badge-alert" }, tr("错误", "Error"))
        : el("span", { class: "badge badge-essential" },
          r.action === "item_update" ? tr("修改", "Change") : tr("新增", "New"),
          validOnly || report.written ? "" : tr("（未写入）", " (not written)"))),
      el("td", {}, (r.errors || []).length
        ? el("ul", {}, r.errors.map((e) => el("li", {}, F.FIELDS[e.field] ? F.label(e.field) : e.field, "：", localizeMessage(e.message))))
        : "—"))));
    section.hidden = false;
    section.scrollIntoView({ block: "start" });
  }

  // A template with the Chinese headers and one example row. The BOM makes Excel on Chinese
  // Windows read the file as UTF-8 instead of GBK.
  document.getElementById("template").addEventListener("click", () => {
    const names = Object.keys(HEADERS);
    const example = {
      code: "X-EXAMPLE-01", kind: "drug", generic_name: "阿莫西林胶囊", generic_name_en: "Amoxicillin Capsules",
      dosage_form: "胶囊剂", strength: "0.25g", unit: "粒", package_size: "24", package_unit: "盒",
      manufacturer: "", approval_no: "", nhsa_code: "", atc_code: "J01CA04", essential: "是", reimbursement: "甲",
      vbp: "否", vbp_batch: "", storage: "ambient", controlled: "none", antibiotic_tier: "unrestricted",
      high_alert: "否", volume_cm3: "120", weight_g: "40", category: "抗微生物药",
    };
    const csv = "\ufeff" + [names.map((n) => HEADERS[n]), names.map((n) => example[n] || "")]
      .map((line) => line.map((v) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(","))
      .join("\r\n") + "\r\n";
    const link = el("a", { href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })), download: "目录导入模板.csv" });
    document.body.append(link);
    link.click();
    link.remove();
  });

  // The column reference, from the same field list as the forms.
  document.getElementById("columns").append(el("table", { class: "data" },
    el("thead", {}, el("tr", {}, el("th", {}, tr("表头", "Header")), el("th", {}, tr("字段", "Field")), el("th", {}, tr("可填写的值", "Values")))),
    el("tbody", {}, F.spec.fields.map((f) => el("tr", {},
      el("td", {}, HEADERS[f.name] || "", el("span", { class: "sub mono" }, f.name)),
      el("td", {}, tr(f.zh, f.en), f.required ? el("span", { class: "req" }, " *") : null),
      el("td", {}, f.control === "checkbox" ? tr("是 / 否", "是 / 否 (yes / no)")
        : f.choices.length ? f.choices.map((c) => el("span", { class: "nowrap" }, tr(c[1], c[2]), ` (${c[0]})  `)) : "—"))))));

  window.hub.onSession(() => {});
})();
