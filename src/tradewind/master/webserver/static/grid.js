// The grid page: collapse and expand task groups, and while a shown run is queued or running,
// poll the grid's JSON every 3 s and recolour the boxes in place. On the newest page it also
// polls every 10 s while nothing runs, and reloads itself when a run it does not show has started
// (a schedule, another person, the CLI), keeping the groups that were collapsed.
(function () {
  "use strict";
  var table = document.getElementById("grid");
  if (!table) { return; }
  var newestPage = !/[?&]before=/.test(table.dataset.url);
  var collapsedKey = "tradewind-grid-collapsed:" + window.location.pathname;

  function collapsedGroups() {
    var groups = [];
    table.querySelectorAll("button.group-toggle").forEach(function (button) {
      if (button.getAttribute("aria-expanded") === "false") { groups.push(button.dataset.group); }
    });
    return groups;
  }

  function restoreCollapsed() {
    var saved;
    try { saved = JSON.parse(window.sessionStorage.getItem(collapsedKey) || "[]"); } catch (e) { saved = []; }
    window.sessionStorage.removeItem(collapsedKey);
    table.querySelectorAll("button.group-toggle").forEach(function (button) {
      if (saved.indexOf(button.dataset.group) >= 0) { setOpen(button, false); }
    });
  }

  function setOpen(button, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = open ? "\u25BE" : "\u25B8";
  }

  function setHidden() {
    var collapsed = {};
    collapsedGroups().forEach(function (group) { collapsed[group] = true; });
    table.querySelectorAll("tr.grid-row").forEach(function (row) {
      var groups = row.dataset.groups ? row.dataset.groups.split(" ") : [];
      row.hidden = groups.some(function (g) { return collapsed[g]; });
    });
  }

  table.addEventListener("click", function (event) {
    var button = event.target.closest("button.group-toggle");
    if (!button) { return; }
    setOpen(button, button.getAttribute("aria-expanded") === "false");
    setHidden();
  });

  function recolour(element, state) {
    element.className = element.className.replace(/\bstate-[a-z_]+/g, "").trim() + " state-" + state;
  }

  function showsEveryRun(data, headers) {
    var shown = {};
    headers.forEach(function (th) { shown[th.dataset.runId] = true; });
    return data.runs.every(function (run) { return shown[run.run_id]; });
  }

  function apply(data) {
    var headers = table.querySelectorAll("thead th.run-col");
    if (newestPage && !showsEveryRun(data, headers)) {
      window.sessionStorage.setItem(collapsedKey, JSON.stringify(collapsedGroups()));
      window.location.reload();
      return false;
    }
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
    return true;
  }

  function nextPoll() {
    if (table.dataset.active === "true") { window.setTimeout(poll, 3000); }
    else if (newestPage) { window.setTimeout(poll, 10000); }
  }

  function poll() {
    fetch(table.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { return data ? apply(data) : true; })
      .catch(function () { return true; })
      .then(function (goOn) { if (goOn) { nextPoll(); } });
  }

  restoreCollapsed();
  setHidden();
  nextPoll();
})();
