// krisdispatch dashboard: what every page's script shares (window.KD).
// Plain JavaScript, no build step. Data always goes into the page as text (textContent),
// never as HTML.
"use strict";

(function () {
  // Sent with every request that changes something: with it the server accepts the
  // session cookie for POSTs (a form on another site cannot send a custom header).
  const CSRF_HEADER = { "X-Requested-With": "krisdispatch" };
  const STALE_AFTER_MS = 10000;
  const TIME_ZONE = "Europe/Stockholm";

  let cachedTexts = null;

  /** Labels shared with the server (`dashboard_layout.TEXTS`). */
  function texts() {
    if (cachedTexts === null) {
      const block = document.getElementById("dashboard-texts");
      cachedTexts = block ? JSON.parse(block.textContent) : { kinds: {}, states: {}, callupStates: {} };
    }
    return cachedTexts;
  }

  /** fetch() against our own API: same-origin cookie, no HTTP cache, a time limit. */
  async function api(path, options) {
    const opts = options || {};
    const method = opts.method || "GET";
    const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    if (method !== "GET" && method !== "HEAD") Object.assign(headers, CSRF_HEADER);
    const init = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(opts.body);
    }
    const controller = new AbortController();
    init.signal = controller.signal;
    const timer = setTimeout(() => controller.abort(), opts.timeoutMs || 8000);
    try {
      return await fetch(path, init);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The API's `{"error": …}` text, or the status. */
  async function errorText(response) {
    try {
      const body = await response.json();
      if (body && typeof body.error === "string") return body.error;
    } catch (_ignored) {
      // not JSON: fall through to the status
    }
    return "HTTP " + response.status;
  }

  function formatTime(value, withSeconds) {
    const date = value instanceof Date ? value : new Date(value);
    if (Number.isNaN(date.getTime())) return "–";
    const options = { timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit" };
    if (withSeconds) options.second = "2-digit";
    return date.toLocaleTimeString("sv-SE", options);
  }

  /** `2026-03-02 09:00`, in Swedish time, as the pages print it. */
  function formatDateTime(value) {
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return "–";
    return date.toLocaleDateString("sv-SE", { timeZone: TIME_ZONE }) + " " + formatTime(date);
  }

  /** Set text only when it differs: unchanged parts of the page are left alone. */
  function setText(element, text) {
    if (element && element.textContent !== String(text)) {
      element.textContent = String(text);
      return true;
    }
    return false;
  }

  function setData(element, name, value) {
    if (element && element.dataset[name] !== String(value)) element.dataset[name] = String(value);
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  /** Ask in the page's <dialog id="confirm-dialog">; resolves true for yes. */
  function confirmAction(spec) {
    const dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      return Promise.resolve(window.confirm(spec.title + "\n\n" + spec.text));
    }
    setText(document.getElementById("confirm-title"), spec.title);
    setText(document.getElementById("confirm-text"), spec.text);
    const yes = document.getElementById("confirm-yes");
    const no = document.getElementById("confirm-no");
    setText(yes, spec.yes);
    return new Promise((resolve) => {
      function finish(answer) {
        yes.removeEventListener("click", onYes);
        no.removeEventListener("click", onNo);
        dialog.removeEventListener("cancel", onNo);
        if (dialog.open) dialog.close();
        resolve(answer);
      }
      function onYes() { finish(true); }
      function onNo() { finish(false); }
      yes.addEventListener("click", onYes);
      no.addEventListener("click", onNo);
      dialog.addEventListener("cancel", onNo);
      dialog.showModal();
      no.focus(); // the safe choice has the focus
    });
  }

  /**
   * The "how current is this" line (#freshness): data-freshness is fresh, stale,
   * offline or signed-out, data-age the seconds since the server last answered.
   */
  class Freshness {
    constructor(element, alertElement) {
      this.element = element;
      this.alert = alertElement;
      this.lastOk = Date.now();
      this.state = "fresh";
      if (element) setInterval(() => this.tick(), 1000);
    }

    ok() {
      this.lastOk = Date.now();
      if (this.state !== "fresh") this.announce("Förbindelsen med servern fungerar igen.");
      this.show("fresh", "Uppdaterad " + formatTime(new Date(), true));
    }

    failed(kind) {
      if (kind === "signed-out") {
        if (this.state === "signed-out") return;
        this.announce("Du är utloggad.");
        this.show("signed-out", "Du är utloggad: nyckeln gäller inte längre. ");
        const link = el("a", "", "Logga in igen");
        link.href = "/dashboard/login?next=" + encodeURIComponent(location.pathname);
        if (this.element) this.element.appendChild(link);
        return;
      }
      if (this.state !== "offline") this.announce("Servern svarar inte.");
      this.state = "offline";
      this.tick();
    }

    age() {
      return Math.floor((Date.now() - this.lastOk) / 1000);
    }

    tick() {
      if (!this.element) return;
      setData(this.element, "age", this.age());
      if (this.state === "offline") {
        this.show("offline", "Servern svarar inte – data är " + this.age() + " s gammal");
      } else if (this.state !== "signed-out" && Date.now() - this.lastOk > STALE_AFTER_MS) {
        if (this.state === "fresh") this.announce("Data på skärmen är inte aktuella.");
        this.show("stale", "Data är " + this.age() + " s gammal");
      }
    }

    show(state, text) {
      this.state = state;
      if (!this.element) return;
      setData(this.element, "freshness", state);
      setData(this.element, "age", this.age());
      setText(this.element, text);
    }

    announce(text) {
      if (this.alert) this.alert.textContent = text;
    }
  }

  /** Run `step` now and then every `everyMs`, one at a time; sooner when the tab shows again. */
  function repeat(step, everyMs) {
    let timer = null;
    let running = false;
    async function run() {
      clearTimeout(timer);
      if (running) return;
      running = true;
      try {
        if (!document.hidden) await step();
      } finally {
        running = false;
        timer = setTimeout(run, everyMs);
      }
    }
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) run();
    });
    run();
    return run; // call it to poll at once (after an action)
  }

  /** A random key, also on plain http where crypto.randomUUID is missing. */
  function randomKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  window.KD = { api, errorText, formatTime, formatDateTime, setText, setData, el, confirmAction, Freshness, repeat, randomKey, texts };
})();
