// Calibration page: live preview pulses, save, reset, import. Values shown in µs, sent in ns.
"use strict";

(() => {
  const { api, act, uploadFile } = window.Console;
  const $ = (id) => document.getElementById(id);
  let current = null; // the calibration as loaded (our file format)

  // What a command does at each end: +1 steers left and drives forward. The pulses map as
  // calibration/model.py does (adj = command * polarity: min at adj -1, max at adj +1), so
  // the min field holds command -polarity and the max field command +polarity.
  const MEANINGS = {
    steering: {
      "-1": ["Full right", "the front wheels should turn fully right"],
      "0": ["Centre", "the front wheels should point straight ahead"],
      "1": ["Full left", "the front wheels should turn fully left"],
    },
    throttle: {
      "-1": ["Full reverse", "the wheels should spin backwards at full speed (some ESCs brake on the first pulse)"],
      "0": ["Stopped", "the wheels should stop"],
      "1": ["Full forward", "the wheels should spin forward at full speed"],
    },
  };
  const ADJ = { min_ns: -1, mid_ns: 0, max_ns: 1 };

  function polarity(section) {
    return section.querySelector(".reverse").checked ? -1 : 1;
  }

  function describe(section) {
    const meanings = MEANINGS[section.dataset.channel];
    section.querySelectorAll(".pulse").forEach((row) => {
      const [name, test] = meanings[String(ADJ[row.dataset.key] * polarity(section))];
      row.querySelector(".meaning").textContent = name;
      row.querySelector(".test-note").textContent = `Test: ${test}.`;
    });
  }

  function fill(calibration) {
    current = calibration;
    document.querySelectorAll(".channel").forEach((section) => {
      const channel = calibration[section.dataset.channel];
      section.querySelectorAll(".pulse").forEach((row) => {
        row.querySelector("input").value = channel[row.dataset.key] / 1000;
      });
      section.querySelector(".reverse").checked = channel.polarity === -1;
      describe(section);
    });
  }

  function collect() {
    const data = { version: 1 };
    if (current && current.speed_table) data.speed_table = current.speed_table;
    document.querySelectorAll(".channel").forEach((section) => {
      const channel = { polarity: polarity(section) };
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
    section.querySelector(".reverse").addEventListener("change", () => describe(section));
    section.querySelectorAll(".pulse").forEach((row) => {
      const input = row.querySelector("input");
      row.querySelectorAll(".step").forEach((button) => {
        button.addEventListener("click", () => {
          const us = Number(input.value) + Number(button.dataset.step);
          input.value = Math.round(us * 1000) / 1000; // whole ns: no 1316.1109999999999
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
