/* The hub's page shell, part 1 of 3: language switch, DOM helpers, toasts.
 *
 * Plain scripts (no framework, no build step, nothing from a CDN) so that a township PC's
 * browser runs them as served. base.html loads, in order and deferred:
 *   hub.js          this file: window.hub with t/tr/setLang, el, debounce, fmtTime, busy, toast
 *   hub-api.js      hub.api / hub.apiFull (bearer token, problem+json -> hub.ApiError), field errors
 *   hub-session.js  sign-in dialog, hub.session(), hub.onSession(load), header
 * Pages use them through `window.hub`:
 *
 *   hub.onSession(load)            run load(session) now if signed in, and again after each sign-in
 *   await hub.api("GET", "/api/v1/items?q=amxl")         parsed JSON, or throws hub.ApiError
 *   hub.reportError(err, form)                            field messages beside the inputs they name
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
    // The header and any text built from data listen, so this file needs to know none of them.
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

  const ROLE_ZH = {
    pharmacist: "审方药师", storekeeper: "库管员", pharmacy_manager: "中心药房主任",
    formulary_admin: "目录管理员", dispatcher: "调度员", his: "HIS 接口",
  };
  const rolesZh = (text) => text.split(" or ").map((r) => ROLE_ZH[r] || r).join("或");

  // The server's problem details (shared/access.py, shared/auth.py, the services) in Chinese.
  const DETAIL_ZH = [
    [/^requires role (.+)$/, (m) => `此操作需要${rolesZh(m[1])}身份`],
    [/^a storekeeper of (.+) acts only for their own site's data$/, (m) => `${m[1]} 的库管员只能查看或操作本机构的数据`],
    [/^a storekeeper of (.+) sees only their own site's data/, (m) => `${m[1]} 的库管员只能查看本机构的数据，不能查看全县数据`],
    [/^a bearer token is required$/, () => "请先登录"],
    [/^invalid token/, () => "登录凭证无效或已过期，请重新登录"],
    [/^no (?:item|site|plan|change|shipment|vehicle) (\S+)$/, (m) => `找不到 ${m[1]}`],
  ];

  const hasHan = (text) => /[\u3400-\u9fff]/.test(text);

  /**
   * A server message (problem detail or field message) in the current language. Known English
   * messages are translated; an unknown one is not shown to a Chinese reader in English: `fallback`
   * (Chinese) is shown instead, or nothing.
   */
  function localizeDetail(detail, fallback) {
    if (lang === "en" || typeof detail !== "string" || !detail) return detail;
    for (const [pattern, make] of [...DETAIL_ZH, ...MESSAGE_ZH]) {
      const m = detail.match(pattern);
      if (m) return make(m);
    }
    return hasHan(detail) ? detail : fallback || "";
  }

  // Words the system itself writes into records (notes, sources), as a reader should see them.
  const SYSTEM_TEXT = {
    "bulk import": ["批量导入", "Bulk import"],
    "初始目录": ["初始目录", "Initial catalogue"],
  };

  /** A note or label the system wrote, in the current language (other text is returned as written). */
  function systemText(text) {
    const pair = SYSTEM_TEXT[text];
    return pair ? t(...pair) : text;
  }

  /** A server field message in the current language (an unknown English one reads "内容不符合要求"). */
  function localizeMessage(message) {
    if (lang === "en" || typeof message !== "string") return message;
    for (const [pattern, make] of [...MESSAGE_ZH, ...DETAIL_ZH]) {
      const m = message.match(pattern);
      if (m) return make(m);
    }
    return hasHan(message) ? message : "内容不符合要求";
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


  // ------------------------------------------------------------------ confirmation

  const asPair = (line) => (Array.isArray(line) ? line : [line, line]);

  /**
   * The one confirmation for irreversible actions (approve, publish, import, reject). Opens the
   * shell's dialog with a title and a summary of what will happen, and resolves true only when
   * the person confirms (Esc, Cancel or closing resolve false). Texts are "zh" or ["zh", "en"].
   *
   *   if (!(await hub.confirmAction({
   *     title: ["批准 3 项提议", "Approve 3 proposals"],
   *     summary: [["生成目录第 12 版", "Creates catalogue version 12"], ["通知各服务", "Notifies every service"]],
   *     confirm: ["批准", "Approve"],
   *   }))) return;
   */
  function confirmAction(options) {
    const opts = options || {};
    const dialog = document.getElementById("hub-confirm");
    if (!dialog) return Promise.resolve(window.confirm(t(...asPair(opts.title || "确认")))); // a page without the shell
    const form = dialog.querySelector("form");
    dialog.querySelector("#hub-confirm-title").replaceChildren(tr(...asPair(opts.title || ["确认操作", "Confirm"])));
    const lines = (opts.summary || []).map((line) => el("li", {}, tr(...asPair(line))));
    dialog.querySelector("#hub-confirm-summary").replaceChildren(lines.length ? el("ul", {}, lines) : "");
    dialog.querySelector("[data-confirm-warning]").hidden = opts.irreversible === false;
    const ok = dialog.querySelector("[data-confirm-ok]");
    ok.replaceChildren(tr(...asPair(opts.confirm || ["确认", "Confirm"])));
    ok.className = "btn " + (opts.danger ? "btn-danger" : "btn-primary");
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
      dialog.showModal();
      form.querySelector("[data-confirm-cancel]").focus();
    });
  }

  window.hub = {
    t, tr, applyLang, setLang, lang: () => lang, localizeMessage, localizeTitle, localizeDetail, addMessages,
    systemText, el, debounce, fmtTime, busy, toast, confirmAction,
  };

  // Deferred scripts run after parsing, so the page is there to translate.
  setLang(lang);
  const langButton = document.getElementById("hub-lang");
  if (langButton) langButton.addEventListener("click", () => setLang(lang === "en" ? "zh" : "en"));
})();
