// Calibration page: live preview pulses, save, reset, import. Values shown in µs, sent in ns.
"use strict";

(() => {
  const { api, act, uploadFile } = window.Console;
  const $ = (id) => document.getElementById(id);
  let current = null; // the calibration as loaded (our file format)

  function fill(calibration) {
    current = calibration;
    document.querySelectorAll(".channel").forEach((section) => {
      const channel = calibration[section.dataset.channel];
      section.querySelectorAll(".pulse").forEach((row) => {
        row.querySelector("input").value = channel[row.dataset.key] / 1000;
      });
      section.querySelector(".reverse").checked = channel.polarity === -1;
    });
  }

  function collect() {
    const data = { version: 1 };
    if (current && current.speed_table) data.speed_table = current.speed_table;
    document.querySelectorAll(".channel").forEach((section) => {
      const channel = { polarity: section.querySelector(".reverse").checked ? -1 : 1 };
      section.querySelectorAll(".pulse").forEach((row) => {
        channel[row.dataset.key] = Math.round(Number(row.querySelector("input").value) * 1000);
      });
      data[section.dataset.channel] = channel;
    });
    return data;
  }

  async function refresh() {
    const data = await act(() => api("GET", "/api/v1/calibration"));
    if (!data) return;
    fill(data.calibration);
    $("cal-state").textContent = data.calibrating ? "calibrating" : "not calibrating";
  }

  function preview(section, row) {
    const ns = Math.round(Number(row.querySelector("input").value) * 1000);
    return act(() => api("POST", "/api/v1/calibration/preview", { channel: section.dataset.channel, ns }));
  }

  document.querySelectorAll(".channel").forEach((section) => {
    section.querySelectorAll(".pulse").forEach((row) => {
      const input = row.querySelector("input");
      row.querySelectorAll(".step").forEach((button) => {
        button.addEventListener("click", () => {
          input.value = Number(input.value) + Number(button.dataset.step);
          preview(section, row);
        });
      });
      input.addEventListener("change", () => preview(section, row));
      row.querySelector(".test").addEventListener("click", () => preview(section, row));
    });
  });

  $("enter").addEventListener("click", async () => {
    await act(() => api("POST", "/api/v1/calibration/enter"), "Calibrating: the car follows this page");
    refresh();
  });
  $("exit").addEventListener("click", async () => {
    await act(() => api("POST", "/api/v1/calibration/exit"), "Calibration finished");
    refresh();
  });
  $("save").addEventListener("click", async () => {
    const data = await act(() => api("PUT", "/api/v1/calibration", collect()), "Calibration saved");
    if (data) fill(data.calibration);
  });
  $("reset").addEventListener("click", async () => {
    if (!window.confirm("Replace the calibration with the defaults?")) return;
    const data = await act(() => api("POST", "/api/v1/calibration/reset"), "Defaults restored");
    if (data) fill(data.calibration);
  });
  $("import").addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = await act(
      () => uploadFile("/api/v1/calibration/import", $("import-file")), "Calibration imported");
    if (data) { fill(data.calibration); event.target.reset(); }
  });

  refresh();
})();
