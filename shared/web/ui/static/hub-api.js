/* The hub's page shell, part 2 of 3: API calls and field errors (see hub.js).
 *
 * hub.api adds the bearer token, sends JSON (or FormData for uploads), retries what is safe to
 * retry after a network drop, and turns RFC 9457 problem+json answers into a thrown hub.ApiError
 * whose fieldErrors hub.showFieldErrors / hub.reportError put beside the inputs they name.
 */
(function () {
  "use strict";
  const { t, el, toast, localizeMessage, localizeTitle, localizeDetail } = window.hub;

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
    const s = window.hub.session(); // hub-session.js, loaded by the time anything calls the API
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
        window.hub.signInAgain(t("登录已过期，请重新登录", "Your sign-in has expired; please sign in again"));
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
        el("ul", {}, unplaced.map((e) => el("li", {}, e.field && e.field !== "body" && window.hub.lang() === "en" ? `${e.field}: ` : "", localizeMessage(e.message)))),
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
        const detail = localizeDetail(apiErr.detail);
        const head = el("p", {}, el("strong", {}, localizeTitle(apiErr.status, apiErr.title) || t("提交失败", "Not saved")),
          detail ? " — " + detail : "");
        summary.prepend(head);
        if (placed) summary.append(el("p", {}, t("请按字段旁的提示修改。", "See the messages beside the fields.")));
        summary.hidden = false;
        return;
      }
      if (placed && !unplaced.length) return;
    }
    toast(localizeTitle(apiErr.status, apiErr.title) || t("出错了", "Something went wrong"), "error", {
      small: [localizeDetail(apiErr.detail), apiErr.requestId ? t("请求编号 ", "Request id ") + apiErr.requestId : ""].filter(Boolean).join(" · "),
    });
  }

  Object.assign(window.hub, { ApiError, api, apiFull, showFieldErrors, clearFieldErrors, reportError });
})();
