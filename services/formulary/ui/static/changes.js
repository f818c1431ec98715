/* The committee's queue (药事会审批): every proposal summarised so it can be decided without
 * opening it — a new item's essentials, a change as old → new against the current item, a
 * retirement with its reason, a stocking list as items added/removed. Several drafts are
 * approved together as one catalogue version; one is rejected with a reason.
 */
(function () {
  "use strict";
  const { el, tr, t, api, busy, fmtTime, toast, reportError, clearFieldErrors, showFieldErrors, hasRole, session } = window.hub;
  const me = () => (session() || {}).subject || null;
  const FLAG = {
    pack_size_without_volume: ["包装数量变了，但包装体积/重量没有改", "Pack size changes without new volume/weight"],
    possible_duplicate: ["疑似重复品种", "Likely duplicate"],
  };
  const F = window.formulary;

  const tbody = document.querySelector("#changes tbody");
  const form = document.getElementById("approve-form");
  const statusFilter = document.getElementById("status-filter");
  const selectAll = document.getElementById("select-all");
  const count = document.getElementById("selected-count");
  const result = document.getElementById("approved-result");
  const rejectDialog = document.getElementById("reject-dialog");
  const rejectForm = document.getElementById("reject-form");

  const KIND = {
    item_create: ["新增品种", "New item"],
    item_update: ["修改品种", "Item change"],
    item_retire: ["停用品种", "Retire item"],
    site_upsert: ["机构信息", "Site details"],
    stocklist_set: ["配备目录", "Stocking list"],
  };
  const STATUS = { draft: ["待审批", "Awaiting"], approved: ["已批准", "Approved"], rejected: ["已驳回", "Rejected"] };

  let rejecting = null; // the change the reject dialog is about

  /** Run fn over items, at most `limit` at a time: a township uplink shouldn't get 200 requests at once. */
  async function mapLimit(items, limit, fn) {
    const out = new Array(items.length);
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return out;
  }

  const orNull = (promise) => promise.catch((err) => (err.status === 404 ? null : Promise.reject(err)));

  /** What the summaries compare against: the current items, stocking lists and sites. */
  async function loadContext(changes) {
    const ctx = { items: {}, lists: {}, sites: {} };
    const want = (kinds) => [...new Set(changes.filter((c) => kinds.includes(c.kind)).map((c) => c.target))];
    await Promise.all([
      mapLimit(want(["item_update", "item_retire"]), 6, async (code) => {
        ctx.items[code] = await orNull(api("GET", "/api/v1/items/" + encodeURIComponent(code)));
      }),
      mapLimit(want(["stocklist_set"]), 4, async (key) => {
        const [scope, value] = key.split(":");
        ctx.lists[key] = await orNull(api("GET", `/api/v1/stocklists/${scope}/${encodeURIComponent(value)}`));
      }),
      mapLimit(want(["site_upsert"]), 6, async (code) => {
        ctx.sites[code] = await orNull(api("GET", "/api/v1/sites/" + encodeURIComponent(code)));
      }),
    ]);
    return ctx;
  }

  async function load() {
    result.hidden = result.hidden || statusFilter.value !== "draft";
    clearFieldErrors(form);
    const manager = hasRole("pharmacy_manager");
    document.getElementById("manager-only").hidden = manager;
    document.getElementById("approve-bar").hidden = !manager || statusFilter.value !== "draft";
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "empty" }, tr("正在加载…", "Loading…"))));
    try {
      const changes = await api("GET", "/api/v1/changes?limit=500&status=" + statusFilter.value);
      await loadBatches(manager);
      const ctx = await loadContext(changes);
      const perTarget = {};
      for (const c of changes) if (c.status === "draft") perTarget[c.target] = (perTarget[c.target] || 0) + 1;
      tbody.replaceChildren(...changes.map((c) => row(c, ctx, perTarget[c.target] || 0, manager)));
      if (!changes.length) {
        tbody.append(el("tr", {}, el("td", { colspan: 5, class: "empty" },
          statusFilter.value === "draft" ? tr("没有待审批的提议。", "Nothing awaits a decision.") : tr("没有记录。", "No records."))));
      }
    } catch (err) {
      tbody.replaceChildren();
      reportError(err);
    }
    updateCount();
  }

  function row(c, ctx, sameTarget, manager) {
    const draft = c.status === "draft";
    const mine = c.proposed_by === me();
    const box = draft
      ? el("input", { type: "checkbox", name: "change", value: c.id, "aria-label": t(`选择 ${c.target}`, `Select ${c.target}`),
        disabled: !manager || mine, title: mine ? t("本人提议须由另一位委员批准", "Another committee member must approve your own proposal") : "" })
      : null;
    const decision = draft
      ? (manager ? el("button", { type: "button", class: "btn btn-small btn-danger", onclick: () => openReject(c) }, tr("驳回", "Reject")) : tr("待审批", "Awaiting"))
      : el("div", {},
        el("span", { class: c.status === "approved" ? "badge badge-essential" : "badge badge-muted" }, tr(...STATUS[c.status])),
        c.catalogue_version ? el("span", { class: "sub" }, tr(`目录版本 ${c.catalogue_version}`, `Catalogue v${c.catalogue_version}`)) : null,
        el("span", { class: "sub" }, `${c.decided_by ? window.hub.who(c.decided_by) : ""} · ${fmtTime(c.decided_at)}`),
        c.decision_note ? el("span", { class: "sub" }, c.decision_note) : null);
    return el("tr", { dataset: { changeId: c.id, target: c.target, kind: c.kind } },
      el("td", { class: "no-print" }, box),
      el("td", {},
        el("strong", {}, tr(...(KIND[c.kind] || [c.kind, c.kind]))),
        el("span", { class: "sub mono" }, c.target),
        sameTarget > 1 ? el("span", { class: "badge badge-draft" }, tr(`同一对象 ${sameTarget} 项提议`, `${sameTarget} proposals for it`)) : null),
      el("td", {}, summary(c, ctx),
        c.reason ? el("p", { class: "why" }, tr("理由：", "Reason: "), c.reason) : null,
        c.meeting_ref ? el("p", { class: "muted" }, tr("药事会会议：", "Committee meeting: "), c.meeting_ref) : null,
        (c.flags || []).map((f) => el("p", { class: "notice notice-warn flag", dataset: { flag: f.flag } },
          el("strong", {}, tr(...(FLAG[f.flag] || [f.flag, f.flag]))), " ", f.related ? tr(`（${f.related}）`, ` (${f.related})`) : "",
          el("span", { class: "sub" }, f.message))),
        c.note && c.note !== (c.payload || {}).reason ? el("p", { class: "muted" }, tr("说明：", "Note: "), window.hub.systemText(c.note)) : null),
      el("td", { class: "nowrap" }, window.hub.who(c.proposed_by), el("span", { class: "sub" }, fmtTime(c.proposed_at)),
        draft && mine ? el("span", { class: "badge badge-draft" }, tr("本人提议", "Yours")) : null),
      el("td", {}, decision),
    );
  }

  function summary(c, ctx) {
    const p = c.payload || {};
    if (c.kind === "item_create") {
      const all = F.FIELD_ORDER.filter((n) => p[n] !== null && p[n] !== undefined && p[n] !== "" && p[n] !== false && p[n] !== "none");
      return el("div", {},
        el("p", {}, el("strong", {}, p.generic_name), " ", [p.strength, p.dosage_form].filter(Boolean).join(" "),
          ` · ${F.packaging(p)}`, p.manufacturer ? ` · ${p.manufacturer}` : ""),
        el("div", {}, F.badges(p)),
        el("details", {}, el("summary", {}, tr("全部字段", "All fields")),
          el("dl", { class: "fields" }, all.map((n) => el("div", {}, el("dt", {}, F.label(n)), el("dd", {}, F.formatValue(n, p[n])))))));
    }
    if (c.kind === "item_update") {
      const current = ctx.items[c.target];
      if (!current) return el("p", { class: "notice notice-warn" }, tr("目录中已没有此品种。", "The item is no longer in the catalogue."));
      // The server's diff is against the item as it is now (not the version the draft was made from).
      const changes = (c.diff || []).map((d) => ({ name: d.field, old: d.current, new: d.proposed })).filter((d) => d.name !== "status");
      const stale = Boolean(c.stale);
      return el("div", {},
        el("p", {}, el("a", { href: F.itemUrl(c.target) }, current.generic_name), " ",
          el("span", { class: "muted" }, tr(`基于第 ${c.base_version} 版`, `based on version ${c.base_version}`))),
        stale ? el("p", { class: "notice notice-warn" }, tr(
          `品种已更新到第 ${current.version} 版，此提议已过时，批准会失败；请驳回后重新提议。`,
          `The item is now at version ${current.version}; this proposal is stale and cannot be approved. Reject it and propose again.`)) : null,
        changes.length ? F.diffTable(changes) : el("p", { class: "muted" }, tr("与当前版本相同。", "Same as the current version.")));
    }
    if (c.kind === "item_retire") {
      const current = ctx.items[c.target];
      return el("div", {},
        el("p", {}, tr("停用 ", "Retire "), current ? el("a", { href: F.itemUrl(c.target) }, current.generic_name) : c.target,
          current ? ` ${[current.strength, current.dosage_form].filter(Boolean).join(" ")}` : ""),
        el("p", {}, tr("原因：", "Reason: "), p.reason || "—"));
    }
    if (c.kind === "stocklist_set") {
      const [scope, value] = c.target.split(":");
      const before = new Set(((ctx.lists[c.target] || {}).item_codes) || []);
      const after = new Set(p.item_codes || []);
      const added = [...after].filter((x) => !before.has(x));
      const removed = [...before].filter((x) => !after.has(x));
      const codes = (list) => list.slice(0, 30).join("、") + (list.length > 30 ? ` …（${list.length}）` : "");
      return el("div", {},
        el("p", {}, scope === "level" ? F.levelLabel(value) : tr(`机构 ${value}`, `Site ${value}`),
          tr(` 可用目录：共 ${after.size} 项`, ` stocking list: ${after.size} items`)),
        added.length ? el("p", { class: "text-ok" }, tr(`增加 ${added.length} 项：`, `Adds ${added.length}: `), codes(added)) : null,
        removed.length ? el("p", { class: "text-danger" }, tr(`移除 ${removed.length} 项：`, `Removes ${removed.length}: `), codes(removed)) : null,
        !added.length && !removed.length ? el("p", { class: "muted" }, tr("与当前目录相同。", "Same as the current list.")) : null);
    }
    if (c.kind === "site_upsert") {
      const current = ctx.sites[c.target];
      const keys = ["name", "level", "parent_code", "tax_id", "is_hub", "lat", "lon", "active"];
      const fmt = (k, v) => (k === "level" ? F.levelLabel(v) : document.createTextNode(v === null || v === undefined ? "—" : String(v)));
      const changed = keys.filter((k) => current && JSON.stringify(current[k]) !== JSON.stringify(p[k]));
      return el("div", {},
        el("p", {}, el("strong", {}, p.name), " ", fmt("level", p.level), current ? "" : tr("（新机构）", " (new site)")),
        current && changed.length
          ? el("table", { class: "diff" }, el("tbody", {}, changed.map((k) => el("tr", {},
            el("th", {}, k), el("td", { class: "old" }, fmt(k, current[k])), el("td", { class: "arrow" }, "→"), el("td", { class: "new" }, fmt(k, p[k]))))))
          : null);
    }
    return el("pre", {}, JSON.stringify(p, null, 2));
  }

  function selected() {
    return [...tbody.querySelectorAll("input[name=change]:checked")].map((b) => b.value);
  }

  function updateCount() {
    const boxes = [...tbody.querySelectorAll("input[name=change]:not(:disabled)")];
    const n = boxes.filter((b) => b.checked).length;
    count.textContent = String(n);
    selectAll.checked = boxes.length > 0 && n === boxes.length;
    selectAll.indeterminate = n > 0 && n < boxes.length;
    selectAll.disabled = !boxes.length;
  }

  tbody.addEventListener("change", updateCount);
  selectAll.addEventListener("change", () => {
    for (const b of tbody.querySelectorAll("input[name=change]:not(:disabled)")) b.checked = selectAll.checked;
    updateCount();
  });
  statusFilter.addEventListener("change", load);
  document.getElementById("refresh").addEventListener("click", load);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    for (const r of tbody.querySelectorAll("tr.row-error")) r.classList.remove("row-error");
    const ids = selected();
    if (!ids.length) {
      return void showFieldErrors(form, [{ field: "change_ids", message: t("请先勾选要批准的提议", "Tick the proposals to approve first") }]);
    }
    const note = form.elements.note.value.trim() || null;
    const meetingRef = form.elements.meeting_ref.value.trim() || null;
    const ok = await window.hub.confirmAction({
      title: [`批准 ${ids.length} 项提议`, `Approve ${ids.length} proposal(s)`],
      summary: [
        ["生成新的目录版本，所选提议全部生效（任一失败则全部不生效）", "Creates a new catalogue version; all selected proposals take effect, or none"],
        ["采购、审方、物流各服务随即收到变更", "Procurement, prescription review and dispatch receive the changes"],
        note ? [`审批说明：${note}`, `Note: ${note}`] : ["未填写审批说明", "No note given"],
      ],
      confirm: ["批准", "Approve"],
    });
    if (!ok) return;
    try {
      const res = await busy(document.getElementById("approve"), api("POST", "/api/v1/changes/approve", { change_ids: ids, note, meeting_ref: meetingRef }));
      result.replaceChildren(
        el("p", {}, el("strong", {}, tr(`已批准 ${res.approved} 项提议。`, `Approved ${res.approved} proposal(s).`)), " ",
          tr("目录版本：", "Catalogue version: "), el("strong", { id: "catalogue-version" }, String(res.catalogue_version))));
      result.dataset.version = res.catalogue_version;
      result.hidden = false;
      toast(t(`目录已更新到第 ${res.catalogue_version} 版`, `Catalogue is now at version ${res.catalogue_version}`), "ok");
      form.elements.note.value = "";
      await load();
      result.scrollIntoView({ block: "nearest" });
    } catch (err) {
      // Approval is all or nothing; the error names the change that stopped it: mark its row.
      const culprit = (err.fieldErrors || []).map((e) => e.message).find((m) => ids.includes(m)) ||
        ids.find((id) => (err.detail || "").includes(id));
      const culpritRow = culprit && tbody.querySelector(`tr[data-change-id="${CSS.escape(culprit)}"]`);
      if (culpritRow) {
        culpritRow.classList.add("row-error");
        err.fieldErrors = [];
      }
      reportError(err, form);
      const box = form.querySelector("[data-form-errors]");
      box.append(el("p", {}, tr("没有批准任何提议（审批要么全部生效，要么全部不生效）。", "Nothing was approved (an approval takes effect whole or not at all).")));
      if (culpritRow) culpritRow.scrollIntoView({ block: "center" });
    }
  });

  // ---------------------------------------------------------------- import batches, approved whole

  const batchesBox = document.getElementById("batches");

  async function loadBatches(manager) {
    if (statusFilter.value !== "draft") {
      batchesBox.hidden = true;
      return;
    }
    const batches = await api("GET", "/api/v1/changes/batches");
    batchesBox.hidden = !batches.length;
    batchesBox.querySelector("tbody").replaceChildren(...batches.map((b) => el("tr", { dataset: { batchId: b.batch_id } },
      el("td", {}, window.hub.who(b.proposed_by), el("span", { class: "sub" }, fmtTime(b.proposed_at)),
        b.reason ? el("span", { class: "sub" }, tr("理由：", "Reason: "), b.reason) : null,
        b.meeting_ref ? el("span", { class: "sub" }, tr("会议：", "Meeting: "), b.meeting_ref) : null),
      el("td", { class: "num" }, String(b.total)),
      el("td", { class: "num" }, tr(`新增 ${b.creates} · 修改 ${b.updates}`, `${b.creates} new · ${b.updates} changes`)),
      el("td", {}, b.flagged
        ? el("details", {}, el("summary", { class: "text-danger" }, tr(`${b.flagged} 行需留意`, `${b.flagged} flagged rows`)),
          el("ul", {}, b.flagged_rows.map((r) => el("li", {}, el("span", { class: "mono" }, r.target), "：",
            r.flags.map((f) => t(...(FLAG[f.flag] || [f.flag, f.flag])) + (f.related ? ` (${f.related})` : "")).join("；")))))
        : tr("无", "None"),
        el("a", { href: "?batch=" + encodeURIComponent(b.batch_id), class: "sub",
          onclick: (e) => { e.preventDefault(); showBatch(b.batch_id); } }, tr("查看全部明细", "See every row"))),
      el("td", {}, manager && b.proposed_by !== me()
        ? el("button", { type: "button", class: "btn btn-small btn-primary", onclick: () => approveBatch(b) }, tr("整批批准", "Approve batch"))
        : tr("需另一位委员批准", "Another member approves")))));
  }

  async function showBatch(batchId) {
    const changes = await api("GET", "/api/v1/changes?limit=5000&batch=" + encodeURIComponent(batchId));
    const ctx = await loadContext(changes);
    tbody.replaceChildren(...changes.map((c) => row(c, ctx, 1, hasRole("pharmacy_manager"))));
    updateCount();
  }

  async function approveBatch(b) {
    const meetingRef = form.elements.meeting_ref.value.trim() || null;
    const ok = await window.hub.confirmAction({
      title: [`整批批准 ${b.total} 项导入提议`, `Approve the whole import (${b.total} proposals)`],
      summary: [
        [`新增 ${b.creates} 项，修改 ${b.updates} 项；${b.flagged} 行需留意`, `${b.creates} new, ${b.updates} changes; ${b.flagged} flagged`],
        ["生成一个新的目录版本（任一失败则全部不生效）", "One new catalogue version (all or nothing)"],
      ],
      confirm: ["批准", "Approve"],
    });
    if (!ok) return;
    try {
      const res = await api("POST", "/api/v1/changes/approve", { batch_id: b.batch_id, meeting_ref: meetingRef, note: form.elements.note.value.trim() || null });
      toast(t(`目录已更新到第 ${res.catalogue_version} 版`, `Catalogue is now at version ${res.catalogue_version}`), "ok");
      await load();
    } catch (err) {
      reportError(err, form);
    }
  }

  // ---------------------------------------------------------------- reject one

  function openReject(change) {
    rejecting = change;
    clearFieldErrors(rejectForm);
    rejectForm.reset();
    document.getElementById("reject-what").textContent =
      `${t(...(KIND[change.kind] || [change.kind, change.kind]))} · ${change.target}`;
    rejectDialog.showModal();
  }
  rejectDialog.querySelector("[data-close]").addEventListener("click", () => rejectDialog.close());
  rejectForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(rejectForm);
    const reason = rejectForm.elements.reason.value.trim();
    if (reason.length < 2) {
      return void showFieldErrors(rejectForm, [{ field: "reason", message: t("请写明驳回理由（至少 2 个字）", "Give a reason (2 characters or more)") }]);
    }
    try {
      await busy(rejectForm.querySelector("[type=submit]"),
        api("POST", `/api/v1/changes/${encodeURIComponent(rejecting.id)}/reject`, { reason }));
      rejectDialog.close();
      toast(t(`已驳回：${rejecting.target}`, `Rejected: ${rejecting.target}`), "ok");
      load();
    } catch (err) {
      reportError(err, rejectForm);
    }
  });

  window.hub.onSession(() => {
    result.hidden = true;
    load();
  });
})();
