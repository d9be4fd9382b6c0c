// Drive page: status polling, mode, start/stop, speed limit, joystick, action bars.
"use strict";

(() => {
  const { api, act, show, formatNumber: fmt } = window.Console;
  const $ = (id) => document.getElementById(id);
  const SEND_INTERVAL_MS = 100; // the governor drops a manual command after 500 ms
  const POLL_MS = 500;

  // -- status ------------------------------------------------------------------------
  let limitDragging = false;

  function renderBars(action) {
    const box = $("probabilities");
    const probs = action && action.probabilities;
    if (!probs) {
      box.textContent = action ? "Continuous action space" : "No action yet";
      return;
    }
    if (box.children.length !== probs.length) {
      box.textContent = "";
      probs.forEach((_, i) => {
        const row = document.createElement("div");
        row.className = "bar";
        row.innerHTML = '<span></span><div class="track"><div class="fill"></div></div><span></span>';
        row.firstChild.textContent = `#${i}`;
        box.appendChild(row);
      });
    }
    probs.forEach((p, i) => {
      const row = box.children[i];
      row.classList.toggle("chosen", i === action.index);
      row.querySelector(".fill").style.width = `${Math.round(p * 100)}%`;
      row.lastChild.textContent = `${Math.round(p * 100)}%`;
    });
  }

  function render(status) {
    const state = $("state");
    state.textContent = status.state;
    state.className = `badge ${status.state}`;
    $("model").textContent = status.model_loading ? "loading…" : (status.model || "none");
    // No step yet (no model, or no frame): nothing measured, rather than "0.0".
    const stepped = Boolean(status.action);
    $("loop-hz").textContent = stepped ? fmt(status.loop_hz) : "–";
    const latency = stepped ? status.latency_ms : {};
    $("latency").textContent = `${fmt(latency.p50)} / ${fmt(latency.p99)}`;
    const fault = $("fault");
    fault.hidden = !status.fault;
    fault.textContent = status.fault ? `Fault: ${status.fault}` : "";
    document.querySelectorAll("[data-mode]").forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.mode === status.mode));
    });
    if (!limitDragging) {
      $("limit").value = Math.round(status.throttle_limit * 100);
      $("limit-value").textContent = `${Math.round(status.throttle_limit * 100)}%`;
    }
    const action = status.action;
    const advisory = status.state !== "autonomous";
    $("action-card").classList.toggle("advisory", advisory);
    $("action-note").hidden = !advisory;
    $("pulse-steering").textContent = `${fmt(status.pulses.steering / 1000, 0)} µs`;
    $("pulse-throttle").textContent = `${fmt(status.pulses.throttle / 1000, 0)} µs`;
    $("steer").textContent = action ? fmt(action.steer_norm, 2) : "–";
    $("throttle").textContent = action ? fmt(action.throttle_norm, 2) : "–";
    renderBars(action);
  }

  async function poll() {
    try {
      render((await api("GET", "/api/v1/status")).status);
    } catch (err) {
      show(`No status from the car: ${err.message}`);
    }
    setTimeout(poll, POLL_MS);
  }

  // -- controls ----------------------------------------------------------------------
  document.querySelectorAll("[data-mode]").forEach((button) => {
    button.addEventListener("click", () =>
      act(() => api("PUT", "/api/v1/mode", { mode: button.dataset.mode })));
  });
  $("start").addEventListener("click", () => act(() => api("POST", "/api/v1/start")));
  $("stop").addEventListener("click", () => act(() => api("POST", "/api/v1/stop")));

  const limit = $("limit");
  limit.addEventListener("input", () => {
    limitDragging = true;
    $("limit-value").textContent = `${limit.value}%`;
  });
  limit.addEventListener("change", async () => {
    await act(() => api("PUT", "/api/v1/throttle-limit", { throttle_limit: limit.value / 100 }));
    limitDragging = false;
  });

  // -- joystick: right steers right (negative), up drives forward (positive) ----------
  const pad = $("joystick");
  const knob = pad.querySelector(".knob");
  let held = null; // {steer, throttle} while a pointer holds the pad
  let timer = null;
  let inFlight = false;

  async function send(command) {
    if (inFlight) return; // never queue stale commands behind a slow one
    inFlight = true;
    try {
      await api("POST", "/api/v1/manual", command);
    } catch (err) {
      show(err.message);
    } finally {
      inFlight = false;
    }
  }

  function place(event) {
    const rect = pad.getBoundingClientRect();
    let x = (event.clientX - rect.left - rect.width / 2) / (rect.width / 2);
    let y = (event.clientY - rect.top - rect.height / 2) / (rect.height / 2);
    const length = Math.hypot(x, y);
    if (length > 1) { x /= length; y /= length; }
    knob.style.left = `${50 + x * 50}%`;
    knob.style.top = `${50 + y * 50}%`;
    held = { steer: -x, throttle: -y };
  }

  function release() {
    if (held === null) return;
    held = null;
    clearInterval(timer);
    pad.classList.remove("active");
    knob.style.left = knob.style.top = "50%";
    inFlight = false;
    send({ steer: 0, throttle: 0 });
  }

  pad.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    pad.classList.add("active");
    place(event);
    send(held);
    clearInterval(timer);
    timer = setInterval(() => { if (held) send(held); }, SEND_INTERVAL_MS);
  });
  pad.addEventListener("pointermove", (event) => { if (held) place(event); });
  ["pointerup", "pointercancel", "lostpointercapture"].forEach((name) =>
    pad.addEventListener(name, release));
  window.addEventListener("blur", release);
  document.addEventListener("visibilitychange", () => { if (document.hidden) release(); });

  poll();
})();
