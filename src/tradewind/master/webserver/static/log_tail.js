// The task-instance panel: while the shown try runs, fetch the log chunks after the last one
// shown every 3 s and append them as text (never as markup).
(function () {
  "use strict";
  var pre = document.getElementById("log");
  if (!pre || pre.dataset.tailing !== "true") { return; }

  function poll() {
    var url = pre.dataset.tailUrl + "&after_seq=" + encodeURIComponent(pre.dataset.afterSeq);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        if (data.text) {
          var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
          pre.appendChild(document.createTextNode(data.text));
          if (atBottom) { pre.scrollTop = pre.scrollHeight; }
        }
        pre.dataset.afterSeq = String(data.last_seq);
        pre.dataset.tailing = data.running ? "true" : "false";
      })
      .catch(function () {})
      .then(function () { if (pre.dataset.tailing === "true") { window.setTimeout(poll, 3000); } });
  }
  window.setTimeout(poll, 3000);
})();
