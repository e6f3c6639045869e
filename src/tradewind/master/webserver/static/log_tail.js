// The task-instance panel's log: it opens on the log's last page, scrolled to the end. "Load
// earlier output" fetches the page before the first one shown; while the shown try runs, the
// chunks after the last one shown are fetched every 3 s and appended. All of it as text, never
// as markup. The grid's side panel starts the same for the panel it loads. A page left open on a try that prints without end keeps only the newest 1 MiB of
// what it appended, so the browser stays fast.
(function () {
  "use strict";

  // Starts the log under ``root`` (the page, or the grid's side panel once it has loaded one).
  function startLog(root) {
  var pre = root.querySelector("#log");
  if (!pre) { return; }
  var LIVE_LIMIT = 1024 * 1024;
  var live = [];
  var liveChars = 0;
  var hiddenNote = null;
  pre.scrollTop = pre.scrollHeight;

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; });
  }

  var earlier = root.querySelector("#log-earlier");
  if (earlier) {
    earlier.addEventListener("click", function () {
      earlier.disabled = true;
      var url = earlier.dataset.pageUrl + "&before_seq=" + encodeURIComponent(earlier.dataset.beforeSeq) +
        "&before_offset=" + encodeURIComponent(earlier.dataset.beforeOffset);
      getJson(url)
        .then(function (data) {
          if (!data) { return; }
          var fromBottom = pre.scrollHeight - pre.scrollTop;
          pre.insertBefore(document.createTextNode(data.text), pre.firstChild);
          pre.scrollTop = pre.scrollHeight - fromBottom;
          earlier.dataset.beforeSeq = String(data.start_seq);
          earlier.dataset.beforeOffset = String(data.start_offset);
          if (data.at_start) { earlier.parentNode.remove(); }
        })
        .catch(function () {})
        .then(function () { earlier.disabled = false; });
    });
  }

  function append(text) {
    var node = document.createTextNode(text);
    pre.appendChild(node);
    live.push(node);
    liveChars += text.length;
    if (liveChars <= LIVE_LIMIT) { return; }
    if (!hiddenNote) {
      hiddenNote = document.createTextNode(
        "[… older output hidden here to keep this page fast; reload the page or open Plain text …]\n");
      pre.insertBefore(hiddenNote, live[0]);
    }
    while (liveChars > LIVE_LIMIT && live.length > 1) {
      var oldest = live.shift();
      liveChars -= oldest.data.length;
      oldest.remove();
    }
  }

  function poll() {
    getJson(pre.dataset.tailUrl + "&after_seq=" + encodeURIComponent(pre.dataset.afterSeq))
      .then(function (data) {
        if (!data) { return; }
        if (data.text) {
          var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
          if (data.skipped) {
            append("[… output not shown here: cut by the log's size limit, or too much to show at once …]\n");
          }
          append(data.text);
          if (atBottom) { pre.scrollTop = pre.scrollHeight; }
        }
        pre.dataset.afterSeq = String(data.last_seq);
        pre.dataset.tailing = data.running ? "true" : "false";
        // The heading's state badge follows the task instance (it was stale until a reload).
        var badge = root.querySelector(".ti-heading .state-badge");
        if (badge && data.state && badge.textContent !== data.state) {
          badge.textContent = data.state;
          badge.className = "state-badge state-" + data.state;
        }
      })
      .catch(function () {})
      .then(function () {
        // A panel closed or replaced stops polling: its log is no longer in the page.
        if (pre.dataset.tailing === "true" && document.body.contains(pre)) { window.setTimeout(poll, 3000); }
      });
  }
  if (pre.dataset.tailing === "true") { window.setTimeout(poll, 3000); }
  }

  window.tradewindStartLog = startLog;
  startLog(document);
})();
