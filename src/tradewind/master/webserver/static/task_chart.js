// Draws the Task Duration / Task Tries / Landing Times chart from the JSON the page carries, with
// uPlot (vendored under static/vendor/uplot): one line per task, runs along the x axis by logical date.
(function () {
  "use strict";
  var holder = document.getElementById("task-chart");
  var source = document.getElementById("task-chart-data");
  if (!holder || !source || typeof uPlot === "undefined") return;
  var chart = JSON.parse(source.textContent);
  var palette = ["#017cee", "#e43921", "#00a65a", "#f0ad4e", "#8e44ad", "#16a085", "#d35400", "#2c3e50",
                 "#c0392b", "#27ae60", "#2980b9", "#7f8c8d"];
  var series = [{ label: "logical date" }];
  var data = [chart.x];
  chart.series.forEach(function (s, i) {
    series.push({ label: s.label, stroke: palette[i % palette.length], width: 1.5, spanGaps: false,
                  points: { show: chart.x.length < 60 } });
    data.push(s.values);
  });
  function size() { return { width: Math.max(320, holder.clientWidth - 8), height: 360 }; }
  var opts = Object.assign(size(), {
    title: chart.title,
    series: series,
    axes: [{}, { label: chart.unit }],
    legend: { live: true },
  });
  var plot = new uPlot(opts, data, holder);
  holder.setAttribute("data-drawn", String(chart.series.length));
  window.addEventListener("resize", function () { plot.setSize(size()); });
})();
