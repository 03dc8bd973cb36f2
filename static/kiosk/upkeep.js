/* A screen that runs for months: heartbeats, office hours, the quiet-hour
 * reload, burn-in care, and the service worker that lets a reload come back
 * up while the server is away.
 */
import { body, cfg, preview, startedAt, state, timers } from "./state.js";
import { cancelPreparing, show, syncClock } from "./rotation.js";
import { revalidate } from "./playlist.js";

export const SHIFT_EVERY_MS = 10 * 60 * 1000;
export const CLOCK_EVERY_MS = 30000;
const RELOAD_WINDOW_MS = 60 * 60 * 1000;
const BEAT_AFTER_CHANGE_MS = 1000;

export function heartbeat() {
  if (!cfg.heartbeatUrl) return;
  var shown = state.shown;
  var sent = Date.now();
  state.shown = {};
  fetch(cfg.heartbeatUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      // The name as the server understood it: "" for one it refused.
      screen: state.screen.name !== undefined ? state.screen.name : cfg.screen || "",
      story: state.blank ? null : state.current,
      playlist: state.etag,
      uptime: (Date.now() - startedAt) / 1000,
      shown: shown
    })
  }).then(function (response) {
    // Refused as it is (400, 413): sent again it would be refused again, and
    // the screen would look silent for ever. Drop these counts instead.
    if (response.status >= 400 && response.status < 500 && response.status !== 429) return;
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json().then(function (answer) {
      if (answer.now) syncClock(answer.now * 1000 + (Date.now() - sent) / 2, true);
    });
  }).catch(function () {
    // Not delivered: count these showings again next time.
    Object.keys(shown).forEach(function (slug) {
      state.shown[slug] = (state.shown[slug] || 0) + shown[slug];
    });
  });
}

// Soon after the playlist changes, say so: a takedown report learns from this
// which screens no longer hold a withdrawn story, without waiting a minute.
// Several changes in a row make one heartbeat.
export function heartbeatSoon() {
  if (preview || !cfg.heartbeatUrl) return;
  clearTimeout(timers.beat);
  timers.beat = setTimeout(heartbeat, BEAT_AFTER_CHANGE_MS);
}

function minutesOf(hhmm) {
  var m = /^(\d{1,2}):(\d{2})$/.exec(hhmm || "");
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

// Outside its hours a screen goes dark, to spare the panel and the power bill.
export function checkHours() {
  var hours = state.screen.hours;
  var blank = false;
  if (hours) {
    var d = new Date();
    var now = d.getHours() * 60 + d.getMinutes();
    var start = minutesOf(hours[0]), end = minutesOf(hours[1]);
    blank = start < end ? (now < start || now >= end) : (now < start && now >= end);
  }
  if (blank === state.blank) return;
  state.blank = blank;
  body.classList.toggle("is-blank", blank);
  if (blank) {
    cancelPreparing();
    clearTimeout(timers.slide);
  } else if (state.stories.size) {
    show();
  }
}

// Once a day, at a quiet hour, start afresh: but only if the server is there
// to load the page from. A page loaded after today's hour has nothing to do.
function checkReload() {
  var at = minutesOf(cfg.reloadAt);
  if (at === null || state.reloading || preview) return;
  var now = new Date();
  var due = new Date(now.getTime());
  due.setHours(Math.floor(at / 60), at % 60, 0, 0);
  var late = now.getTime() - due.getTime();
  if (late < 0 || late > RELOAD_WINDOW_MS || startedAt >= due.getTime()) return;
  state.reloading = true;
  fetch(cfg.healthUrl, { cache: "no-store" }).then(function (response) {
    if (response.status === 200 && !response.headers.get("X-Kiosk-Offline")) {
      location.reload();
    } else {
      state.reloading = false;
    }
  }, function () { state.reloading = false; /* not now; try again on the next tick */ });
}

// Burn-in care: move the whole picture by a few pixels now and then.
export function shift() {
  var x = Math.round(Math.random() * 8 - 4);
  var y = Math.round(Math.random() * 8 - 4);
  body.style.setProperty("--shift-x", x + "px");
  body.style.setProperty("--shift-y", y + "px");
}

export function clockTick() {
  checkHours();
  checkReload();
  // Nothing here reads them, and the browser would keep hundreds.
  if (performance.clearResourceTimings) performance.clearResourceTimings();
}

// Keep a copy of this page and what it needs, for a reload while the server
// is away: its styles, and every module of this script (the page names each
// one in a modulepreload link, so none is left out).
function offlineCopy() {
  var urls = [location.href];
  document.querySelectorAll("link[rel=stylesheet], link[rel=modulepreload], script[src]")
    .forEach(function (el) { urls.push(el.href || el.src); });
  return navigator.serviceWorker.ready.then(function (registration) {
    if (registration.active) registration.active.postMessage({ cache: urls });
  });
}

export function registerWorker() {
  if (!("serviceWorker" in navigator) || !cfg.workerUrl) return;
  // When the worker takes over, fetch the playlist through it once, so it
  // has a copy (and the photos) before the server is ever away.
  navigator.serviceWorker.addEventListener("controllerchange", function () { revalidate(); });
  navigator.serviceWorker.register(cfg.workerUrl, { scope: "/" }).then(offlineCopy).catch(function () {
    /* without it the kiosk still runs; it just cannot come back up offline */
  });
}
