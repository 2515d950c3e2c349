// Scheduled drills, for leaders: the form posts to POST /api/drill-schedules and shows
// each error beside the field the API names; a cancel button asks first, then calls
// POST /api/drill-schedules/{id}/cancel. After a change the page loads again: the
// server renders the list.
"use strict";

(function () {
  const KD = window.KD;
  const form = document.getElementById("schedule-form");
  if (!form) return;
  const general = document.getElementById("schedule-error");
  const listError = document.getElementById("schedule-list-error");
  const FIELD_ERRORS = ["title", "at", "cron", "scope", "message", "options"];
  const INPUTS = { title: "schedule-title", at: "schedule-at", cron: "schedule-cron", message: "schedule-message" };

  function timing() {
    return form.querySelector('input[name="timing"]:checked').value;
  }

  function showTiming() {
    const cron = timing() === "cron";
    document.getElementById("schedule-at-field").hidden = cron;
    document.getElementById("schedule-cron-field").hidden = !cron;
  }

  function checked(name) {
    return Array.from(form.querySelectorAll('input[name="' + name + '"]:checked'), (box) => box.value);
  }

  function schedule() {
    const body = {
      title: form.elements.title.value.trim(),
      scope: { areas: checked("areas"), services: checked("services"), units: checked("units") },
      announced: form.elements.announced.checked,
      options: { reserves: form.elements.reserves.checked, gap_reports: form.elements.gap_reports.checked },
    };
    if (timing() === "cron") body.cron = form.elements.cron.value.trim();
    else body.at = form.elements.at.value; // a Stockholm wall time: the API reads it so
    const message = form.elements.message.value.trim();
    if (message) body.message = message;
    return body;
  }

  function clearErrors() {
    general.hidden = true;
    for (const name of FIELD_ERRORS) {
      document.getElementById("schedule-error-" + name).hidden = true;
      const input = INPUTS[name] && document.getElementById(INPUTS[name]);
      if (input) input.removeAttribute("aria-invalid");
    }
  }

  /** Put the error beside its field (`scope.units` → scope); the general line otherwise. */
  function showError(field, text) {
    const name = (field || "").split(/[.[]/)[0];
    const box = FIELD_ERRORS.includes(name) ? document.getElementById("schedule-error-" + name) : general;
    box.textContent = text;
    box.hidden = false;
    const input = INPUTS[name] && document.getElementById(INPUTS[name]);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", box.id);
      input.focus();
    } else {
      box.setAttribute("role", "alert");
    }
  }

  async function problem(response) {
    if (response.status === 401) return { text: "Du är utloggad. Logga in igen och försök på nytt." };
    if (response.status === 403) return { text: "Din nyckel får inte planera övningar (kräver rollen ledare)." };
    let body = null;
    try {
      body = await response.json();
    } catch (_ignored) {
      return { text: "HTTP " + response.status };
    }
    const message = body && typeof body.error === "string" ? body.error : "HTTP " + response.status;
    return { field: body && body.field, text: "Kontrollera uppgiften: " + message };
  }

  form.addEventListener("change", (event) => {
    if (event.target.name === "timing") showTiming();
  });
  showTiming();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const body = schedule();
    if (!body.title) return showError("title", "Skriv en rubrik.");
    if (body.at === "") return showError("at", "Välj datum och tid.");
    if (body.cron === "") return showError("cron", "Skriv ett cron-uttryck, t.ex. 0 9 * * 1.");
    const button = document.getElementById("schedule-submit");
    button.disabled = true;
    try {
      const response = await KD.api("/api/drill-schedules", { method: "POST", body });
      if (!response.ok) {
        const found = await problem(response);
        showError(found.field, found.text);
        return;
      }
      location.reload();
    } catch (_error) {
      showError("", "Servern svarar inte. Försök igen; listan visar om övningen blev planerad.");
    } finally {
      button.disabled = false;
    }
  });

  document.getElementById("schedule-rows").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-cancel]");
    if (!button) return;
    listError.hidden = true;
    const yes = await KD.confirmAction({
      title: "Ställa in övningen?",
      text: "”" + button.dataset.title + "” startar inte. Det går inte att ångra.",
      yes: "Ställ in",
    });
    if (!yes) return;
    button.disabled = true;
    try {
      const path = "/api/drill-schedules/" + encodeURIComponent(button.dataset.cancel) + "/cancel";
      const response = await KD.api(path, { method: "POST" });
      if (!response.ok) {
        listError.textContent = (await problem(response)).text;
        listError.hidden = false;
        return;
      }
      location.reload();
    } catch (_error) {
      listError.textContent = "Servern svarar inte. Försök igen.";
      listError.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
})();
