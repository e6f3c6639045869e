// The grid page: collapse and expand task groups, and while a shown run is queued or running,
// poll the grid's JSON every 3 s and recolour the boxes in place.
(function () {
  "use strict";
  var table = document.getElementById("grid");
  if (!table) { return; }

  function setHidden() {
    var collapsed = {};
    table.querySelectorAll("button.group-toggle").forEach(function (button) {
      if (button.getAttribute("aria-expanded") === "false") { collapsed[button.dataset.group] = true; }
    });
    table.querySelectorAll("tr.grid-row").forEach(function (row) {
      var groups = row.dataset.groups ? row.dataset.groups.split(" ") : [];
      row.hidden = groups.some(function (g) { return collapsed[g]; });
    });
  }

  table.addEventListener("click", function (event) {
    var button = event.target.closest("button.group-toggle");
    if (!button) { return; }
    var open = button.getAttribute("aria-expanded") !== "false";
    button.setAttribute("aria-expanded", open ? "false" : "true");
    button.textContent = open ? "\u25B8" : "\u25BE";
    setHidden();
  });

  function recolour(element, state) {
    element.className = element.className.replace(/\bstate-[a-z_]+/g, "").trim() + " state-" + state;
  }

  function apply(data) {
    var headers = table.querySelectorAll("thead th.run-col");
    var columnOf = {};
    data.runs.forEach(function (run, index) { columnOf[run.run_id] = index; });
    headers.forEach(function (th) {
      var index = columnOf[th.dataset.runId];
      var bar = th.querySelector(".run-bar");
      if (index !== undefined && bar) { recolour(bar, data.runs[index].state); }
    });
    var rowsById = {};
    data.rows.forEach(function (row) { rowsById[row.id] = row; });
    table.querySelectorAll("tbody tr.grid-row").forEach(function (tr) {
      var row = rowsById[tr.dataset.rowId];
      if (!row) { return; }
      var boxes = tr.querySelectorAll(".box");
      headers.forEach(function (th, position) {
        var index = columnOf[th.dataset.runId];
        if (index !== undefined && boxes[position]) {
          recolour(boxes[position], row.states[index]);
          var title = boxes[position].getAttribute("title") || "";
          title = title.replace(/State: [a-z_]+/, "State: " + row.states[index]);
          var mapped = row.mapped && row.mapped[index];
          if (mapped) {
            var counts = Object.keys(row.mapped_states[index]).map(function (state) {
              return state + " " + row.mapped_states[index][state];
            }).join(", ");
            var line = "Mapped instances: " + mapped + " (" + counts + ")";
            title = /Mapped instances: .*/.test(title) ? title.replace(/Mapped instances: .*/, line) : title + "\n" + line;
          }
          boxes[position].setAttribute("title", title);
        }
      });
    });
    table.dataset.active = data.active ? "true" : "false";
  }

  function poll() {
    if (table.dataset.active !== "true") { return; }
    fetch(table.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { apply(data); } })
      .catch(function () {})
      .then(function () { if (table.dataset.active === "true") { window.setTimeout(poll, 3000); } });
  }
  window.setTimeout(poll, 3000);
})();
