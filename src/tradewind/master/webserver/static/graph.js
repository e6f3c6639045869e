// The graph view: while its run is queued or running, poll the run's task states every 3 s and
// recolour the nodes in place (no reload needed to see a task go green).
(function () {
  "use strict";
  var svg = document.getElementById("graph");
  if (!svg || !svg.dataset.url) { return; }

  function recolour(group, state) {
    var rect = group.querySelector("rect.node");
    if (!rect) { return; }
    rect.setAttribute("class", rect.getAttribute("class").replace(/\bstate-[a-z_]+/g, "").trim() + " state-" + state);
    rect.setAttribute("fill", "var(--state-" + state + ")");
    rect.setAttribute("stroke", "var(--state-" + state + "-border)");
    group.querySelectorAll("text").forEach(function (text) {
      text.setAttribute("fill", "var(--state-" + state + "-text)");
    });
  }

  function apply(data) {
    svg.querySelectorAll("g.node-group").forEach(function (group) {
      var state = data.tasks[group.dataset.taskId];
      if (state) { recolour(group, state); }
      var count = group.querySelector("text.mapped-count");
      var mapped = data.mapped && data.mapped[group.dataset.taskId];
      if (count && mapped) { count.textContent = "[" + mapped + "]"; }
    });
    svg.dataset.active = data.active ? "true" : "false";
  }

  function poll() {
    if (svg.dataset.active !== "true") { return; }
    fetch(svg.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { apply(data); } })
      .catch(function () {})
      .then(function () { if (svg.dataset.active === "true") { window.setTimeout(poll, 3000); } });
  }
  window.setTimeout(poll, 3000);
})();
