// Keeps the part of the page marked data-live-url fresh: every 3 s the server renders it again
// and it is swapped in place (no full reload). A job's page stops once the job has finished.
(function () {
  "use strict";
  var live = document.querySelector("[data-live-url]");
  if (!live) { return; }
  var INTERVAL_MS = 3000;
  function finished() { return live.querySelector("[data-finished]") !== null; }
  function schedule() { window.setTimeout(refresh, INTERVAL_MS); }
  function refresh() {
    if (document.hidden) { schedule(); return; }
    fetch(live.getAttribute("data-live-url"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.status === 401) { window.location.assign("/ui/login"); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) { live.innerHTML = html; }
        if (!(live.hasAttribute("data-stop-when-finished") && finished())) { schedule(); }
      })
      .catch(schedule);
  }
  if (!(live.hasAttribute("data-stop-when-finished") && finished())) { schedule(); }
})();
