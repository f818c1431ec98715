/* The queue: live counts and waiting minutes, refreshed every 10 seconds; open or claim. */
(function () {
  const { el } = hub;
  const COUNTED = ["pending", "claimed", "approved", "returned", "rejected", "passed", "blocked", "released_unreviewed"];

  async function load() {
    const data = await hub.api("GET", "/api/v1/queue?limit=200");
    const counts = document.getElementById("counts");
    counts.replaceChildren(...COUNTED.map((s) => el("div", { class: "review-count", dataset: { status: s } },
      el("span", {}, review.statusName(s)), el("strong", {}, String(data.counts[s] || 0)))));
    counts.append(el("div", { class: "review-count" }, el("span", {}, hub.t("最长等待(分钟)", "Longest wait (min)")),
      el("strong", {}, data.oldest_waiting_minutes == null ? "—" : String(data.oldest_waiting_minutes))));
    const body = document.querySelector("#queue-table tbody");
    body.replaceChildren(...data.entries.map((e) => el("tr", { dataset: { id: e.id } },
      el("td", {}, e.prescription_no, e.double_signed ? el("span", { class: "badge badge-alert" }, hub.t("双签", "Double-signed")) : null),
      el("td", {}, e.site_code),
      el("td", {}, String(e.waiting_minutes)),
      el("td", {}, review.sevBadge(e.worst)),
      el("td", {}, e.codes.map((c) => review.ruleTitle(c)).join("、")),
      el("td", {}, `${e.patient.sex || ""} ${e.patient.age_years != null ? e.patient.age_years + hub.t("岁", " y") : ""}`),
      el("td", {}, review.statusName(e.status) + (e.claimed_by ? ` (${e.claimed_by})` : "")),
      el("td", {}, el("a", { class: "btn btn-small", href: `/ui/reviews/${e.id}` }, hub.t("审核", "Open"))),
    )));
    document.getElementById("queue-empty").hidden = data.entries.length > 0;
    document.getElementById("refreshed").textContent = hub.t("更新于 ", "Updated ") + new Date().toLocaleTimeString("zh-CN");
  }

  hub.onSession(() => {
    load().catch(hub.reportError);
    setInterval(() => load().catch(() => {}), 10000);
  });
  document.getElementById("claim-next").addEventListener("click", async (ev) => {
    try {
      const res = await hub.busy(ev.target, hub.apiFull("POST", "/api/v1/queue/claim-next", {}));
      if (res.status === 204 || !res.data) { hub.toast(hub.t("队列为空", "The queue is empty")); return; }
      location.href = `/ui/reviews/${res.data.id}`;
    } catch (err) { hub.reportError(err); }
  });
})();
