// The little the pages need beyond HTML (no framework, no inline script):
// a banner when newer events exist, "Poll now" that answers at once and shows the result
// when it lands, a confirmation before removing, and form errors scrolled into view.
(function () {
  "use strict";

  function newEventsBanner() {
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
  }

  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
      });
    });
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function say(row, text, bad) {
    var cell = row.querySelector("[data-outcome]");
    if (!cell) { return; }
    cell.textContent = text;
    cell.classList.toggle("bad", Boolean(bad));
    cell.setAttribute("role", "status");
  }

  // Ask for the poll (202 at once), then read the source until its last outcome is one
  // that started after the request.
  function pollNow() {
    document.querySelectorAll("form[data-poll-now]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var row = form.closest("tr");
        var button = form.querySelector("button");
        var id = row.dataset.sourceId;
        button.disabled = true;
        say(row, "Polling…");
        fetch(form.action, { method: "POST", body: new FormData(form), headers: { "Accept": "application/json" } })
          .then(function (response) {
            if (!response.ok) { throw new Error("the poll was refused (HTTP " + response.status + ")"); }
            return response.json();
          })
          .then(function (asked) { return waitFor(id, new Date(asked.requested_at)); })
          .then(function (source) { show(row, source); })
          .catch(function (error) { say(row, String(error.message || error), true); })
          .then(function () { button.disabled = false; });
      });
    });
  }

  function waitFor(id, requested) {
    var deadline = Date.now() + 5 * 60 * 1000;
    return new Promise(function (resolve, reject) {
      function look() {
        fetch("/api/sources/" + id, { headers: { "Accept": "application/json" } })
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (source) {
            var outcome = source && source.last_outcome;
            if (outcome && outcome.started_at && new Date(outcome.started_at) >= requested) {
              resolve(source);
            } else if (Date.now() > deadline) {
              reject(new Error("no result yet: it shows here after the poll ends"));
            } else {
              window.setTimeout(look, 700);
            }
          })
          .catch(function () { window.setTimeout(look, 2000); });
      }
      look();
    });
  }

  function show(row, source) {
    var outcome = source.last_outcome;
    var health = row.querySelector("[data-health]");
    if (outcome.ok) {
      say(row, "Polled just now: " + plural(outcome.events || 0, "new event"));
      if (health) { health.innerHTML = ""; health.appendChild(badge("ok", "ok")); }
    } else if (outcome.deferred) {
      say(row, "Deferred: " + (outcome.error || "rate limited"));
    } else {
      say(row, "Failed: " + (outcome.error || "unknown error"), true);
      if (health) { health.innerHTML = ""; health.appendChild(badge("failing", "failing")); }
    }
  }

  function badge(kind, text) {
    var span = document.createElement("span");
    span.className = "badge " + kind;
    span.textContent = text;
    return span;
  }

  function scrollErrors() {
    var error = document.querySelector("[data-scroll-into-view]");
    if (!error) { return; }
    error.scrollIntoView({ block: "center" });
    var field = document.querySelector("[aria-invalid=true]");
    if (field) { field.focus({ preventScroll: true }); }
  }

  newEventsBanner();
  confirmations();
  pollNow();
  scrollErrors();
})();
