// Models page: upload, list, load, delete.
"use strict";

(() => {
  const { api, act, show, uploadFile, formatBytes } = window.Console;
  const $ = (id) => document.getElementById(id);
  let refreshTimer = null;

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function nameCell(model) {
    const td = cell(model.name);
    if (model.bundled) {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = "bundled";
      tag.title = "Comes with the car's software (or --model), not from the store";
      td.append(" ", tag);
    }
    return td;
  }

  function button(label, handler) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.addEventListener("click", handler);
    return b;
  }

  function describe(model) {
    if (!model.action_space_type) return "–";
    return model.action_count ? `${model.action_space_type}, ${model.action_count} actions` : model.action_space_type;
  }

  async function refresh() {
    const data = await act(() => api("GET", "/api/v1/models"));
    if (!data) return;
    $("loaded").textContent = data.loaded || "none";
    $("loading-state").textContent = data.loading ? "(loading…)" : (data.error ? `— ${data.error}` : "");
    $("loading-state").className = data.error ? "error" : "";
    const rows = $("model-rows");
    rows.textContent = "";
    if (data.models.length === 0) {
      const tr = document.createElement("tr");
      const td = cell("No models yet: upload one above.");
      td.colSpan = 5;
      tr.appendChild(td);
      rows.appendChild(tr);
    }
    for (const model of data.models) {
      const tr = document.createElement("tr");
      tr.dataset.name = model.name;
      if (model.bundled) tr.dataset.bundled = "";
      tr.appendChild(nameCell(model));
      tr.appendChild(cell(describe(model)));
      tr.appendChild(cell(formatBytes(model.size_bytes)));
      tr.appendChild(cell(model.error ? `Unusable: ${model.error}` : (model.active ? "Loaded" : "Ready")));
      const actions = document.createElement("td");
      const row = document.createElement("div");
      row.className = "row";
      const load = button("Load", () => act(async () => {
        await api("POST", `/api/v1/models/${encodeURIComponent(model.name)}/load`);
        refresh();
      }, `Loading ${model.name}…`));
      load.disabled = Boolean(model.error) || model.active || data.loading;
      row.append(load);
      if (model.bundled) {
        const note = document.createElement("span");
        note.className = "hint";
        note.textContent = "Bundled: cannot be deleted";
        row.append(note);
      } else {
        const del = button("Delete", () => {
          if (!window.confirm(`Delete ${model.name}?`)) return;
          act(async () => {
            await api("DELETE", `/api/v1/models/${encodeURIComponent(model.name)}`);
            refresh();
          }, `Deleted ${model.name}`);
        });
        del.disabled = model.active;
        row.append(del);
      }
      actions.appendChild(row);
      tr.appendChild(actions);
      rows.appendChild(tr);
    }
    clearTimeout(refreshTimer);
    if (data.loading) refreshTimer = setTimeout(refresh, 1000);
  }

  $("upload").addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = event.target.querySelector("button");
    submit.disabled = true;
    show("Uploading and checking the bundle…", "info");
    const data = await act(() => uploadFile("/api/v1/models", $("bundle")));
    submit.disabled = false;
    if (data) {
      show(`Installed ${data.name}`, "info");
      event.target.reset();
      refresh();
    }
  });

  refresh();
})();
