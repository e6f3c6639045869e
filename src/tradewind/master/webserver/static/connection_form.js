// The connection form follows the chosen type, as Airflow's does: fields the type's hook hides are
// hidden, relabelled ones take the hook's label, and placeholders show what goes in them.
(function () {
  "use strict";
  var form = document.querySelector("form.connection-form");
  var source = document.getElementById("connection-behaviours");
  if (!form || !source) return;
  var behaviours = JSON.parse(source.textContent);
  var select = form.querySelector('select[name="conn_type"]');
  var defaults = {};
  form.querySelectorAll("label[data-field] .field-label").forEach(function (span) {
    defaults[span.parentNode.getAttribute("data-field")] = span.textContent;
  });
  function apply() {
    var b = behaviours[select.value] || {};
    var hidden = b.hidden_fields || [], labels = b.relabeling || {}, holders = b.placeholders || {};
    form.querySelectorAll("label[data-field]").forEach(function (label) {
      var name = label.getAttribute("data-field");
      var span = label.querySelector(".field-label");
      label.hidden = hidden.indexOf(name) >= 0;
      if (span) span.textContent = labels[name] || defaults[name];
      var input = label.querySelector("input, textarea");
      if (input && name !== "conn_id") input.placeholder = holders[name] || "";
    });
  }
  select.addEventListener("change", apply);
  apply();
})();
