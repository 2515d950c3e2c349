// The activations list: new activations and state changes appear by themselves, and the
// open ones' "confirmed of needed" follow their /status (If-None-Match), every 5 s.
"use strict";

(function () {
  const KD = window.KD;
  const POLL_MS = 5000;
  const OPEN = ["awaiting_approval", "active"];

  const rows = document.getElementById("activation-rows");
  if (!rows) return;
  const template = document.getElementById("activation-row-template");
  const freshness = new KD.Freshness(document.getElementById("freshness"), null);
  const etags = {};

  function rowOf(id) {
    return rows.querySelector('tr[data-activation-id="' + CSS.escape(id) + '"]');
  }

  function fill(row, activation) {
    const texts = KD.texts();
    const field = (name) => row.querySelector('[data-field="' + name + '"]');
    KD.setData(row, "kind", activation.kind);
    KD.setData(row, "state", activation.state);
    KD.setData(row, "open", OPEN.indexOf(activation.state) >= 0);
    const badge = field("kind").firstElementChild;
    KD.setText(badge, texts.kinds[activation.kind] || activation.kind);
    badge.className = "kind kind-" + activation.kind;
    KD.setData(badge, "kind", activation.kind);
    const link = field("title").firstElementChild;
    link.href = "/dashboard/activations/" + encodeURIComponent(activation.id);
    KD.setText(link, activation.title);
    KD.setText(field("state"), texts.states[activation.state] || activation.state);
    const time = field("declared").firstElementChild;
    if (time.dateTime !== activation.declared_at) {
      time.dateTime = activation.declared_at;
      time.textContent = KD.formatDateTime(activation.declared_at);
    }
  }

  async function refreshCounts(row) {
    const id = row.dataset.activationId;
    const headers = etags[id] ? { "If-None-Match": etags[id] } : {};
    const response = await KD.api("/api/activations/" + encodeURIComponent(id) + "/status", { headers });
    if (response.status !== 200) return;
    etags[id] = response.headers.get("ETag");
    const totals = (await response.json()).totals;
    KD.setText(row.querySelector('[data-field="confirmed"]'), totals.confirmed);
    KD.setText(row.querySelector('[data-field="needed"]'), totals.needed);
  }

  async function poll() {
    let response;
    try {
      response = await KD.api("/api/activations");
    } catch (_error) {
      freshness.failed("offline");
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
    const list = (await response.json()).activations;
    const wanted = new Set(list.map((a) => a.id));
    for (const row of Array.from(rows.children)) {
      if (!wanted.has(row.dataset.activationId)) row.remove();
    }
    let previous = null;
    for (const activation of list) {
      let row = rowOf(activation.id);
      const fresh = !row;
      if (fresh) {
        row = template.content.firstElementChild.cloneNode(true);
        row.dataset.activationId = activation.id;
      }
      fill(row, activation);
      const place = previous ? previous.nextElementSibling : rows.firstElementChild;
      if (place !== row) rows.insertBefore(row, place); // only moves rows whose place changed
      previous = row;
      if (fresh || OPEN.indexOf(activation.state) >= 0) {
        try {
          await refreshCounts(row);
        } catch (_error) {
          // counts stay as they were; the list itself was read
        }
      }
    }
    document.getElementById("no-activations").hidden = list.length > 0;
    freshness.ok();
  }

  KD.repeat(poll, POLL_MS);
})();
