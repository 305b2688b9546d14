// Tells the reader of the event log when newer events exist (light polling, no framework).
(function () {
  "use strict";
  var latest = Number(document.body.dataset.latestEvent || 0);
  var banner = document.getElementById("new-events");
  if (!latest || !banner) { return; }
  function check() {
    fetch("/api/events?limit=1", { headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (page) {
        if (page && page.events.length && page.events[0].id > latest) {
          banner.hidden = false;
          banner.querySelector("a").setAttribute("href", window.location.pathname + window.location.search);
        }
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }
  window.setInterval(check, 15000);
})();
