// The graph view. The page carries the DAG as JSON (#graph-data: tasks, the task-group tree,
// edges, one run's states); this script lays it out with ELK's layered algorithm (vendor/elk,
// hierarchy handled, so a group's box encloses exactly its tasks) and draws it as SVG.
//
// A person can open and close a group by clicking its header (what they chose is kept per DAG in
// localStorage; a group bigger than the document's collapse_above starts closed), zoom with the
// wheel, pan by dragging, fit the graph to the frame, and find a task by id or label: its groups
// open and it is centred and outlined. Edges into a closed group end at the group.
// While the run is queued or running, the task states are polled every 3 s and the nodes
// recoloured in place.
(function () {
  "use strict";
  var svg = document.getElementById("graph");
  var source = document.getElementById("graph-data");
  if (!svg || !source || typeof ELK === "undefined") { return; }
  var doc = JSON.parse(source.textContent);
  var SVG_NS = "http://www.w3.org/2000/svg";
  var NODE = { width: 180, height: 36 };
  var CLOSED = { width: 190, height: 48 };
  var HEADER = 30;
  var CHAR = 7.2;
  var elk = new ELK();
  var viewport = svg.querySelector("g.viewport");
  var status = document.getElementById("graph-status");
  var storageKey = "tradewind.graph.groups." + doc.dag_id;
  var choices = loadChoices();
  var groups = {};
  var ancestors = {};
  var view = { x: 0, y: 0, k: 1 };
  var drawn = { width: 0, height: 0, boxes: {} };
  var layouts = 0;

  (function index(children, path) {
    children.forEach(function (child) {
      if (child.task !== undefined) {
        ancestors[child.task] = path;
      } else {
        groups[child.group] = child;
        index(child.children, path.concat([child.group]));
      }
    });
  })(doc.root, []);

  // --- which groups are open ----------------------------------------------------------------

  function loadChoices() {
    try {
      var stored = JSON.parse(window.localStorage.getItem(storageKey) || "{}");
      return stored && typeof stored === "object" ? stored : {};
    } catch (error) {
      return {};
    }
  }

  function saveChoices() {
    try { window.localStorage.setItem(storageKey, JSON.stringify(choices)); } catch (error) { /* private mode */ }
  }

  function isOpen(groupId) {
    var choice = choices[groupId];
    return choice ? choice === "open" : groups[groupId].size <= doc.collapse_above;
  }

  /** The node a task is drawn as: itself, or the outermost closed group holding it. */
  function shownAs(taskId) {
    var path = ancestors[taskId] || [];
    for (var i = 0; i < path.length; i += 1) {
      if (!isOpen(path[i])) { return "g:" + path[i]; }
    }
    return "t:" + taskId;
  }

  // --- layout -------------------------------------------------------------------------------

  function elkChildren(children) {
    return children.map(function (child) {
      if (child.task !== undefined) {
        return { id: "t:" + child.task, width: NODE.width, height: NODE.height };
      }
      if (!isOpen(child.group)) {
        return { id: "g:" + child.group, width: CLOSED.width, height: CLOSED.height };
      }
      return {
        id: "g:" + child.group,
        layoutOptions: { "elk.padding": "[top=" + (HEADER + 8) + ",left=14,bottom=14,right=14]" },
        children: elkChildren(child.children),
      };
    });
  }

  function elkEdges() {
    var seen = {};
    var edges = [];
    doc.edges.forEach(function (edge) {
      var from = shownAs(edge[0]);
      var to = shownAs(edge[1]);
      var key = from + "\u0000" + to;
      if (from === to || seen[key]) { return; }
      seen[key] = true;
      var dashed = edge[2] === "setup_teardown" && from === "t:" + edge[0] && to === "t:" + edge[1];
      edges.push({ id: "e" + edges.length, sources: [from], targets: [to], dashed: dashed });
    });
    return edges;
  }

  function layout(edges) {
    var children = elkChildren(doc.root);
    var graph = {
      id: "root",
      layoutOptions: {
        "elk.algorithm": "layered",
        "elk.direction": "RIGHT",
        "elk.hierarchyHandling": "INCLUDE_CHILDREN",
        "elk.json.shapeCoords": "ROOT",
        "elk.json.edgeCoords": "ROOT",
        "elk.layered.spacing.nodeNodeBetweenLayers": "48",
        "elk.spacing.nodeNode": "18",
        "elk.layered.spacing.edgeNodeBetweenLayers": "14",
        "elk.padding": "[top=20,left=20,bottom=20,right=20]",
      },
      children: children,
      edges: edges,
    };
    return elk.layout(graph);
  }

  // --- drawing ------------------------------------------------------------------------------

  function el(name, attributes, parent) {
    var node = document.createElementNS(SVG_NS, name);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  var toMeasure = [];

  /** Write ``prefix + text`` into ``node``, cut with an ellipsis to ``width`` px: estimated here,
   * measured once the drawing is in the page (``measureLabels``) when the estimate is close. */
  function label(node, prefix, text, width) {
    var room = width - prefix.length * CHAR;
    var fits = Math.max(3, Math.floor(room / CHAR));
    node.textContent = prefix + (text.length > fits ? text.slice(0, fits - 1) + "\u2026" : text);
    if (text.length * CHAR > room * 0.7) { toMeasure.push([node, prefix, text, width]); }
  }

  function measureLabels() {
    toMeasure.forEach(function (item) {
      var node = item[0];
      var cut = item[2].length;
      node.textContent = item[1] + item[2];
      while (cut > 1 && node.getComputedTextLength() > item[3]) {
        cut -= 1;
        node.textContent = item[1] + item[2].slice(0, cut) + "\u2026";
      }
    });
    toMeasure = [];
  }

  function stateText(state) { return "var(--state-" + state + "-text)"; }

  function drawTask(taskId, box, layer) {
    var task = doc.tasks[taskId];
    var parent = layer;
    if (task.url) { parent = el("a", { href: task.url }, layer); }
    var group = el("g", { "class": "node-group" + (task.role ? " " + task.role : ""), "data-task-id": taskId }, parent);
    if (task.role) { group.setAttribute("data-role", task.role); }
    var title = el("title", {}, group);
    title.textContent = taskId + " (" + task.operator + (task.role ? ", " + task.role : "") + "): " + task.state +
      (task.mapped ? ", mapped " + task.mapped : "");
    el("rect", {
      "class": "node state-" + task.state, x: box.x, y: box.y, width: box.width, height: box.height, rx: 4, ry: 4,
      fill: "var(--state-" + task.state + ")", stroke: "var(--state-" + task.state + "-border)", "stroke-width": 1.5,
    }, group);
    var mark = task.role === "setup" ? "\u25b2 " : task.role === "teardown" ? "\u25bc " : "";
    var room = box.width - 16 - (task.mapped ? 34 : 0);
    var text = el("text", { "class": "node-label", x: box.x + 8, y: box.y + 22, "font-size": 12, fill: stateText(task.state) }, group);
    label(text, mark, task.label, room);
    if (task.mapped) {
      var count = el("text", {
        "class": "mapped-count", x: box.x + box.width - 6, y: box.y + 22, "font-size": 11, "text-anchor": "end",
        fill: stateText(task.state),
      }, group);
      count.textContent = task.mapped;
    }
  }

  function drawGroup(groupId, box, open, layer) {
    var info = groups[groupId];
    var group = el("g", { "class": "task-group" + (open ? "" : " collapsed"), "data-group": groupId }, layer);
    var title = el("title", {}, group);
    title.textContent = groupId + " (" + info.size + " task" + (info.size === 1 ? "" : "s") + ")" +
      (info.tooltip ? ": " + info.tooltip : "");
    el("rect", {
      "class": "group-box", x: box.x, y: box.y, width: box.width, height: box.height, rx: 8, ry: 8,
    }, group);
    var header = el("g", { "class": "group-header", role: "button", tabindex: "0",
      "aria-label": (open ? "Collapse " : "Expand ") + groupId, "aria-expanded": open ? "true" : "false" }, group);
    el("rect", { "class": "group-hit", x: box.x, y: box.y, width: box.width, height: open ? HEADER : box.height }, header);
    var text = el("text", { "class": "group-label", x: box.x + 10, y: box.y + 19, "font-size": 12 }, header);
    label(text, open ? "\u25be " : "\u25b8 ", info.label, box.width - 20);
    if (!open) {
      var count = el("text", { "class": "group-count", x: box.x + 10, y: box.y + 38, "font-size": 11 }, header);
      count.textContent = info.size + " task" + (info.size === 1 ? "" : "s");
      stateBar(group, groupId, box);
    }
  }

  function tasksOf(groupId) {
    return Object.keys(doc.tasks).filter(function (taskId) { return (ancestors[taskId] || []).indexOf(groupId) >= 0; });
  }

  /** Along a closed group's foot, a bar split by its tasks' states (as many tasks, as much width). */
  function stateBar(group, groupId, box) {
    var old = group.querySelector("g.state-bar");
    if (old) { old.parentNode.removeChild(old); }
    var counts = {};
    var order = [];
    tasksOf(groupId).forEach(function (taskId) {
      var state = doc.tasks[taskId].state;
      if (!counts[state]) { counts[state] = 0; order.push(state); }
      counts[state] += 1;
    });
    var bar = el("g", { "class": "state-bar" }, group);
    var total = groups[groupId].size || 1;
    var x = box.x + 8;
    var width = box.width - 16;
    order.forEach(function (state) {
      var part = width * counts[state] / total;
      var piece = el("rect", { "class": "state-" + state, x: x, y: box.y + box.height - 7, width: part, height: 4,
        fill: "var(--state-" + state + ")", stroke: "var(--state-" + state + "-border)", "stroke-width": 0.5 }, bar);
      el("title", {}, piece).textContent = state + ": " + counts[state];
      x += part;
    });
  }

  function pathOf(edge) {
    var points = [];
    (edge.sections || []).forEach(function (section) {
      points.push(section.startPoint);
      (section.bendPoints || []).forEach(function (point) { points.push(point); });
      points.push(section.endPoint);
    });
    return points.map(function (p, i) { return (i ? "L" : "M") + p.x.toFixed(1) + " " + p.y.toFixed(1); }).join(" ");
  }

  function draw(result, edges) {
    var groupLayer = el("g", { "class": "groups" });
    var edgeLayer = el("g", { "class": "edges" });
    var nodeLayer = el("g", { "class": "nodes" });
    var boxes = {};
    (function walk(children) {
      (children || []).forEach(function (child) {
        var box = { x: child.x, y: child.y, width: child.width, height: child.height };
        boxes[child.id] = box;
        var id = child.id.slice(2);
        if (child.id.charAt(0) === "t") {
          drawTask(id, box, nodeLayer);
        } else {
          var open = isOpen(id);
          drawGroup(id, box, open, open ? groupLayer : nodeLayer);
          walk(child.children);
        }
      });
    })(result.children);
    var dashed = {};
    edges.forEach(function (edge) { dashed[edge.id] = edge.dashed; });
    (result.edges || []).forEach(function (edge) {
      el("path", {
        "class": "edge" + (dashed[edge.id] ? " setup-teardown" : ""), d: pathOf(edge), fill: "none",
        "data-source": edge.sources[0], "data-target": edge.targets[0], "marker-end": "url(#arrow)",
      }, edgeLayer);
    });
    while (viewport.firstChild) { viewport.removeChild(viewport.firstChild); }
    viewport.appendChild(groupLayer);
    viewport.appendChild(edgeLayer);
    viewport.appendChild(nodeLayer);
    measureLabels();
    drawn = { width: result.width, height: result.height, boxes: boxes };
  }

  var requested = 0;

  /** Lay out and draw what is open now; a layout overtaken by a newer request is dropped. */
  function render() {
    var edges = elkEdges();
    var count = Object.keys(doc.tasks).length;
    var request = requested += 1;
    svg.setAttribute("data-layout", "pending");
    if (status) { status.textContent = "Laying out " + count + " task" + (count === 1 ? "" : "s") + "\u2026"; }
    return layout(edges).then(function (result) {
      if (request !== requested) { return; }
      draw(result, edges);
      layouts += 1;
      svg.setAttribute("data-layout", "done");
      svg.setAttribute("data-layouts", String(layouts));
      if (layouts === 1) { svg.setAttribute("data-drawn-ms", String(Math.round(window.performance.now()))); }
      if (status) { status.textContent = ""; }
    }, function (error) {
      if (request !== requested) { return; }
      svg.setAttribute("data-layout", "failed");
      if (status) { status.textContent = "The graph could not be laid out: " + error; }
    });
  }

  // --- zoom, pan, fit -----------------------------------------------------------------------

  function applyView() {
    viewport.setAttribute("transform", "translate(" + view.x.toFixed(1) + " " + view.y.toFixed(1) + ") scale(" + view.k.toFixed(4) + ")");
  }

  /** The frame as tall as the graph needs, within the window (a short DAG leaves no empty band). */
  function sizeFrame() {
    var top = svg.getBoundingClientRect().top + window.scrollY;
    var room = Math.max(200, window.innerHeight - top - 24);
    svg.style.height = Math.round(Math.max(200, Math.min(room, drawn.height + 24))) + "px";
  }

  function frame() { return { width: svg.clientWidth || 800, height: svg.clientHeight || 500 }; }

  function fit() {
    var size = frame();
    if (!drawn.width || !drawn.height) { return; }
    sizeFrame();
    size = frame();
    view.k = Math.min(size.width / drawn.width, size.height / drawn.height, 1);
    view.x = (size.width - drawn.width * view.k) / 2;
    view.y = (size.height - drawn.height * view.k) / 2;
    applyView();
  }

  function centreOn(box) {
    var size = frame();
    view.k = Math.max(view.k, 1);
    view.x = size.width / 2 - (box.x + box.width / 2) * view.k;
    view.y = size.height / 2 - (box.y + box.height / 2) * view.k;
    applyView();
  }

  svg.addEventListener("wheel", function (event) {
    event.preventDefault();
    var rect = svg.getBoundingClientRect();
    var mx = event.clientX - rect.left;
    var my = event.clientY - rect.top;
    var k = Math.min(4, Math.max(0.03, view.k * Math.exp(-event.deltaY * 0.0015)));
    view.x = mx - (mx - view.x) * (k / view.k);
    view.y = my - (my - view.y) * (k / view.k);
    view.k = k;
    applyView();
  }, { passive: false });

  var drag = null;
  var dragged = false;
  svg.addEventListener("pointerdown", function (event) {
    if (event.button !== 0) { return; }
    drag = { x: event.clientX, y: event.clientY, vx: view.x, vy: view.y };
    dragged = false;
  });
  window.addEventListener("pointermove", function (event) {
    if (!drag) { return; }
    var dx = event.clientX - drag.x;
    var dy = event.clientY - drag.y;
    if (!dragged && Math.abs(dx) + Math.abs(dy) < 4) { return; }
    dragged = true;
    svg.classList.add("panning");
    view.x = drag.vx + dx;
    view.y = drag.vy + dy;
    applyView();
  });
  window.addEventListener("pointerup", function () {
    drag = null;
    svg.classList.remove("panning");
  });
  // A drag that ends over a node is a pan, not a click on it.
  svg.addEventListener("click", function (event) {
    if (dragged) {
      event.preventDefault();
      event.stopPropagation();
      dragged = false;
    }
  }, true);

  // --- opening and closing groups -----------------------------------------------------------

  /** Lay out again, keeping the box of ``anchorId`` (if still drawn) where it was on screen. */
  function relayout(anchorId) {
    var before = anchorId && drawn.boxes[anchorId];
    return render().then(function () {
      var after = anchorId && drawn.boxes[anchorId];
      if (before && after) {
        sizeFrame();
        view.x += (before.x - after.x) * view.k;
        view.y += (before.y - after.y) * view.k;
        applyView();
      } else {
        fit();
      }
    });
  }

  function toggle(groupId) {
    choices[groupId] = isOpen(groupId) ? "closed" : "open";
    saveChoices();
    relayout("g:" + groupId);
  }

  svg.addEventListener("click", function (event) {
    var header = event.target.closest && event.target.closest("g.group-header");
    if (!header) { return; }
    toggle(header.parentNode.getAttribute("data-group"));
  });
  svg.addEventListener("keydown", function (event) {
    var header = event.target.closest && event.target.closest("g.group-header");
    if (header && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      toggle(header.parentNode.getAttribute("data-group"));
    }
  });

  function setAll(choice) {
    Object.keys(groups).forEach(function (groupId) { choices[groupId] = choice; });
    saveChoices();
    return relayout(null);
  }

  // --- finding a task -----------------------------------------------------------------------

  function findTask(query) {
    var wanted = query.trim().toLowerCase();
    if (!wanted) { return null; }
    var ids = Object.keys(doc.tasks);
    var exact = ids.filter(function (id) { return id.toLowerCase() === wanted || doc.tasks[id].label.toLowerCase() === wanted; });
    if (exact.length) { return exact[0]; }
    var partial = ids.filter(function (id) { return id.toLowerCase().indexOf(wanted) >= 0 || doc.tasks[id].label.toLowerCase().indexOf(wanted) >= 0; });
    return partial.length ? partial[0] : null;
  }

  function reveal(taskId) {
    var closed = (ancestors[taskId] || []).filter(function (groupId) { return !isOpen(groupId); });
    closed.forEach(function (groupId) { choices[groupId] = "open"; });
    var ready = closed.length ? (saveChoices(), render()) : Promise.resolve();
    return ready.then(function () {
      svg.querySelectorAll("g.node-group.found").forEach(function (node) { node.classList.remove("found"); });
      var node = svg.querySelector('g.node-group[data-task-id="' + CSS.escape(taskId) + '"]');
      if (node) { node.classList.add("found"); }
      centreOn(drawn.boxes["t:" + taskId]);
    });
  }

  var search = document.getElementById("graph-search");
  if (search) {
    search.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = search.querySelector("input");
      var message = search.querySelector(".search-message");
      var taskId = findTask(input.value);
      message.textContent = taskId ? "" : "No task matches \u201c" + input.value + "\u201d.";
      if (taskId) { reveal(taskId); }
    });
  }
  function on(id, handler) {
    var button = document.getElementById(id);
    if (button) { button.addEventListener("click", handler); }
  }
  on("graph-fit", fit);
  on("graph-expand-all", function () { setAll("open"); });
  on("graph-collapse-all", function () { setAll("closed"); });

  // --- live states --------------------------------------------------------------------------

  function recolour(node, state) {
    var rect = node.querySelector("rect.node");
    if (!rect) { return; }
    rect.setAttribute("class", "node state-" + state);
    rect.setAttribute("fill", "var(--state-" + state + ")");
    rect.setAttribute("stroke", "var(--state-" + state + "-border)");
    node.querySelectorAll("text").forEach(function (text) { text.setAttribute("fill", stateText(state)); });
  }

  function apply(data) {
    Object.keys(data.tasks).forEach(function (taskId) {
      if (doc.tasks[taskId]) { doc.tasks[taskId].state = data.tasks[taskId]; }
    });
    Object.keys(data.mapped || {}).forEach(function (taskId) {
      if (doc.tasks[taskId]) { doc.tasks[taskId].mapped = "[" + data.mapped[taskId] + "]"; }
    });
    svg.querySelectorAll("g.node-group").forEach(function (node) {
      var task = doc.tasks[node.getAttribute("data-task-id")];
      if (!task) { return; }
      recolour(node, task.state);
      var count = node.querySelector("text.mapped-count");
      if (count && task.mapped) { count.textContent = task.mapped; }
    });
    svg.querySelectorAll("g.task-group.collapsed").forEach(function (group) {
      var groupId = group.getAttribute("data-group");
      stateBar(group, groupId, drawn.boxes["g:" + groupId]);
    });
    svg.setAttribute("data-active", data.active ? "true" : "false");
  }

  function poll() {
    if (svg.getAttribute("data-active") !== "true") { return; }
    fetch(svg.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { apply(data); } })
      .catch(function () {})
      .then(function () { if (svg.getAttribute("data-active") === "true") { window.setTimeout(poll, 3000); } });
  }

  render().then(fit);
  if (svg.getAttribute("data-url")) { window.setTimeout(poll, 3000); }
})();
