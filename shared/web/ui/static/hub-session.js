/* The hub's page shell, part 3 of 3: who is signed in (see hub.js).
 *
 * The token lives in sessionStorage, so it dies with the tab on a shared township PC. Pages wait
 * for it with hub.onSession(load); until someone signs in, their content stays hidden behind a
 * "please sign in" panel and the dialog opens by itself.
 */
(function () {
  "use strict";
  const { t, tr, el, busy, ApiError, showFieldErrors, clearFieldErrors, reportError } = window.hub;
  const SESSION_KEY = "hub.session";

  const ROLES = {
    pharmacist: ["审方药师", "Pharmacist"],
    storekeeper: ["库管员", "Storekeeper"],
    pharmacy_manager: ["中心药房主任", "Pharmacy manager"],
    formulary_admin: ["目录管理员", "Formulary admin"],
    dispatcher: ["调度员", "Dispatcher"],
    his: ["HIS 接口", "HIS integration"],
  };

  function tokenExpired(token) {
    try {
      const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      return typeof payload.exp === "number" && payload.exp * 1000 < Date.now();
    } catch (_) {
      return true;
    }
  }

  function session() {
    try {
      const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
      return s && s.token && !tokenExpired(s.token) ? s : null;
    } catch (_) {
      return null;
    }
  }

  function hasRole(...roles) {
    const s = session();
    return Boolean(s && roles.includes(s.role));
  }

  /**
   * Get a token for the chosen identity. Embedded mode asks /ui/dev-token; a production deployment
   * signs people in through the county's identity provider instead, and only this function changes:
   * everything after it (storage, header, retries of the waiting page) stays the same.
   */
  async function obtainToken(choice) {
    let response;
    try {
      response = await fetch("/ui/dev-token", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(choice),
      });
    } catch (_) {
      throw new ApiError(0, { title: t("网络连接失败", "Network error") });
    }
    const data = await response.json().catch(() => ({}));
    if (response.status === 404 || response.status === 405) {
      throw new ApiError(response.status, {
        title: t("本环境使用统一身份认证登录", "This deployment signs in through the county's identity provider"),
      });
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  const sessionListeners = [];

  /** Run fn(session) now if signed in, and after every (re-)sign-in; prompt to sign in otherwise. */
  function onSession(fn) {
    sessionListeners.push(fn);
    const s = session();
    if (s) fn(s);
    else showSignInNeeded();
  }

  function renderSession() {
    const s = session();
    const who = document.getElementById("hub-who");
    const button = document.getElementById("hub-signin-open");
    if (!who || !button) return;
    const signOutButton = document.getElementById("hub-signout");
    if (signOutButton) signOutButton.hidden = !s;
    who.replaceChildren();
    if (s) {
      const [zh, en] = ROLES[s.role] || [s.role, s.role];
      who.append(tr(zh, en));
      if (s.name) who.append(el("span", { class: "site" }, s.name));
      if (s.site) who.append(el("span", { class: "site" }, "· " + s.site));
      button.dataset.zh = "切换身份";
      button.dataset.en = "Switch role";
    } else {
      who.append(tr("未登录", "Not signed in"));
      button.dataset.zh = "登录";
      button.dataset.en = "Sign in";
    }
    button.textContent = t(button.dataset.zh, button.dataset.en);
  }

  function showSignInNeeded() {
    const box = document.getElementById("hub-signin-needed");
    const main = document.getElementById("hub-content");
    if (box) box.hidden = false;
    if (main) main.hidden = true;
    openSignIn();
  }

  function openSignIn(reason) {
    const dialog = document.getElementById("hub-signin");
    if (!dialog || dialog.open) return;
    const form = dialog.querySelector("form");
    clearFieldErrors(form);
    const s = session();
    if (s) {
      form.elements.role.value = s.role;
      form.elements.site.value = s.site || "";
      form.elements.name.value = s.name || "";
    } else {
      form.elements.site.value = localStorage.getItem("hub.lastSite") || "";
    }
    syncSiteField(form);
    const note = dialog.querySelector("[data-signin-reason]");
    note.hidden = !reason;
    note.textContent = reason || "";
    dialog.showModal();
    form.elements.role.focus();
  }

  function syncSiteField(form) {
    // Only a storekeeper works for one site; the others see the whole county.
    const needsSite = form.elements.role.value === "storekeeper";
    form.querySelector("[data-site-field]").hidden = !needsSite;
    form.elements.site.required = needsSite;
  }

  async function submitSignIn(event) {
    event.preventDefault();
    const form = event.target;
    clearFieldErrors(form);
    const choice = {
      role: form.elements.role.value,
      site: form.elements.role.value === "storekeeper" ? form.elements.site.value.trim().toUpperCase() : null,
      name: form.elements.name.value.trim() || null,
    };
    if (choice.role === "storekeeper" && !choice.site) {
      showFieldErrors(form, [{ field: "site", message: t("库管员需填写所在机构编码", "A storekeeper works for one site") }]);
      return;
    }
    try {
      const data = await busy(form.querySelector("button[type=submit]"), obtainToken(choice));
      const s = { token: data.token, role: data.role, site: data.site || null, name: data.name || null };
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
      if (s.site) localStorage.setItem("hub.lastSite", s.site);
      form.closest("dialog").close();
      renderSession();
      const box = document.getElementById("hub-signin-needed");
      const main = document.getElementById("hub-content");
      if (box) box.hidden = true;
      if (main) main.hidden = false;
      for (const fn of sessionListeners) fn(s);
      document.dispatchEvent(new CustomEvent("hub:session", { detail: s }));
    } catch (err) {
      reportError(err, form);
    }
  }

  function signOut() {
    sessionStorage.removeItem(SESSION_KEY);
    const dialog = document.getElementById("hub-signin");
    if (dialog && dialog.open) dialog.close();
    renderSession();
    showSignInNeeded();
  }

  /** The token was refused (expired, revoked): forget it and ask again, saying why. */
  function signInAgain(reason) {
    sessionStorage.removeItem(SESSION_KEY);
    renderSession();
    openSignIn(reason);
  }

  Object.assign(window.hub, { ROLES, session, hasRole, onSession, openSignIn, signOut, signInAgain });

  const dialog = document.getElementById("hub-signin");
  if (dialog) {
    const form = dialog.querySelector("form");
    form.addEventListener("submit", submitSignIn);
    form.elements.role.addEventListener("change", () => syncSiteField(form));
    dialog.querySelector("[data-signin-cancel]").addEventListener("click", () => dialog.close());
  }
  const openButton = document.getElementById("hub-signin-open");
  if (openButton) openButton.addEventListener("click", () => openSignIn());
  const again = document.querySelector("[data-signin-again]");
  if (again) again.addEventListener("click", () => openSignIn());
  const signOutButton = document.getElementById("hub-signout");
  if (signOutButton) signOutButton.addEventListener("click", signOut);
  document.addEventListener("hub:lang", renderSession);
  renderSession();
})();
