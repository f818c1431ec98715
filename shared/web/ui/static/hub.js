/* The hub's page shell: language switch, sign-in, API calls, field errors, toasts.
 *
 * A plain script (no framework, no build step, nothing from a CDN) so that a township PC's
 * browser runs it as served. Pages use it through `window.hub`:
 *
 *   hub.onSession(load)            run load(session) now if signed in, and again after each sign-in
 *   await hub.api("GET", "/api/v1/items?q=amxl")         parsed JSON, or throws hub.ApiError
 *   hub.showFieldErrors(form, err.fieldErrors)            messages beside the inputs they name
 *   hub.toast("已保存", "ok")
 *   hub.tr("通用名", "Generic name")                      a <span> that follows the language switch
 *
 * Chinese is written in the HTML; English sits beside it in data-en attributes (or in hub.tr
 * pairs for text built in JS). Switching language swaps them in place, so dynamic content does
 * not have to be re-rendered.
 */
(function () {
  "use strict";

  const LANG_KEY = "hub.lang"; // localStorage: the language choice should outlive the tab
  const SESSION_KEY = "hub.session"; // sessionStorage: a token dies with the tab (shared PCs)
  const TRANSLATED_ATTRS = ["placeholder", "title", "aria-label"];

  // ------------------------------------------------------------------ language

  let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh";

  /** The text for the current language; zh is the fallback when no English is given. */
  function t(zh, en) {
    return lang === "en" && en ? en : zh;
  }

  /** A span holding both languages, so a later switch re-translates it without re-rendering. */
  function tr(zh, en) {
    const span = document.createElement("span");
    span.dataset.zh = zh;
    if (en) span.dataset.en = en;
    span.textContent = t(zh, en);
    return span;
  }

  /** Swap every [data-en] text and data-en-<attr> attribute under root to the current language. */
  function applyLang(root) {
    const scope = root || document;
    // Only leaf elements carry data-en: replacing textContent would drop child elements.
    for (const el of scope.querySelectorAll("[data-en]")) {
      if (el.dataset.zh === undefined) el.dataset.zh = el.textContent.trim();
      el.textContent = lang === "en" ? el.dataset.en : el.dataset.zh;
    }
    for (const attr of TRANSLATED_ATTRS) {
      const enKey = "en-" + attr;
      for (const el of scope.querySelectorAll(`[data-${enKey}]`)) {
        const zhKey = "data-zh-" + attr;
        if (!el.hasAttribute(zhKey)) el.setAttribute(zhKey, el.getAttribute(attr) || "");
        el.setAttribute(attr, lang === "en" ? el.getAttribute("data-" + enKey) : el.getAttribute(zhKey));
      }
    }
  }

  function setLang(next) {
    lang = next === "en" ? "en" : "zh";
    localStorage.setItem(LANG_KEY, lang);
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    applyLang(document);
    const button = document.getElementById("hub-lang");
    if (button) {
      // The button names the language it switches *to*, in that language.
      button.textContent = lang === "en" ? "中文" : "English";
      button.lang = lang === "en" ? "zh-CN" : "en";
    }
    renderSession();
    document.dispatchEvent(new CustomEvent("hub:lang", { detail: { lang } }));
  }

  // Server messages come from marshmallow in English; the common ones read better in Chinese.
  const MESSAGE_ZH = [
    [/^Missing data for required field\.$/, () => "必填项"],
    [/^Field may not be null\.$/, () => "不能为空"],
    [/^Unknown field\.$/, () => "未知字段"],
    [/^Not a valid integer\.$/, () => "请输入整数"],
    [/^Not a valid number\.$/, () => "请输入数字"],
    [/^Not a valid boolean\.$/, () => "请选择是或否"],
    [/^Not a valid string\.$/, () => "请输入文字"],
    [/^Must be one of: (.*)\.$/, (m) => "须为以下之一：" + m[1]],
    [/^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$/, (m) => `须在 ${m[1]} 到 ${m[2]} 之间`],
    [/^Must be greater than (\S+) and less than or equal to (\S+)\.$/, (m) => `须大于 ${m[1]}，且不超过 ${m[2]}`],
    [/^Must be greater than or equal to (\S+)\.$/, (m) => `须不小于 ${m[1]}`],
    [/^Longer than maximum length (\d+)\.$/, (m) => `不能超过 ${m[1]} 个字符`],
    [/^Shorter than minimum length (\d+)\.$/, (m) => `至少 ${m[1]} 个字符`],
    [/^Length must be between (\d+) and (\d+)\.$/, (m) => `长度须在 ${m[1]} 到 ${m[2]} 个字符之间`],
    [/^required$/, () => "必填项"],
    [/^already exists$/, () => "已存在"],
  ];

  /** Let a page teach localizeMessage its own domain's messages: [[regex, match => zh], ...]. */
  function addMessages(pairs) {
    MESSAGE_ZH.push(...pairs);
  }

  // A problem's title says what kind of failure it was; in Chinese it follows its status.
  const TITLE_ZH = {
    0: "网络连接失败", 400: "提交的内容有误", 401: "需要登录", 403: "没有权限", 404: "未找到",
    409: "与现有数据冲突", 412: "数据已被他人修改", 413: "文件太大", 422: "提交的内容有误",
    428: "缺少版本信息", 429: "请求太频繁，请稍后再试", 500: "服务器出错", 502: "服务暂时不可用",
    503: "服务暂时不可用", 504: "服务响应超时",
  };

  function localizeTitle(status, title) {
    return lang === "en" ? title : TITLE_ZH[status] || title;
  }

  /** A server field message in the current language (unknown messages stay as the server wrote them). */
  function localizeMessage(message) {
    if (lang === "en" || typeof message !== "string") return message;
    for (const [pattern, make] of MESSAGE_ZH) {
      const m = message.match(pattern);
      if (m) return make(m);
    }
    return message;
  }

  // ------------------------------------------------------------------ DOM helpers

  /**
   * el("a", {href, class: "x", dataset: {...}, onclick}, child, ...) — builds DOM without innerHTML,
   * because drug names and notes are user data and must never be parsed as markup.
   */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function debounce(fn, ms) {
    let timer = null;
    const wrapped = (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
    wrapped.flush = (...args) => {
      clearTimeout(timer);
      fn(...args);
    };
    return wrapped;
  }

  // People read times in Asia/Shanghai whatever the PC's clock zone is set to.
  const timeFormat = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
  });
  function fmtTime(iso) {
    if (!iso) return "—";
    const parts = Object.fromEntries(timeFormat.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
  }

  /** Disable a button and mark it busy while the promise runs, so a slow network isn't clicked twice. */
  async function busy(button, promise) {
    if (button) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    }
    try {
      return await promise;
    } finally {
      if (button) {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      }
    }
  }

  // ------------------------------------------------------------------ toasts

  function toast(message, kind, options) {
    const region = document.getElementById("hub-toasts");
    const opts = options || {};
    const type = kind || "info";
    const close = el("button", { type: "button", "aria-label": t("关闭", "Close") }, "×");
    const body = el("div", { class: "msg" }, message, opts.small ? el("small", {}, opts.small) : null);
    const item = el("div", { class: `toast toast-${type}`, role: type === "error" ? "alert" : "status" }, body, close);
    close.addEventListener("click", () => item.remove());
    region.append(item);
    // Errors stay longer: the reader may need the request id for a support call.
    const timeout = opts.timeout ?? (type === "error" ? 12000 : 5000);
    if (timeout > 0) setTimeout(() => item.remove(), timeout);
    return item;
  }

  // ------------------------------------------------------------------ session (sign-in)

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

  // ------------------------------------------------------------------ API

  /** A failed API call: the problem+json body, with its field messages at hand. */
  class ApiError extends Error {
    constructor(status, problem) {
      const p = problem && typeof problem === "object" ? problem : {};
      super(p.detail || p.title || `HTTP ${status}`);
      this.name = "ApiError";
      this.status = status;
      this.problem = p;
      this.title = p.title || "";
      this.detail = p.detail || "";
      this.fieldErrors = Array.isArray(p.errors) ? p.errors : [];
      this.requestId = p.request_id || "";
    }
  }

  // crypto.randomUUID needs a secure context, and township PCs reach the hub over plain http on
  // the LAN; getRandomValues works everywhere.
  function newKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /**
   * Call the API: {data, status, headers}. The body is JSON unless it is FormData (uploads).
   * options.signal aborts (search-as-you-type); options.idempotent lets a POST be retried after a
   * network drop, with the same Idempotency-Key so the server answers the retry from its record.
   */
  async function apiFull(method, path, body, headers, options) {
    const opts = options || {};
    const h = new Headers(headers || {});
    h.set("Accept", "application/json, application/problem+json");
    const s = session();
    if (s) h.set("Authorization", "Bearer " + s.token);
    let payload;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined && body !== null) {
      h.set("Content-Type", "application/json");
      payload = JSON.stringify(body);
    }
    if (method === "POST" && opts.idempotent && !h.has("Idempotency-Key")) h.set("Idempotency-Key", newKey());
    const retriable = method === "GET" || method === "HEAD" || h.has("Idempotency-Key");
    let response;
    for (let attempt = 0; ; attempt++) {
      try {
        response = await fetch(path, { method, headers: h, body: payload, signal: opts.signal });
        break;
      } catch (err) {
        if (err.name === "AbortError") throw err;
        if (!retriable || attempt >= 2) {
          throw new ApiError(0, {
            title: t("网络连接失败", "Network error"),
            detail: t("请检查网络后重试", "Check the connection and try again"),
          });
        }
        await sleep(600 * (attempt + 1));
      }
    }
    const type = response.headers.get("Content-Type") || "";
    let data = null;
    if (response.status !== 204) data = type.includes("json") ? await response.json().catch(() => null) : await response.text();
    if (!response.ok) {
      const problem = data && typeof data === "object"
        ? data
        : { title: response.statusText || `HTTP ${response.status}`, status: response.status };
      if (response.status === 401) {
        sessionStorage.removeItem(SESSION_KEY);
        renderSession();
        openSignIn(t("登录已过期，请重新登录", "Your sign-in has expired; please sign in again"));
      }
      throw new ApiError(response.status, problem);
    }
    return { data, status: response.status, headers: response.headers };
  }

  async function api(method, path, body, headers, options) {
    return (await apiFull(method, path, body, headers, options)).data;
  }

  // ------------------------------------------------------------------ field errors

  /** The control a server field name refers to: form.elements[name] or [data-field=name]. */
  function findControl(form, name) {
    if (!name) return null;
    const direct = form.elements.namedItem(name);
    if (direct && !(direct instanceof RadioNodeList)) return direct;
    if (direct instanceof RadioNodeList) return direct[0] || null;
    return form.querySelector(`[data-field="${CSS.escape(name)}"]`);
  }

  function clearFieldErrors(form) {
    if (!form) return;
    for (const node of form.querySelectorAll(".field-error")) node.remove();
    for (const node of form.querySelectorAll("[aria-invalid]")) {
      node.removeAttribute("aria-invalid");
      const described = (node.getAttribute("aria-describedby") || "").split(" ").filter((id) => !id.endsWith("-error"));
      if (described.length) node.setAttribute("aria-describedby", described.join(" "));
      else node.removeAttribute("aria-describedby");
    }
    const summary = form.querySelector("[data-form-errors]");
    if (summary) {
      summary.hidden = true;
      summary.replaceChildren();
    }
  }

  /**
   * Put each {field, message} beside the control it names (and link them with aria-describedby
   * so a screen reader reads the message with the field). Messages naming no control go into the
   * form's [data-form-errors] box. Focuses the first bad control; returns the unplaced errors.
   */
  function showFieldErrors(form, errors) {
    const unplaced = [];
    let first = null;
    for (const error of errors || []) {
      const control = findControl(form, error.field);
      if (!control) {
        unplaced.push(error);
        continue;
      }
      const holder = control.closest(".field") || control.parentElement;
      const id = (control.id || `f-${error.field}`) + "-error";
      let message = document.getElementById(id);
      if (!message) {
        message = el("p", { class: "field-error", id });
        holder.append(message);
      }
      message.textContent = localizeMessage(error.message);
      control.setAttribute("aria-invalid", "true");
      const described = new Set((control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean));
      described.add(id);
      control.setAttribute("aria-describedby", [...described].join(" "));
      first = first || control;
    }
    const summary = form.querySelector("[data-form-errors]");
    if (summary && unplaced.length) {
      summary.replaceChildren(
        el("ul", {}, unplaced.map((e) => el("li", {}, e.field && e.field !== "body" ? `${e.field}: ` : "", localizeMessage(e.message)))),
      );
      summary.hidden = false;
    }
    if (first) {
      first.focus();
    } else if (summary && !summary.hidden) {
      summary.scrollIntoView({ block: "nearest" });
    }
    return unplaced;
  }

  /**
   * Show an error where the reader is looking: field messages beside the fields of `form`, and
   * the problem's title/detail in the form's error box or, failing that, a toast.
   */
  function reportError(err, form) {
    if (err && err.name === "AbortError") return;
    const apiErr = err instanceof ApiError ? err : new ApiError(0, { title: String(err && err.message) });
    if (form) {
      clearFieldErrors(form);
      const unplaced = showFieldErrors(form, apiErr.fieldErrors);
      const placed = apiErr.fieldErrors.length - unplaced.length;
      const summary = form.querySelector("[data-form-errors]");
      if (summary) {
        const head = el("p", {}, el("strong", {}, localizeTitle(apiErr.status, apiErr.title) || t("提交失败", "Not saved")),
          apiErr.detail ? " — " + apiErr.detail : "");
        summary.prepend(head);
        if (placed) summary.append(el("p", {}, t("请按字段旁的提示修改。", "See the messages beside the fields.")));
        summary.hidden = false;
        return;
      }
      if (placed && !unplaced.length) return;
    }
    toast(localizeTitle(apiErr.status, apiErr.title) || t("出错了", "Something went wrong"), "error", {
      small: [apiErr.detail, apiErr.requestId ? t("请求编号 ", "Request id ") + apiErr.requestId : ""].filter(Boolean).join(" · "),
    });
  }

  // ------------------------------------------------------------------ start-up

  function start() {
    setLang(lang);
    const langButton = document.getElementById("hub-lang");
    if (langButton) langButton.addEventListener("click", () => setLang(lang === "en" ? "zh" : "en"));
    const dialog = document.getElementById("hub-signin");
    if (dialog) {
      const form = dialog.querySelector("form");
      form.addEventListener("submit", submitSignIn);
      form.elements.role.addEventListener("change", () => syncSiteField(form));
      dialog.querySelector("[data-signin-cancel]").addEventListener("click", () => dialog.close());
    }
    const openButton = document.getElementById("hub-signin-open");
    if (openButton) openButton.addEventListener("click", () => openSignIn());
    const needed = document.querySelector("[data-signin-again]");
    if (needed) needed.addEventListener("click", () => openSignIn());
    const signOutButton = document.getElementById("hub-signout");
    if (signOutButton) signOutButton.addEventListener("click", signOut);
    renderSession();
  }

  window.hub = {
    t, tr, applyLang, setLang, lang: () => lang, localizeMessage, localizeTitle, addMessages,
    el, debounce, fmtTime, busy, toast,
    ROLES, session, hasRole, onSession, openSignIn, signOut,
    ApiError, api, apiFull,
    showFieldErrors, clearFieldErrors, reportError,
  };

  // The script is loaded with `defer`, so the DOM is parsed by now; page scripts (also deferred,
  // and after this one) find hub ready.
  start();
})();
