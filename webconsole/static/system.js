// System page: facts and the recent log, refreshed every few seconds.
"use strict";

(() => {
  const { api, show, formatNumber: fmt } = window.Console;
  const REFRESH_MS = 3000;

  function duration(seconds) {
    const s = Math.floor(seconds);
    const [h, min] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60)];
    if (h) return `${h} h ${min} min`;
    return min ? `${min} min ${s % 60} s` : `${s} s`;
  }

  function facts(info) {
    const loop = info.loop;
    const list = [
      ["Host", info.host],
      ["Uptime", duration(info.uptime_s)],
      ["CPU temperature", info.cpu_temperature_c === null ? "not readable here" : `${fmt(info.cpu_temperature_c)} °C`],
      ["Load average", info.load_average.map((x) => fmt(x, 2)).join(" ")],
      ["Loop", `${loop.steps} steps, ${loop.steps > 1 ? fmt(loop.loop_hz) : "–"} Hz`],
      ["Latency p50 / p99", loop.steps ? `${fmt(loop.latency_ms_p50)} / ${fmt(loop.latency_ms_p99)} ms` : "no steps yet"],
      ["Frames dropped", String(loop.frames_dropped)],
      ["Camera error", loop.source_error || "none"],
    ];
    for (const [name, version] of Object.entries(info.versions)) list.push([name, version]);
    const dl = document.getElementById("facts");
    dl.textContent = "";
    for (const [term, value] of list) {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      dl.append(dt, dd);
    }
  }

  async function refresh() {
    try {
      facts((await api("GET", "/api/v1/system")).system);
      const logs = document.getElementById("logs");
      logs.textContent = (await api("GET", "/api/v1/logs?n=200")).lines.join("\n") || "(empty)";
    } catch (err) {
      show(err.message);
    }
    setTimeout(refresh, REFRESH_MS);
  }

  refresh();
})();
