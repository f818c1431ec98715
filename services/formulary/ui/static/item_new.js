/* New item: check in the browser what can be checked there, send the proposal, and put the
 * server's field messages (catalogue rules such as the NHSA code pattern) beside their fields.
 */
(function () {
  "use strict";
  const { el, tr, t, api, busy, toast, reportError, clearFieldErrors, showFieldErrors } = window.hub;
  const F = window.formulary;

  const form = document.getElementById("new-form");
  const created = document.getElementById("created");

  function reset() {
    F.fillForm(form, F.spec.defaults);
    F.syncForm(form);
  }

  F.wireForm(form);
  reset();
  // <button type=reset> empties the selects too; put the defaults back after the browser's reset.
  form.addEventListener("reset", () => setTimeout(() => {
    clearFieldErrors(form);
    reset();
  }));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    const local = F.checkForm(form);
    if (local.length) return void showFieldErrors(form, local);
    const values = F.readForm(form);
    // Leave out empty optional fields rather than sending nulls: the API's defaults apply.
    const body = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== null));
    body.note = form.elements.note.value.trim() || null;
    try {
      const change = await busy(form.querySelector("[type=submit]"),
        api("POST", "/api/v1/items", body, null, { idempotent: true }));
      created.replaceChildren(
        el("p", {}, el("strong", {}, tr(`已提交：${values.code} ${values.generic_name}`, `Proposed: ${values.code} ${values.generic_name}`))),
        el("p", {}, tr("新增品种等待药事会审批，批准后即可在目录中查到。", "It awaits the committee's approval and appears in the catalogue once approved."),
          " ", el("a", { href: "/ui/changes" }, tr("查看待审批", "See pending approvals"))),
      );
      created.dataset.changeId = change.id;
      created.hidden = false;
      toast(t("新增提议已提交。", "New item proposed."), "ok");
      form.reset();
      created.scrollIntoView({ block: "nearest" });
    } catch (err) {
      created.hidden = true;
      reportError(err, form);
    }
  });

  window.hub.onSession(() => form.elements.code.focus());
})();
