// One activation on the wall screen: polls /status (If-None-Match) every 3 s and redraws
// only what changed; reads /callups for the people, the chart and the log when the status
// moved (less often for very large activations); leaders approve and stand down from here.
"use strict";

(function () {
  const KD = window.KD;
  const POLL_MS = 3000;
  const PEOPLE_MIN_MS = 10000;
  const LIST_LIMIT = 15;
  const LOG_LIMIT = 12;
  const TOTALS = ["called", "confirmed", "declined", "awaiting", "no_answer", "failed"];
  const NOT_ANSWERED_ORDER = { failed: 0, no_answer: 1, awaiting: 2 };
  const OPEN = ["awaiting_approval", "active"];

  const root = document.getElementById("activation");
  if (!root) return;
  const id = root.dataset.activationId;
  const base = "/api/activations/" + encodeURIComponent(id);
  const freshness = new KD.Freshness(
    document.getElementById("freshness"), document.getElementById("connection-alert"));

  let etag = root.dataset.etag || null;
  let facts = JSON.parse(document.getElementById("activation-data").textContent);
  let called = Number(document.getElementById("total-called").textContent) || 0;
  let needed = Number(root.dataset.needed) || 0;
  let peopleDirty = true;
  let lastPeopleAt = 0;
  let callups = null;
  const shown = {}; // what each list last showed, to leave an unchanged list alone

  // --- status: totals, units, state ----------------------------------------------------

  async function pollStatus() {
    let response;
    try {
      response = await KD.api(base + "/status", { headers: etag ? { "If-None-Match": etag } : {} });
    } catch (_error) {
      freshness.failed("offline");
      return;
    }
    if (response.status === 304) {
      freshness.ok();
      return;
    }
    if (response.status === 401) {
      freshness.failed("signed-out");
      return;
    }
    if (!response.ok) {
      freshness.failed("offline");
      return;
    }
    const body = await response.json();
    etag = response.headers.get("ETag");
    renderStatus(body);
    freshness.ok();
    peopleDirty = true;
  }

  function renderStatus(body) {
    const totals = body.totals;
    called = totals.called;
    needed = totals.needed;
    for (const key of TOTALS) {
      KD.setText(document.getElementById("total-" + key.replace("_", "-")), totals[key]);
    }
    KD.setText(document.getElementById("total-confirmed-of-needed"),
      totals.confirmed + " av " + totals.needed);
    const gap = document.getElementById("total-gap");
    KD.setText(gap, totals.gap ? "saknas " + totals.gap : "alla enheter täckta");
    KD.setData(gap, "gap", totals.gap);
    gap.className = totals.gap ? "gap-open" : "gap-closed";
    renderUnits(body.units);
    renderState(body.activation.state);
  }

  function fillWidth(confirmed, need) {
    if (need <= 0) return 100;
    return Math.min(100, Math.round((100 * confirmed) / need));
  }

  function renderUnits(units) {
    const body = document.getElementById("unit-rows");
    const template = document.getElementById("unit-row-template");
    const seen = new Set();
    for (const unit of units) {
      seen.add(unit.unit_id);
      let row = body.querySelector('tr[data-unit-id="' + CSS.escape(unit.unit_id) + '"]');
      if (!row) {
        row = template.content.firstElementChild.cloneNode(true);
        row.dataset.unitId = unit.unit_id;
        body.appendChild(row);
      }
      const field = (name) => row.querySelector('[data-field="' + name + '"]');
      const name = field("name");
      KD.setText(name.querySelector(".unit-name") || name, unit.name);
      if (name.title !== unit.name) name.title = unit.name; // the whole name when clipped
      KD.setText(field("confirmed"), unit.confirmed);
      KD.setText(field("needed"), unit.needed);
      KD.setText(field("awaiting"), unit.awaiting);
      KD.setText(field("gap"), unit.gap ? "saknas " + unit.gap : "täckt");
      KD.setData(row, "gap", unit.gap);
      KD.setData(row, "closed", unit.gap === 0);
      row.classList.toggle("gap-open", unit.gap > 0);
      const fill = row.querySelector("[data-bar-fill]");
      const width = String(fillWidth(unit.confirmed, unit.needed));
      if (fill.getAttribute("width") !== width) fill.setAttribute("width", width);
    }
    for (const row of Array.from(body.querySelectorAll("tr[data-unit-id]"))) {
      if (!seen.has(row.dataset.unitId)) row.remove();
    }
  }

  function renderState(state) {
    if (root.dataset.state === state) return;
    root.dataset.state = state;
    const label = document.getElementById("activation-state");
    KD.setText(label, KD.texts().states[state] || state);
    KD.setData(label, "state", state);
    label.className = "state state-" + state;
    const approve = document.getElementById("approve-button");
    const standDown = document.getElementById("stand-down-button");
    if (approve) approve.hidden = state !== "awaiting_approval";
    if (standDown) standDown.hidden = OPEN.indexOf(state) < 0;
    refreshFacts();
  }

  async function refreshFacts() {
    try {
      const response = await KD.api(base);
      if (response.ok) {
        facts = await response.json();
        if (callups) renderLog(callups);
      }
    } catch (_error) {
      // the next state change tries again; the status line already tells of trouble
    }
  }

  // --- people: on the way, not answered, chart, log ------------------------------------

  function peopleEveryMs() {
    // Each read of the call-up list is a read of a list of people, and audited: at most
    // every 10 s (the totals and bars follow every poll), once a minute for 30,000 people.
    return Math.min(60000, Math.max(PEOPLE_MIN_MS, called * 2));
  }

  async function refreshPeople() {
    if (!peopleDirty || Date.now() - lastPeopleAt < peopleEveryMs()) return;
    let response;
    try {
      response = await KD.api(base + "/callups", { timeoutMs: 30000 });
    } catch (_error) {
      return; // tried again at the next poll
    }
    if (!response.ok) return;
    callups = (await response.json()).callups;
    peopleDirty = false;
    lastPeopleAt = Date.now();
    renderPeople(callups);
    renderChart(callups);
    renderLog(callups);
  }

  function arrival(callup) {
    if (callup.eta_minutes === null || !callup.answered_at) return null;
    return new Date(new Date(callup.answered_at).getTime() + callup.eta_minutes * 60000);
  }

  function renderList(listId, items, makeItem) {
    const key = JSON.stringify(items.slice(0, LIST_LIMIT).map((c) => [c.id, c.state, c.eta_minutes, c.name]))
      + items.length;
    const list = document.getElementById(listId);
    KD.setText(document.getElementById(listId + "-count"), "(" + items.length + ")");
    document.getElementById(listId + "-empty").hidden = items.length > 0;
    const more = document.getElementById(listId + "-more");
    more.hidden = items.length <= LIST_LIMIT;
    KD.setText(more, "… och " + (items.length - LIST_LIMIT) + " till");
    list.dataset.loaded = "true";
    if (shown[listId] === key) return;
    shown[listId] = key;
    const fragment = document.createDocumentFragment();
    for (const callup of items.slice(0, LIST_LIMIT)) {
      const item = KD.el("li");
      item.dataset.callupId = callup.id;
      item.dataset.state = callup.state;
      item.appendChild(KD.el("span", "person-name", callup.name));
      item.appendChild(KD.el("span", "person-unit", callup.unit_name));
      item.appendChild(KD.el("span", "person-detail", makeItem(callup)));
      fragment.appendChild(item);
    }
    list.replaceChildren(fragment);
  }

  function renderPeople(all) {
    const coming = all.filter((c) => c.state === "confirmed");
    coming.sort((a, b) => {
      const x = arrival(a), y = arrival(b);
      if (x === null || y === null) return (x === null) - (y === null);
      return x - y;
    });
    renderList("on-the-way", coming, (c) => {
      const at = arrival(c);
      return at === null ? "tid okänd" : "framme ca " + KD.formatTime(at) + " (" + c.eta_minutes + " min)";
    });
    const silent = all.filter((c) => c.state in NOT_ANSWERED_ORDER);
    silent.sort((a, b) => NOT_ANSWERED_ORDER[a.state] - NOT_ANSWERED_ORDER[b.state]
      || a.unit_name.localeCompare(b.unit_name, "sv") || a.name.localeCompare(b.name, "sv"));
    renderList("not-answered", silent, (c) => KD.texts().callupStates[c.state] || c.state);
  }

  function renderLog(all) {
    const events = [];
    for (const c of all) {
      if (!c.answered_at || (c.state !== "confirmed" && c.state !== "declined")) continue;
      const yes = c.state === "confirmed";
      const text = c.name + (yes ? " kommer till " : " kommer inte till ") + c.unit_name
        + (yes && c.eta_minutes !== null ? " (ca " + c.eta_minutes + " min)" : "");
      events.push({ at: c.answered_at, kind: yes ? "answer-yes" : "answer-no", text });
    }
    if (facts.declared_at) events.push({ at: facts.declared_at, kind: "declared", text: "Utlarmning deklarerad av " + facts.declared_by });
    if (facts.approved_at) events.push({ at: facts.approved_at, kind: "approved", text: "Godkänd av " + facts.approved_by });
    if (facts.stood_down_at) events.push({ at: facts.stood_down_at, kind: "stood-down", text: "Avblåst av " + facts.stood_down_by });
    events.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
    const latest = events.slice(0, LOG_LIMIT);
    const key = JSON.stringify(latest);
    if (shown["event-log"] === key) return;
    shown["event-log"] = key;
    const fragment = document.createDocumentFragment();
    for (const event of latest) {
      const item = KD.el("li");
      item.dataset.eventKind = event.kind;
      const time = KD.el("time", "", KD.formatTime(event.at));
      time.dateTime = event.at;
      item.appendChild(time);
      item.appendChild(document.createTextNode(" " + event.text));
      fragment.appendChild(item);
    }
    document.getElementById("event-log").replaceChildren(fragment);
  }

  // --- the chart (chart.js draws it) -----------------------------------------------------

  function renderChart(all) {
    const times = (state) => all.filter((c) => c.state === state && c.answered_at)
      .map((c) => new Date(c.answered_at).getTime()).sort((a, b) => a - b);
    const start = new Date(root.dataset.declaredAt).getTime();
    const closed = facts.stood_down_at ? new Date(facts.stood_down_at).getTime() : null;
    const drawn = KD.drawConfirmations(document.getElementById("confirmations-chart"), {
      start,
      end: closed === null ? Date.now() : closed,
      confirmed: times("confirmed"),
      declined: times("declined"),
      needed,
      previousKey: shown.chart,
    });
    shown.chart = drawn;
  }

  // --- leaders' actions ------------------------------------------------------------------

  const ACTIONS = {
    approve: {
      path: "/approve",
      title: "Godkänn utlarmningen?",
      text: "Kallelserna skickas direkt efter godkännandet.",
      yes: "Ja, godkänn",
    },
    "stand-down": {
      path: "/stand-down",
      title: root.dataset.kind === "drill" ? "Avsluta övningen?" : "Blås av krisen?",
      text: "Alla som kallats får ett besked om att det är avblåst. Det går inte att ångra.",
      yes: "Ja, blås av",
    },
  };

  async function act(button) {
    const spec = ACTIONS[button.dataset.action];
    const error = document.getElementById("action-error");
    if (!(await KD.confirmAction(spec))) return;
    error.hidden = true;
    button.disabled = true;
    try {
      const response = await KD.api(base + spec.path, { method: "POST" });
      if (!response.ok) {
        error.textContent = "Det gick inte: " + (await KD.errorText(response));
        error.hidden = false;
      }
    } catch (_error) {
      error.textContent = "Servern svarar inte. Försök igen.";
      error.hidden = false;
    } finally {
      button.disabled = false;
      poll();
    }
  }

  for (const button of document.querySelectorAll("#leader-actions [data-action]")) {
    button.addEventListener("click", () => act(button));
  }

  const poll = KD.repeat(async () => {
    await pollStatus();
    await refreshPeople();
  }, POLL_MS);
  setInterval(() => { if (callups) renderChart(callups); }, 30000); // the time axis moves on
})();
