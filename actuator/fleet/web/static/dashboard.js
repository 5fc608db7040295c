// Live updates for the fleet dashboard, in plain JavaScript.
//
// Every few seconds the page asks /fleet/live for a stamp that changes with the
// fleet (a few bytes). When it changed, the page fetches itself again and swaps
// in the parts marked data-live (counts, tables, history): the browser never
// receives more than one page, never the fleet. Parts marked data-fragment are
// the instance's own answers, loaded through the console after the page.
// Pages marked data-refresh (an action in progress) reload their parts on a timer.
(function () {
  "use strict";
  var body = document.body;
  var base = body.dataset.base;
  var poll = Math.max(200, parseFloat(body.dataset.poll || "5") * 1000);
  var status = document.getElementById("live-status");

  function say(text) {
    if (status) status.textContent = text;
  }

  function loadFragments() {
    document.querySelectorAll("[data-fragment]").forEach(function (el) {
      fetch(el.dataset.fragment, { credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (html) { el.innerHTML = html; el.setAttribute("data-loaded", "true"); })
        .catch(function () { el.innerHTML = '<p class="alert">Could not reach the console.</p>'; });
    });
  }

  function busy(el) {
    // Never replace what the user is typing into or has focused.
    var active = document.activeElement;
    return active && active !== body && el.contains(active) && active.matches("input, select, textarea");
  }

  function refresh() {
    return fetch(location.href, { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (el) {
          var next = el.id && fresh.getElementById(el.id);
          if (next && !busy(el)) el.replaceWith(document.importNode(next, true));
        });
        if (fresh.body.dataset.stamp) body.dataset.stamp = fresh.body.dataset.stamp;
        if (fresh.body.dataset.done) {
          body.dataset.done = fresh.body.dataset.done;
          delete body.dataset.refresh;
        }
        say("Updated " + new Date().toLocaleTimeString());
      });
  }

  function tick() {
    var work;
    if (body.dataset.refresh) {
      work = refresh();
    } else if (body.dataset.stamp) {
      work = fetch(base + "/live", { credentials: "same-origin" })
        .then(function (r) {
          if (r.redirected || r.status === 401) throw new Error("session ended: reload to log in");
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        })
        .then(function (data) {
          if (data.stamp === body.dataset.stamp) return null;
          loadFragments();
          return refresh();
        });
    } else {
      return;
    }
    work
      .catch(function (err) { say("Live updates paused: " + err.message); })
      .then(function () { setTimeout(tick, poll); });
  }

  loadFragments();
  setTimeout(tick, poll);
})();
