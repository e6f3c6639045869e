// The DAG Dependencies graph: a box per DAG (a link to its grid when it is loaded), an arrow per
// dependency from the DAG waited on or triggering to the one that depends on it, laid out left to
// right by ELK's layered algorithm (vendor/elk), as Airflow draws this view.
(function () {
  "use strict";
  var svg = document.getElementById("dependencies-graph");
  var source = document.getElementById("dependencies-data");
  if (!svg || !source || typeof ELK === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var SVG_NS = "http://www.w3.org/2000/svg";
  var CHAR = 7.2, HEIGHT = 34;

  function el(name, attributes, parent) {
    var node = document.createElementNS(SVG_NS, name);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  var graph = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.layered.spacing.nodeNodeBetweenLayers": "60",
      "elk.spacing.nodeNode": "20",
      "elk.padding": "[top=16,left=16,bottom=16,right=16]",
    },
    children: data.nodes.map(function (node) {
      return { id: node.id, width: Math.max(90, node.id.length * CHAR + 24), height: HEIGHT };
    }),
    edges: data.edges.map(function (edge, index) {
      return { id: "e" + index, sources: [edge.source], targets: [edge.target], kind: edge.kind };
    }),
  };

  new ELK().layout(graph).then(function (result) {
    svg.setAttribute("viewBox", "0 0 " + result.width + " " + result.height);
    svg.setAttribute("width", String(result.width));
    svg.setAttribute("height", String(result.height));
    var defs = el("defs", {}, svg);
    var marker = el("marker", { id: "dep-arrow", viewBox: "0 0 10 10", refX: "10", refY: "5",
                                 markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, defs);
    el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "edge-head" }, marker);
    var kinds = {};
    graph.edges.forEach(function (edge) { kinds[edge.id] = edge.kind; });
    (result.edges || []).forEach(function (edge) {
      var points = [];
      (edge.sections || []).forEach(function (section) {
        points.push(section.startPoint);
        (section.bendPoints || []).forEach(function (point) { points.push(point); });
        points.push(section.endPoint);
      });
      var d = points.map(function (p, i) { return (i ? "L" : "M") + p.x.toFixed(1) + " " + p.y.toFixed(1); }).join(" ");
      var path = el("path", { d: d, class: "dependency-edge kind-" + kinds[edge.id], "marker-end": "url(#dep-arrow)" }, svg);
      el("title", {}, path).textContent = kinds[edge.id];
    });
    var byId = {};
    data.nodes.forEach(function (node) { byId[node.id] = node; });
    (result.children || []).forEach(function (box) {
      var node = byId[box.id];
      var parent = node.url ? el("a", { href: node.url }, svg) : svg;
      var group = el("g", { class: "dependency-node" + (node.loaded ? "" : " not-loaded"), "data-dag-id": node.id,
                            transform: "translate(" + box.x + "," + box.y + ")" }, parent);
      el("rect", { width: box.width, height: box.height, rx: "4" }, group);
      var text = el("text", { x: "12", y: String(HEIGHT / 2 + 4) }, group);
      text.textContent = node.id;
      el("title", {}, group).textContent = node.loaded ? node.id : node.id + " (not loaded)";
    });
    svg.setAttribute("data-layout", "done");
  }, function (error) {
    svg.setAttribute("data-layout", "failed");
    svg.insertAdjacentText("afterend", "Could not lay out the graph: " + error);
  });
})();
