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

  /** The token's claims, read (not verified: the server verifies every call) to label the header. */
  function tokenClaims(token) {
    try {
      const b64 = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (_) {
      return null;
    }
  }

  function tokenExpired(token) {
    const payload = tokenClaims(token);
    return !payload || (typeof payload.exp === "number" && payload.exp * 1000 < Date.now());
  }

  function session() {
    try {
      const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
      return s && s.token && !tokenExpired(s.token) ? s : null;
    } catch (_) {
      return null;
    }
  }

  /** The roles the signed-in token carries (a token may carry several). */
  function sessionRoles(s) {
    if (!s) return [];
    return Array.isArray(s.roles) && s.roles.length ? s.roles : [s.role];
  }

  function hasRole(...roles) {
    return sessionRoles(session()).some((r) => roles.includes(r));
  }

  /**
   * Show each [data-roles="a b"] element under root only to a session holding one of those roles
   * (menus, buttons, whole panels); the server refuses the others anyway (shared/access.py).
   */
  function applyRoles(root) {
    const scope = root || document;
    for (const node of scope.querySelectorAll("[data-roles], [data-county]")) {
      const wanted = (node.dataset.roles || "").split(/\s+/).filter(Boolean);
      const refused = (wanted.length && !hasRole(...wanted)) || (node.hasAttribute("data-county") && confined());
      node.classList.toggle("role-hidden", Boolean(refused));
    }
  }

  /** True when the token is confined to one site (it carries storekeeper, whatever else it carries). */
  function confined() {
    return sessionRoles(session()).includes("storekeeper");
  }

  /** The roles this page is for (body[data-page-roles]); empty means every role. */
  function pageRoles() {
    return (document.body.dataset.pageRoles || "").split(/\s+/).filter(Boolean);
  }

  function pageAllowed() {
    const wanted = pageRoles();
    if (document.body.hasAttribute("data-page-county") && confined()) return false;
    return !wanted.length || hasRole(...wanted);
  }

  function roleNames(roles) {
    return roles.map((r) => t(...(ROLES[r] || [r, r]))).join(t("、", ", "));
  }

  /** Show the page, or say it is not for this role (its loaders then do not run). */
  function showPageOrRefusal() {
    const refusal = document.getElementById("hub-not-for-role");
    const main = document.getElementById("hub-content");
    const allowed = pageAllowed();
    if (refusal) {
      refusal.hidden = allowed;
      const text = refusal.querySelector("[data-not-for-role-text]");
      if (text) {
        text.textContent = pageRoles().length && !hasRole(...pageRoles())
          ? t("本页面供以下身份使用：", "This page is for: ") + roleNames(pageRoles())
          : t("本页面显示全县数据；库管员只能查看本机构的数据。", "This page shows the whole county; a storekeeper sees only their own site.");
      }
    }
    if (main) main.hidden = !allowed;
    return allowed;
  }

  // System and demonstration accounts, in words a reader understands.
  const SYSTEM_SUBJECTS = {
    seed: ["系统初始化", "System set-up"],
    system: ["系统", "System"],
  };

  /** How to show who did something: system accounts and demonstration accounts get a label. */
  function who(subject) {
    if (!subject) return "—";
    if (SYSTEM_SUBJECTS[subject]) return t(...SYSTEM_SUBJECTS[subject]);
    if (subject.startsWith("seed-")) return t(...SYSTEM_SUBJECTS.seed); // the seed loader's committee and helpers
    const demo = /^demo-([a-z_]+)-/.exec(subject);
    if (demo) return t("演示账号·", "Demo · ") + t(...(ROLES[demo[1]] || [demo[1], demo[1]]));
    if (subject.startsWith("/countyhub/")) return t("系统（", "System (") + subject.slice(11) + t("）", ")");
    return subject;
  }

  /**
   * Get a token for the chosen identity. Embedded mode asks /ui/dev-token; a production deployment
   * signs people in through the county's identity provider instead, and only this function changes:
   * everything after it (storage, header, retries of the waiting page) stays the same.
   */
  async function obtainToken(choice) {
    if (!document.querySelector("[data-demo-signin]")) return pastedToken(choice.token);
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

  /** Production: the token the county's identity provider issued, pasted into the dialog. */
  function pastedToken(token) {
    const claims = token ? tokenClaims(token) : null;
    if (!claims || !Array.isArray(claims.roles) || tokenExpired(token)) {
      throw new ApiError(422, {
        title: t("访问令牌无效或已过期", "The access token is not valid or has expired"),
        errors: [{ field: "token", message: t("请粘贴有效的访问令牌", "Paste a valid access token") }],
      });
    }
    return { token, role: claims.roles[0], roles: claims.roles, site: claims.site || null, name: claims.name || null,
      subject: claims.sub, demo: Boolean(claims.demo) };
  }

  const sessionListeners = [];

  /** Run fn(session) now if signed in, and after every (re-)sign-in; prompt to sign in otherwise. */
  function onSession(fn) {
    sessionListeners.push(fn);
    const s = session();
    if (s) {
      if (showPageOrRefusal()) fn(s);
    } else showSignInNeeded();
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
      if (s.demo) who.append(el("span", { class: "badge badge-demo" }, tr("演示", "Demo")));
      sessionRoles(s).forEach((role, i) => {
        const [zh, en] = ROLES[role] || [role, role];
        if (i) who.append(t("、", ", "));
        who.append(tr(zh, en));
      });
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
    const refusal = document.getElementById("hub-not-for-role");
    if (refusal) refusal.hidden = true;
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
      form.elements.name.value = s.demo || !form.elements.token ? s.name || "" : "";
    } else {
      form.elements.site.value = localStorage.getItem("hub.lastSite") || "";
    }
    syncSiteField(form);
    const note = dialog.querySelector("[data-signin-reason]");
    note.hidden = !reason;
    note.textContent = reason || "";
    dialog.showModal();
    (form.elements.token || form.elements.role).focus();
  }

  function syncSiteField(form) {
    // Only a storekeeper works for one site; the others see the whole county.
    const needsSite = form.elements.role.value === "storekeeper" && !form.elements.token;
    form.querySelector("[data-site-field]").hidden = !needsSite;
    form.elements.site.required = needsSite;
  }

  async function submitSignIn(event) {
    event.preventDefault();
    const form = event.target;
    clearFieldErrors(form);
    const choice = {
      token: form.elements.token ? form.elements.token.value.trim() : null,
      role: form.elements.role.value,
      site: form.elements.role.value === "storekeeper" ? form.elements.site.value.trim().toUpperCase() : null,
      name: form.elements.name.value.trim() || null,
    };
    if (!choice.token && choice.role === "storekeeper" && !choice.site) {
      showFieldErrors(form, [{ field: "site", message: t("库管员需填写所在机构编码", "A storekeeper works for one site") }]);
      return;
    }
    try {
      const data = await busy(form.querySelector("button[type=submit]"), obtainToken(choice));
      const claims = tokenClaims(data.token) || {};
      const s = {
        token: data.token, role: data.role, roles: Array.isArray(claims.roles) ? claims.roles : [data.role],
        site: data.site || null, name: data.name || null, subject: claims.sub || data.subject || null,
        demo: Boolean(claims.demo),
      };
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
      if (s.site) localStorage.setItem("hub.lastSite", s.site);
      form.closest("dialog").close();
      renderSession();
      const box = document.getElementById("hub-signin-needed");
      if (box) box.hidden = true;
      applyRoles(document);
      if (showPageOrRefusal()) for (const fn of sessionListeners) fn(s);
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
    applyRoles(document);
    showSignInNeeded();
  }

  /** The token was refused (expired, revoked): forget it and ask again, saying why. */
  function signInAgain(reason) {
    sessionStorage.removeItem(SESSION_KEY);
    renderSession();
    openSignIn(reason);
  }

  Object.assign(window.hub, {
    ROLES, session, hasRole, confined, applyRoles, onSession, openSignIn, signOut, signInAgain, who, roleNames,
  });

  const dialog = document.getElementById("hub-signin");
  if (dialog) {
    const form = dialog.querySelector("form");
    form.addEventListener("submit", submitSignIn);
    form.elements.role.addEventListener("change", () => syncSiteField(form));
    dialog.querySelector("[data-signin-cancel]").addEventListener("click", () => dialog.close());
  }
  const openButton = document.getElementById("hub-signin-open");
  if (openButton) openButton.addEventListener("click", () => openSignIn());
  for (const again of document.querySelectorAll("[data-signin-again]")) again.addEventListener("click", () => openSignIn());
  const signOutButton = document.getElementById("hub-signout");
  if (signOutButton) signOutButton.addEventListener("click", signOut);
  document.addEventListener("hub:lang", () => {
    renderSession();
    if (session()) showPageOrRefusal();
  });
  renderSession();
  applyRoles(document);
})();
