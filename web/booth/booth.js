// Booth display: asks the local generator for the booth code every second
// and shows it. The page computes nothing itself: the seed never leaves the
// generator, and the generator's clock is the one that counts.
"use strict";

(function () {
  var $ = function (id) { return document.getElementById(id); };
  var body = document.body;
  var station = $("station");
  var check = $("check");
  var digits = $("digits");
  var status = $("status");
  var barFill = $("bar-fill");

  // expiresAt is when, on this page's monotonic clock, the code on screen
  // stops being valid to show. If the generator stops answering, the page
  // keeps the code only until then: a stale code would send voters to wait
  // out their proof of work for nothing.
  var expiresAt = 0;
  var timer = 0;

  // token is the display's secret of this start when it serves beyond
  // loopback: powvote booth serve prints the page's URL with #token=...,
  // and /code answers only requests that carry it. A fragment never leaves
  // the browser on its own, so the page sends it, in a header, to its own
  // origin alone. On loopback there is none and none is needed.
  var token = (/(?:^#|&)token=([0-9a-f]+)(?:&|$)/.exec(location.hash) || [])[1] || "";

  function setText(el, text) {
    if (el.textContent !== text) { el.textContent = text; }
  }

  function show(c) {
    // "6 263 917": the check character, then the six digits in two groups.
    setText(check, c.check);
    setText(digits, c.display.slice(2));
    setText(station, c.station);
    var left = c.remaining;
    body.className = c.warn ? "warn" : "ok";
    setText(status, c.warn
      ? "Wait for the next code \u2014 next code in " + left + " s"
      : "Code valid for " + left + " s");
    barFill.style.transform = "scaleX(" + Math.max(0, Math.min(1, c.remaining_ms / (c.step * 1000))) + ")";
    document.title = "Booth code \u2014 " + c.station;
  }

  function offline(why) {
    if (performance.now() < expiresAt) { return; }
    body.className = "offline";
    setText(status, "No booth code \u2014 " + why);
    barFill.style.transform = "scaleX(0)";
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }

  function poll() {
    var started = performance.now();
    var ctl = typeof AbortController === "function" ? new AbortController() : null;
    var guard = setTimeout(function () { if (ctl) { ctl.abort(); } }, 2500);
    var headers = token ? { "X-Booth-Token": token } : {};
    fetch("code", { cache: "no-store", headers: headers, signal: ctl ? ctl.signal : undefined })
      .then(function (r) {
        if (r.status === 403) { throw new Error("forbidden"); }
        if (!r.ok) { throw new Error("generator answered " + r.status); }
        return r.json();
      })
      .then(function (c) {
        clearTimeout(guard);
        expiresAt = started + c.remaining_ms;
        show(c);
        // Poll again just after the generator's next whole second, so the
        // countdown ticks in step with the code and a new code appears as
        // soon as its step begins, not up to a second late.
        var next = c.remaining_ms % 1000;
        schedule(Math.max(50, (next === 0 ? 1000 : next) + 30));
      })
      .catch(function (err) {
        clearTimeout(guard);
        offline(err && err.message === "forbidden"
          ? "open the URL that powvote booth serve printed, with its #token"
          : "the generator does not answer");
        schedule(1000);
      });
  }

  // A kiosk browser is normally started full-screen; a click or the F key
  // toggles it for a browser that was not.
  function toggleFullscreen() {
    var d = document;
    if (d.fullscreenElement) {
      if (d.exitFullscreen) { d.exitFullscreen(); }
    } else if (d.documentElement.requestFullscreen) {
      d.documentElement.requestFullscreen().catch(function () {});
    }
  }
  document.addEventListener("dblclick", toggleFullscreen);
  document.addEventListener("keydown", function (e) {
    if (e.key === "f" || e.key === "F") { toggleFullscreen(); }
  });

  // A tab that was hidden may have had its timers throttled: catch up at
  // once when it is shown again.
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { schedule(0); }
  });

  poll();
})();
