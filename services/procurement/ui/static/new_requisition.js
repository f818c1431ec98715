/* The requisition form: pinyin search on this site's stocking list, whole packages, draft or submit. */
(function () {
  const { api, reportError, clearFieldErrors, el, tr, debounce, toast, onSession } = window.hub;
  const { mySite } = window.procurement;
  const search = document.getElementById("req-search");
  const results = document.getElementById("req-results");
  const form = document.getElementById("req-form");
  const body = document.querySelector("#req-lines tbody");
  const lines = new Map();
  let controller = null;

  function render() {
    body.replaceChildren(...[...lines.values()].map((line, index) => {
      const packs = el("input", { type: "number", min: "1", class: "qty-input", value: String(line.packs),
        "aria-label": `件数 ${line.generic_name}`, "data-field": `lines[${index}].quantity` });
      const units = el("td", { class: "num" }, String(line.packs * line.package_size));
      packs.addEventListener("input", () => {
        line.packs = Math.max(0, parseInt(packs.value || "0", 10));
        units.textContent = String(line.packs * line.package_size);
      });
      const remove = el("button", { type: "button", class: "btn btn-small" }, tr("移除", "Remove"));
      remove.addEventListener("click", () => { lines.delete(line.item_code); render(); });
      return el("tr", { "data-item": line.item_code },
        el("td", { "data-field": `lines[${index}].item_code` }, `${line.generic_name} ${line.strength || ""}`,
          el("span", { class: "sub" }, `${line.item_code} · ${line.package_size}/${line.package_unit || "包装"}`)),
        el("td", { class: "num" }, packs), units, el("td", {}, remove));
    }));
  }

  function add(item, units) {
    const size = item.package_size || 1;
    const existing = lines.get(item.code);
    if (existing) existing.packs += 1;
    else lines.set(item.code, { item_code: item.code, generic_name: item.generic_name, strength: item.strength,
      package_size: size, package_unit: item.package_unit, packs: Math.max(1, Math.ceil((units || size) / size)) });
    render();
  }

  const find = debounce(async () => {
    const q = search.value.trim();
    if (controller) controller.abort();
    if (!q) { results.replaceChildren(); return; }
    controller = new AbortController();
    try {
      const site = mySite();
      const found = await api("GET", `/api/v1/reference/items?q=${encodeURIComponent(q)}&limit=10${site ? `&site=${encodeURIComponent(site)}` : ""}`,
        null, null, { signal: controller.signal });
      results.replaceChildren(...found.map((item) => {
        const button = el("button", { type: "button", class: "btn btn-small" }, tr("添加", "Add"));
        button.addEventListener("click", () => { add(item); search.value = ""; results.replaceChildren(); search.focus(); });
        return el("li", { "data-code": item.code }, el("span", {}, `${item.generic_name} ${item.dosage_form || ""} ${item.strength || ""}`,
          el("span", { class: "sub" }, `${item.code} · ${item.package_size}${item.unit || ""}/${item.package_unit || ""}`)), button);
      }));
      if (!found.length) results.replaceChildren(el("li", {}, tr("本机构目录内未找到", "Nothing on your stocking list matches")));
    } catch (err) {
      if (err.name !== "AbortError") reportError(err);
    }
  }, 200);
  search.addEventListener("input", find);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const submit = event.submitter && event.submitter.value === "submit";
    const payload = {
      site_code: mySite(),
      lines: [...lines.values()].map((l) => ({ item_code: l.item_code, quantity: l.packs * l.package_size })),
      urgent: form.elements.urgent.checked,
      urgent_reason: form.elements.urgent_reason.value.trim() || null,
      note: form.elements.note.value.trim() || null,
      submit,
    };
    try {
      const created = await api("POST", "/api/v1/requisitions", payload, null, { idempotent: true });
      toast(submit ? tr("请领单已提交", "Requisition submitted") : tr("草稿已保存", "Draft saved"), "ok");
      window.location.href = `/ui/requisitions/${encodeURIComponent(created.id)}`;
    } catch (err) {
      reportError(err, form);
    }
  });

  onSession(async () => {
    const prefill = JSON.parse(sessionStorage.getItem("procurement.prefill") || "[]");
    sessionStorage.removeItem("procurement.prefill");
    for (const line of prefill) {
      try {
        add(await api("GET", `/api/v1/reference/items/${encodeURIComponent(line.item_code)}`), line.quantity);
      } catch (err) { reportError(err); }
    }
  });
})();
