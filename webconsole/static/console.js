// Shared by every page: JSON calls with the CSRF token, messages, log out.
"use strict";

window.Console = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const message = document.getElementById("message");
  let messageTimer = null;

  function show(text, kind = "error") {
    message.textContent = text;
    message.className = kind;
    message.hidden = false;
    clearTimeout(messageTimer);
    if (kind !== "error") messageTimer = setTimeout(() => { message.hidden = true; }, 4000);
  }

  // body: a plain object (sent as JSON) or FormData (sent as multipart).
  async function api(method, url, body) {
    const headers = { "X-CSRFToken": csrf, "Accept": "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    if (response.status === 401) {
      window.location.assign("/login");
      throw new Error("logged out");
    }
    let data;
    try {
      data = await response.json();
    } catch (err) {
      throw new Error(`the car answered ${response.status} without JSON`);
    }
    if (!data.success) throw new Error(data.reason || `request failed (${response.status})`);
    return data;
  }

  // The file chosen in `input`, sent as the multipart field "file" (DeepRacer's name).
  function uploadFile(url, input) {
    const file = input.files[0];
    if (!file) throw new Error("Choose a file first");
    const form = new FormData();
    form.append("file", file);
    return api("POST", url, form);
  }

  // Run an action from a button; any failure is shown to the user, never swallowed.
  async function act(promiseFactory, doneText) {
    try {
      const result = await promiseFactory();
      if (doneText) show(doneText, "info");
      return result;
    } catch (err) {
      show(err.message);
      return null;
    }
  }

  // Numbers as people read them: a fixed number of decimals, "–" when there is none.
  function formatNumber(value, digits = 1) {
    const number = Number(value);
    return value === null || value === undefined || !Number.isFinite(number) ? "–" : number.toFixed(digits);
  }

  function formatBytes(bytes) {
    if (bytes >= 1e6) return `${formatNumber(bytes / 1e6, 1)} MB`;
    if (bytes >= 1e3) return `${formatNumber(bytes / 1e3, 0)} kB`;
    return `${formatNumber(bytes, 0)} B`;
  }

  const logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      await act(() => api("POST", "/logout"));
      window.location.assign("/login");
    });
  }

  return { api, act, show, uploadFile, formatNumber, formatBytes };
})();
