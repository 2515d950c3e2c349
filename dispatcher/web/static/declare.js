// Declaring, for leaders: the form asks the API for a preview (people per unit,
// unreachable, SMS, time), shows it, and declares only when the leader confirms it.
// Changing the form afterwards hides the preview: what is confirmed is what was shown.
"use strict";

(function () {
  const KD = window.KD;
  const form = document.getElementById("declare-form");
  if (!form) return;
  const preview = document.getElementById("preview");
  const error = document.getElementById("declare-error");
  const confirm = document.getElementById("declare-confirm");
  const twoPerson = Boolean(document.getElementById("approval-note"));
  let shownBody = null; // the declaration the preview shows, with its idempotency key
  const UNREACHABLE_LIMIT = 50;

  function checked(name) {
    return Array.from(form.querySelectorAll('input[name="' + name + '"]:checked'), (box) => box.value);
  }

  function declaration() {
    const body = {
      kind: form.querySelector('input[name="kind"]:checked').value,
      title: form.elements.title.value.trim(),
      scope: { areas: checked("areas"), services: checked("services"), units: checked("units") },
    };
    const message = form.elements.message.value.trim();
    if (message) body.message = message;
    return body;
  }

  function showError(text) {
    error.textContent = text;
    error.hidden = false;
  }

  async function problem(response) {
    if (response.status === 401) return "Du är utloggad. Logga in igen och försök på nytt.";
    if (response.status === 403) return "Din nyckel får inte larma ut (kräver rollen ledare).";
    return "Kontrollera uppgifterna: " + (await KD.errorText(response));
  }

  function duration(seconds) {
    if (seconds < 60) return "ca " + Math.max(1, Math.round(seconds)) + " s";
    return "ca " + Math.round(seconds / 60) + " min";
  }

  function render(body, result) {
    const kind = body.kind === "drill" ? "ÖVNING" : "KRIS";
    KD.setText(document.getElementById("preview-summary"),
      kind + ": ”" + body.title + "” – " + result.people + " personer i " + result.units.length + " enheter kallas.");
    KD.setText(document.getElementById("preview-people"), result.people);
    KD.setText(document.getElementById("preview-sms"), result.sms.count + " SMS (" + result.sms.segments + " delar)");
    KD.setText(document.getElementById("preview-emails"), result.emails);
    KD.setText(document.getElementById("preview-time"), duration(result.send_seconds));
    const units = document.createDocumentFragment();
    for (const unit of result.units) {
      const row = KD.el("tr");
      row.dataset.unitId = unit.unit_id;
      const name = KD.el("th", "", unit.name);
      name.scope = "row";
      row.appendChild(name);
      row.appendChild(KD.el("td", "num", unit.people));
      units.appendChild(row);
    }
    document.getElementById("preview-units").replaceChildren(units);
    const unitNames = new Map(result.units.map((unit) => [unit.unit_id, unit.name]));
    const missing = document.createDocumentFragment();
    for (const person of result.unreachable.slice(0, UNREACHABLE_LIMIT)) {
      const unit = unitNames.get(person.unit_id) || person.unit_id;
      missing.appendChild(KD.el("li", "", person.name + " (" + unit + ")"));
    }
    if (result.unreachable.length > UNREACHABLE_LIMIT) {
      missing.appendChild(KD.el("li", "muted", "… och " + (result.unreachable.length - UNREACHABLE_LIMIT) + " till"));
    }
    document.getElementById("preview-unreachable").replaceChildren(missing);
    KD.setText(document.getElementById("preview-unreachable-count"), "(" + result.unreachable.length + ")");
    confirm.textContent = body.kind === "crisis" && twoPerson
      ? "Skicka för godkännande (" + result.people + " personer)"
      : "Larma ut " + (body.kind === "drill" ? "övningen" : "KRIS") + " till " + result.people + " personer";
    preview.hidden = false;
    document.getElementById("preview-heading").focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const body = declaration();
    if (!body.title) {
      showError("Skriv en rubrik.");
      form.elements.title.focus();
      return;
    }
    const button = document.getElementById("preview-button");
    button.disabled = true;
    try {
      const response = await KD.api("/api/activations/preview", { method: "POST", body });
      if (!response.ok) {
        showError(await problem(response));
        return;
      }
      shownBody = Object.assign({ idempotency_key: KD.randomKey() }, body);
      render(body, await response.json());
    } catch (_error) {
      showError("Servern svarar inte. Försök igen.");
    } finally {
      button.disabled = false;
    }
  });

  function forget() {
    shownBody = null;
    preview.hidden = true;
  }
  form.addEventListener("input", forget);
  form.addEventListener("change", forget);
  document.getElementById("declare-cancel").addEventListener("click", () => {
    forget();
    form.elements.title.focus();
  });

  confirm.addEventListener("click", async () => {
    if (shownBody === null) return;
    confirm.disabled = true;
    try {
      // The same key if this is pressed twice: the API returns the first activation.
      const response = await KD.api("/api/activations", { method: "POST", body: shownBody });
      if (!response.ok) {
        showError(await problem(response));
        return;
      }
      const created = await response.json();
      location.assign("/dashboard/activations/" + encodeURIComponent(created.id));
    } catch (_error) {
      showError("Servern svarar inte. Om utlarmningen gick iväg syns den under Utlarmningar.");
    } finally {
      confirm.disabled = false;
    }
  });
})();
