// Sandbox phones: send an answer as a person.
// The dashboard's sign-in cookie only allows changes from scripts that send the header
// X-Requested-With (a cross-site form cannot), so the answer form is sent with fetch.
// Without this script the form still works for callers with a bearer token.
"use strict";

function showError(form, text) {
  const box = form.querySelector("[data-reply-error]");
  if (box) box.textContent = text;
}

async function errorText(response) {
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("application/json")) {
    const body = await response.json().catch(() => ({}));
    if (response.status === 401) return "Du är inte inloggad längre. Logga in på /dashboard/login.";
    return body.error || "Svaret kunde inte skickas (" + response.status + ").";
  }
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const alert = page.querySelector(".error[role=alert]");
  return alert ? alert.textContent : "Svaret kunde inte skickas (" + response.status + ").";
}

async function send(event) {
  const form = event.target.closest("[data-reply-form]");
  if (!form) return;
  event.preventDefault();
  const button = form.querySelector("[data-reply-send]");
  button.disabled = true;
  showError(form, "");
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { "X-Requested-With": "krisdispatch" },
      credentials: "same-origin",
    });
    if (!response.ok) {
      showError(form, await errorText(response));
      return;
    }
    const target = new URL(response.url);
    target.hash = "senaste";
    if (target.pathname + target.search === location.pathname + location.search) {
      location.hash = "senaste";
      location.reload();
    } else {
      location.assign(target.href);
    }
  } catch (error) {
    showError(form, "Servern svarar inte. Försök igen.");
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("submit", send);
