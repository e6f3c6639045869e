// The grid page: collapse and expand task groups (remembered per DAG in this browser), and while a
// shown run is queued or running, poll the grid's JSON every 3 s and recolour the boxes in place.
// On the newest page it also polls every 10 s while nothing runs, and reloads itself when a run it
// does not show has started (a schedule, another person, the CLI). A click on a box opens its task
// instance in the side panel, on a run's bar the run, on a group's box the group's actions; arrow
// keys move between boxes, Enter opens one, Escape closes the panel; "Find task" filters the rows.
(function () {
  "use strict";
  var table = document.getElementById("grid");
  if (!table) { return; }
  var newestPage = !/[?&]before=/.test(table.dataset.url);
  var collapsedKey = "tradewind-grid-collapsed:" + table.dataset.dagPath;
  var panel = document.getElementById("grid-details");
  var panelContent = panel ? panel.querySelector(".details-content") : null;

  function collapsedGroups() {
    var groups = [];
    table.querySelectorAll("button.group-toggle").forEach(function (button) {
      if (button.getAttribute("aria-expanded") === "false") { groups.push(button.dataset.group); }
    });
    return groups;
  }

  function saveCollapsed() {
    try { window.localStorage.setItem(collapsedKey, JSON.stringify(collapsedGroups())); } catch (e) { /* private mode */ }
  }

  function restoreCollapsed() {
    var saved;
    try { saved = JSON.parse(window.localStorage.getItem(collapsedKey) || "[]"); } catch (e) { saved = []; }
    if (!Array.isArray(saved)) { saved = []; }
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

  // --- the side panel ----------------------------------------------------------------------------

  function showPanel() { if (panel) { panel.hidden = false; } }

  function closePanel() {
    if (!panel) { return; }
    panel.hidden = true;
    panelContent.textContent = "";
    table.querySelectorAll(".box.selected, .run-bar.selected").forEach(function (el) { el.classList.remove("selected"); });
  }

  function select(element) {
    table.querySelectorAll(".box.selected, .run-bar.selected").forEach(function (el) { el.classList.remove("selected"); });
    element.classList.add("selected");
  }

  function load(url, element) {
    if (!panel) { window.location.href = url; return; }
    select(element);
    showPanel();
    panelContent.textContent = "Loading…";
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        // The panel's HTML is rendered by the server with every value escaped.
        panelContent.innerHTML = html;
        if (window.tradewindStartLog) { window.tradewindStartLog(panelContent); }
      })
      .catch(function (error) { panelContent.textContent = "Could not load the details: " + error.message; });
  }

  function withPartial(url) { return url + (url.indexOf("?") >= 0 ? "&" : "?") + "partial=1"; }

  function link(text, href) {
    var a = document.createElement("a");
    a.className = "button";
    a.href = href;
    a.textContent = text;
    return a;
  }

  function showGroup(box) {
    var row = box.closest("tr.grid-row");
    var cell = box.closest("td");
    var position = Array.prototype.indexOf.call(row.querySelectorAll("td.cell"), cell);
    var th = table.querySelectorAll("thead th.run-col")[position];
    if (!th || !panel) { return; }
    var group = row.dataset.rowId, runId = th.dataset.runId, base = table.dataset.dagPath;
    var query = "run_id=" + encodeURIComponent(runId) + "&group_id=" + encodeURIComponent(group);
    select(box);
    showPanel();
    panelContent.textContent = "";
    var heading = document.createElement("h2");
    heading.textContent = "Task group " + group + " in run " + runId;
    var state = document.createElement("p");
    var stateMatch = /state-([a-z_]+)/.exec(box.className);
    state.textContent = "State: " + (stateMatch ? stateMatch[1] : "none");
    var actions = document.createElement("div");
    actions.className = "toolbar group-actions";
    actions.appendChild(link("Clear task group", base + "/clear?" + query));
    actions.appendChild(link("Mark group success", base + "/mark?" + query + "&state=success"));
    actions.appendChild(link("Mark group failed", base + "/mark?" + query + "&state=failed"));
    panelContent.appendChild(heading);
    panelContent.appendChild(state);
    panelContent.appendChild(actions);
  }

  function open(element) {
    if (element.matches("a.box")) { load(withPartial(element.getAttribute("href")), element); }
    else if (element.matches("a.run-bar")) { load(element.dataset.detailsUrl, element); }
    else if (element.matches("span.box") && element.closest("tr.group-row")) { showGroup(element); }
  }

  if (panel) {
    panel.querySelector(".details-close").addEventListener("click", closePanel);
  }

  table.addEventListener("click", function (event) {
    var button = event.target.closest("button.group-toggle");
    if (button) {
      setOpen(button, button.getAttribute("aria-expanded") === "false");
      setHidden();
      saveCollapsed();
      return;
    }
    var target = event.target.closest("a.box, a.run-bar, tr.group-row span.box");
    if (!target || !panel || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
    event.preventDefault();
    open(target);
  });

  // --- keyboard: arrows between boxes, Enter opens, Escape closes ----------------------------------

  table.querySelectorAll("tr.group-row span.box").forEach(function (box) { box.tabIndex = 0; });

  function boxAt(row, position) {
    var cells = row.querySelectorAll("td.cell");
    var cell = cells[Math.max(0, Math.min(position, cells.length - 1))];
    return cell ? cell.querySelector(".box") : null;
  }

  table.addEventListener("keydown", function (event) {
    var box = event.target.closest(".box");
    if (!box) { return; }
    if (event.key === "Enter") { event.preventDefault(); open(box); return; }
    var row = box.closest("tr.grid-row");
    var position = Array.prototype.indexOf.call(row.querySelectorAll("td.cell"), box.closest("td"));
    var next = null;
    if (event.key === "ArrowRight") { next = boxAt(row, position + 1); }
    else if (event.key === "ArrowLeft") { next = boxAt(row, position - 1); }
    else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      var rows = Array.prototype.filter.call(table.querySelectorAll("tbody tr.grid-row"), function (r) { return !r.hidden; });
      var index = rows.indexOf(row) + (event.key === "ArrowDown" ? 1 : -1);
      if (index >= 0 && index < rows.length) { next = boxAt(rows[index], position); }
    } else { return; }
    event.preventDefault();
    if (next) { next.focus(); }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && panel && !panel.hidden) { closePanel(); }
  });

  // --- Find task --------------------------------------------------------------------------------

  var search = document.getElementById("grid-task-search");
  if (search) {
    search.addEventListener("input", function () {
      var needle = search.value.trim().toLowerCase();
      if (!needle) { setHidden(); return; }
      var keep = {};
      table.querySelectorAll("tbody tr.grid-row").forEach(function (row) {
        if (!row.classList.contains("group-row") && row.dataset.rowId.toLowerCase().indexOf(needle) >= 0) {
          keep[row.dataset.rowId] = true;
          (row.dataset.groups ? row.dataset.groups.split(" ") : []).forEach(function (g) { keep[g] = true; });
        }
      });
      table.querySelectorAll("tbody tr.grid-row").forEach(function (row) { row.hidden = !keep[row.dataset.rowId]; });
    });
  }

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
      saveCollapsed();
      window.location.reload();
      return false;
    }
    var columnOf = {};
    data.runs.forEach(function (run, index) { columnOf[run.run_id] = index; });
    // A run's bar is as tall as its duration relative to the longest shown (40 px), as the page
    // drew it; a running run's bar grows while it runs.
    var longest = Math.max.apply(null, data.runs.map(function (run) { return run.duration || 0; }).concat([0])) || 1;
    headers.forEach(function (th) {
      var index = columnOf[th.dataset.runId];
      var bar = th.querySelector(".run-bar");
      if (index !== undefined && bar) {
        var run = data.runs[index];
        recolour(bar, run.state);
        bar.style.height = Math.max(2, Math.floor(40 * (run.duration || 0) / longest)) + "px";
        var title = bar.getAttribute("title") || "";
        bar.setAttribute("title", title.replace(/State: [a-z_]+/, "State: " + run.state)
          .replace(/Duration: .*/, "Duration: " + (run.duration === null ? "-" : run.duration.toFixed(1) + "s")));
      }
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
