/* One catalogue item: its fields, its version history with what changed, and the two proposals
 * a formulary admin makes from here — change some fields (PATCH with If-Match) or retire it.
 */
(function () {
  "use strict";
  const { el, tr, t, api, apiFull, busy, fmtTime, toast, reportError, clearFieldErrors, showFieldErrors } = window.hub;
  const F = window.formulary;

  const page = document.getElementById("item-page");
  const code = page.dataset.code;
  const path = "/api/v1/items/" + encodeURIComponent(code);
  const editSection = document.getElementById("edit-section");
  const editForm = document.getElementById("edit-form");
  const retireDialog = document.getElementById("retire-dialog");
  const retireForm = document.getElementById("retire-form");
  const openEdit = document.getElementById("open-edit");
  const openRetire = document.getElementById("open-retire");

  let item = null; // the approved item as last loaded
  let etag = null; // its ETag: an edit is only accepted against the version the person saw

  F.wireForm(editForm);

  async function load() {
    try {
      const [res, history] = await Promise.all([apiFull("GET", path), api("GET", path + "/history")]);
      item = res.data;
      etag = res.headers.get("ETag");
      renderItem();
      renderHistory(history);
      openEdit.disabled = false;
      openRetire.disabled = item.status === "retired";
      openEdit.hidden = openRetire.hidden = !F.canPropose();
    } catch (err) {
      if (err.status === 404) {
        const missing = document.getElementById("item-missing");
        missing.replaceChildren(tr(`目录中没有编码为 ${code} 的品种（新增的品种在审批通过后才会出现）。`,
          `There is no item ${code} in the catalogue (a new item appears once it is approved).`));
        missing.hidden = false;
        document.getElementById("item-fields").replaceChildren();
        return;
      }
      reportError(err);
    }
    loadPending();
  }

  function renderItem() {
    // The <title> follows the language switch like any [data-en] element.
    const title = document.querySelector("title");
    title.dataset.zh = `${item.generic_name} · ${code}`;
    title.dataset.en = `${item.generic_name_en || item.generic_name} · ${code}`;
    title.textContent = t(title.dataset.zh, title.dataset.en);
    document.getElementById("item-name").textContent = item.generic_name;
    document.getElementById("item-badges").replaceChildren(...F.badges(item));
    const groups = F.spec.groups.map(([key, zh, en]) => {
      const names = F.spec.fields.filter((f) => f.group === key).map((f) => f.name);
      return el("div", {},
        el("h3", {}, tr(zh, en)),
        el("dl", { class: "fields" }, names.map((n) => el("div", {}, el("dt", {}, F.label(n)), el("dd", {}, F.formatValue(n, item[n]))))));
    });
    const meta = el("p", { class: "muted" },
      tr(`当前第 ${item.version} 版 · 目录版本 ${item.catalogue_version} · `, `Version ${item.version} · catalogue version ${item.catalogue_version} · `),
      item.status === "retired" ? tr("已停用", "retired") : tr("在用", "in use"));
    document.getElementById("item-fields").replaceChildren(meta, ...groups);
  }

  function renderHistory(versions) {
    // Versions come newest first; each is compared with the next older one.
    const list = document.getElementById("history");
    list.replaceChildren(...versions.map((v, i) => {
      const older = versions[i + 1];
      const head = el("p", { class: "history-head" },
        el("strong", {}, tr(`第 ${v.version} 版`, `Version ${v.version}`)),
        el("span", { class: "muted" },
          tr(` · 目录版本 ${v.catalogue_version} · ${window.hub.who(v.approved_by)} 批准 · `, ` · catalogue v${v.catalogue_version} · approved by ${window.hub.who(v.approved_by)} · `),
          fmtTime(v.approved_at)),
        v.proposed_by ? el("span", { class: "sub" }, tr(`提议人：${window.hub.who(v.proposed_by)}`, `Proposed by ${window.hub.who(v.proposed_by)}`)) : null,
        v.reason ? el("span", { class: "sub history-reason" }, tr(`理由：${v.reason}`, `Reason: ${v.reason}`)) : null,
        v.meeting_ref ? el("span", { class: "sub history-meeting" }, tr(`药事会会议：${v.meeting_ref}`, `Committee meeting: ${v.meeting_ref}`)) : null);
      let body;
      if (!older) body = el("p", {}, tr("首次收录。", "First entry in the catalogue."));
      else {
        const changes = F.diff(older.snapshot, v.snapshot);
        body = changes.length ? F.diffTable(changes) : el("p", { class: "muted" }, tr("字段无变化。", "No field changed."));
      }
      return el("li", { dataset: { version: v.version } }, head, body);
    }));
  }

  async function loadPending() {
    // Drafts waiting for the committee: a second proposal on the same item would clash with them.
    const box = document.getElementById("item-pending");
    // Proposals in progress are for the committee's roles (shared/access.py: GET /api/v1/changes).
    if (!window.hub.hasRole("formulary_admin", "pharmacy_manager", "pharmacist")) return void (box.hidden = true);
    try {
      const drafts = (await api("GET", "/api/v1/changes?status=draft")).filter((c) => c.target === code);
      box.hidden = !drafts.length;
      if (!drafts.length) return;
      const KIND = { item_create: ["新增", "new item"], item_update: ["修改", "change"], item_retire: ["停用", "retirement"] };
      box.replaceChildren(
        el("p", {}, el("strong", {}, tr(`本品种有 ${drafts.length} 项提议待药事会审批：`, `${drafts.length} proposal(s) for this item await the committee:`))),
        el("ul", {}, drafts.map((c) => el("li", {},
          tr(...(KIND[c.kind] || [c.kind, c.kind])), ` · ${window.hub.who(c.proposed_by)} · ${fmtTime(c.proposed_at)}`, c.note ? ` · ${window.hub.systemText(c.note)}` : ""))),
        el("p", {}, el("a", { href: "/ui/changes" }, tr("去审批页面", "Go to approvals"))));
    } catch (_) {
      box.hidden = true; // the list is a hint; the page works without it
    }
  }

  // ---------------------------------------------------------------- propose a change

  openEdit.addEventListener("click", () => {
    clearFieldErrors(editForm);
    F.fillForm(editForm, item);
    editForm.elements.note.value = "";
    editSection.hidden = false;
    editSection.scrollIntoView({ block: "start" });
    editForm.elements.generic_name.focus();
  });
  document.getElementById("cancel-edit").addEventListener("click", () => {
    editSection.hidden = true;
    openEdit.focus();
  });

  /** The fields the person changed compared with the item they started from. */
  function changedFields(base) {
    const values = F.readForm(editForm);
    const edited = F.diff(base, values).filter((c) => c.name in values); // the form has no code or status
    return Object.fromEntries(edited.map((c) => [c.name, c.new]));
  }

  editForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(editForm);
    const local = F.checkForm(editForm);
    if (local.length) return void showFieldErrors(editForm, local);
    const changes = changedFields(item);
    if (!Object.keys(changes).length) {
      return void showFieldErrors(editForm, [{ field: "", message: t("没有修改任何字段。", "Nothing was changed.") }]);
    }
    const reason = editForm.elements.note.value.trim() || null;
    const meetingRef = editForm.elements.meeting_ref.value.trim() || null;
    try {
      const change = await busy(editForm.querySelector("[type=submit]"),
        api("PATCH", path, { ...changes, reason, meeting_ref: meetingRef }, { "If-Match": etag }));
      for (const f of change.flags || []) {
        if (f.flag === "pack_size_without_volume") {
          toast(t("注意：包装数量改了，但包装体积和重量没有改；物流按它们装车。", "Note: the pack size changed but volume and weight per package did not; dispatch loads vans by them."), "warn");
        }
      }
      editSection.hidden = true;
      toast(t("修改提议已提交，等待药事会审批。", "Change proposed; it awaits the committee's approval."), "ok");
      loadPending();
    } catch (err) {
      if (err.status === 412) return void staleItem(changes);
      reportError(err, editForm);
    }
  });

  /** Someone else's change was approved since this page loaded: say so, and offer to start again from it. */
  function staleItem(mine) {
    const box = editForm.querySelector("[data-form-errors]");
    const reload = el("button", { type: "button", class: "btn btn-small" }, tr("重新加载", "Reload"));
    box.replaceChildren(
      el("p", {}, el("strong", {}, tr("此品种已被他人修改，您的提议未提交。", "Someone else changed this item; your proposal was not sent."))),
      el("p", {}, tr("请重新加载最新版本：您改过的字段会保留，请核对后再提交。",
        "Reload the latest version: the fields you changed are kept, check them and submit again.")),
      reload);
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
    reload.addEventListener("click", async () => {
      const before = item;
      await load();
      F.fillForm(editForm, item);
      for (const [name, value] of Object.entries(mine)) F.fillForm(editForm, { [name]: value });
      F.syncForm(editForm);
      const theirs = F.diff(before, item).filter((c) => c.name !== "status");
      box.replaceChildren(
        el("p", {}, tr(`已载入第 ${item.version} 版。他人的修改：`, `Loaded version ${item.version}. The other change:`)),
        theirs.length ? F.diffTable(theirs) : el("p", {}, tr("（无字段变化）", "(no field changed)")));
      box.className = "notice notice-info";
      box.hidden = false;
    });
  }

  // ---------------------------------------------------------------- propose retiring

  openRetire.addEventListener("click", () => {
    clearFieldErrors(retireForm);
    retireForm.reset();
    retireDialog.showModal();
  });
  retireDialog.querySelector("[data-close]").addEventListener("click", () => retireDialog.close());
  retireForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(retireForm);
    const reason = retireForm.elements.reason.value.trim();
    if (reason.length < 2) {
      return void showFieldErrors(retireForm, [{ field: "reason", message: t("请写明停用原因（至少 2 个字）", "Give a reason (2 characters or more)") }]);
    }
    try {
      await busy(retireForm.querySelector("[type=submit]"),
        api("POST", path + "/retire", { reason }, null, { idempotent: true }));
      retireDialog.close();
      toast(t("停用提议已提交，等待药事会审批。", "Retirement proposed; it awaits the committee's approval."), "ok");
      loadPending();
    } catch (err) {
      reportError(err, retireForm);
    }
  });

  // "Back" returns to the search as it was, when the person came from it.
  const back = document.querySelector("[data-back]");
  if (document.referrer && new URL(document.referrer).pathname === "/ui/") back.href = document.referrer;

  window.hub.onSession(load);
})();
