/* One prescription: its lines with findings highlighted, the decision buttons, the audit history. */
(function () {
  const { el } = hub;
  const root = document.getElementById("review");
  const id = root.dataset.reviewId;
  const names = {};
  let current = null;

  async function itemName(code) {
    if (!(code in names)) {
      try {
        const item = await hub.api("GET", `/api/v1/reference/items/${encodeURIComponent(code)}`);
        names[code] = `${item.generic_name} ${item.dosage_form || ""} ${item.strength || ""}`;
      } catch { names[code] = hub.t("（目录中没有）", "(not in the catalogue)"); }
    }
    return names[code];
  }

  function findingNode(f) {
    return el("div", { class: "finding", dataset: { code: f.code } }, review.sevBadge(f.severity), " ",
      el("strong", {}, review.ruleTitle(f.code)), " ", f.message, el("small", {}, hub.t("依据：", "Basis: ") + f.basis));
  }

  async function load() {
    const r = await hub.api("GET", `/api/v1/reviews/${id}`);
    current = r;
    const screening = r.screenings[r.screenings.length - 1];
    const rx = screening.prescription;
    document.getElementById("rx-no").textContent = `${r.prescription_no} · ${r.site_code}`;
    const status = document.getElementById("rx-status");
    status.textContent = review.statusName(r.status);
    status.dataset.status = r.status;
    const p = rx.patient;
    const facts = [
      [hub.t("类型", "Type"), rx.type], [hub.t("开具时间", "Issued"), hub.fmtTime(rx.issued_at)],
      [hub.t("性别/年龄", "Sex / age"), `${p.sex} ${p.age_years ?? (p.age_days != null ? p.age_days + hub.t("天", " d") : "—")}`],
      [hub.t("体重(kg)", "Weight (kg)"), p.weight_kg ?? "—"],
      [hub.t("诊断", "Diagnoses"), p.diagnoses.map((d) => `${d.code} ${d.name}`).join("；") || "—"],
      [hub.t("过敏史", "Allergies"), p.allergies.join("、") || hub.t("无", "none")],
      [hub.t("妊娠/哺乳", "Pregnant / lactating"), `${p.pregnant ? hub.t("妊娠", "pregnant") : "—"} ${p.lactating ? hub.t("哺乳", "lactating") : ""}`],
      [hub.t("医师", "Prescriber"), rx.prescriber.id], [hub.t("知识库版本", "Knowledge"), screening.knowledge_version],
      [hub.t("提交次数", "Attempts"), String(r.attempts) + (r.double_signed ? hub.t("（医师双签）", " (double-signed)") : "")],
    ];
    document.getElementById("facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]));
    const whole = screening.findings.filter((f) => f.item_index === null);
    document.getElementById("whole-findings").replaceChildren(...whole.map(findingNode));
    const rows = [];
    for (const [i, line] of rx.items.entries()) {
      const mine = screening.findings.filter((f) => f.item_index === i);
      rows.push(el("tr", { class: mine.length ? `line-${review.worst(mine)}` : "", dataset: { line: String(i) } },
        el("td", {}, String(i + 1)), el("td", {}, await itemName(line.item_code), el("small", { class: "muted" }, ` ${line.item_code}`)),
        el("td", {}, `${line.dose ?? "—"} ${line.dose_unit || ""}`), el("td", {}, line.frequency || "—"),
        el("td", {}, line.route || "—"), el("td", {}, line.days ?? "—"), el("td", {}, line.quantity ?? "—"),
        el("td", {}, mine.length ? mine.map(findingNode) : el("span", { class: "muted" }, hub.t("无", "none")))));
    }
    document.querySelector("#lines tbody").replaceChildren(...rows);
    document.getElementById("audit").replaceChildren(...r.audit.map((a) => el("li", { dataset: { action: a.action } },
      el("strong", {}, review.actionName(a.action)), ` · ${hub.fmtTime(a.at)} · ${a.actor}`,
      a.reason_code ? ` · ${a.reason_code} ${review.labels.reasons[a.reason_code] || ""}` : "",
      a.comment ? ` · “${a.comment}”` : "", a.knowledge_version ? el("small", { class: "muted" }, ` [${a.knowledge_version}]`) : "")));
    const me = subject();
    const mine = r.status === "claimed" && (!me || r.claimed_by === me);
    document.getElementById("btn-claim").disabled = r.status !== "pending";
    document.getElementById("btn-release").disabled = !mine;
    for (const b of ["btn-approve", "btn-return", "btn-reject"]) document.getElementById(b).disabled = !mine;
  }

  function subject() {
    try {
      const b64 = hub.session().token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)))).sub;
    } catch (_) { return null; }
  }

  async function act(button, method, path, body) {
    const form = document.getElementById("decide-form");
    try {
      await hub.busy(button, hub.api(method, path, body));
      hub.toast(hub.t("已保存", "Saved"), "ok");
      await load();
    } catch (err) { hub.reportError(err, form); }
  }

  function decision(kind) {
    return (ev) => {
      const reason = document.getElementById("reason_code").value || null;
      const comment = document.getElementById("comment").value || null;
      act(ev.target, "POST", `/api/v1/reviews/${id}/decision`, { decision: kind, reason_code: reason, comment });
    };
  }

  const select = document.getElementById("reason_code");
  for (const [code, text] of Object.entries(review.labels.reasons)) select.append(el("option", { value: code }, `${code} ${text}`));
  select.append(el("option", { value: "ACCEPTED" }, hub.t("ACCEPTED 核对无误放行", "ACCEPTED checked, accepted")));
  document.getElementById("btn-claim").addEventListener("click", (ev) => act(ev.target, "POST", `/api/v1/reviews/${id}/claim`));
  document.getElementById("btn-release").addEventListener("click", (ev) => act(ev.target, "POST", `/api/v1/reviews/${id}/release`));
  document.getElementById("btn-approve").addEventListener("click", decision("approve"));
  document.getElementById("btn-return").addEventListener("click", decision("return"));
  document.getElementById("btn-reject").addEventListener("click", decision("reject"));
  hub.onSession(() => load().catch(hub.reportError));
})();
