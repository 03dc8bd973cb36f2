/* The playlist: /api/stories with its ETag, revalidated when /api/events
 * says so, with a slow poll as the fallback. When the server is away the
 * kiosk keeps showing what it has (the service worker answers, marked
 * offline) and the offline dot comes on.
 */
import { body, cfg, state, timers } from "./state.js";
import { cancelPreparing, show, syncClock } from "./rotation.js";
import { fit, hideAll, slides } from "./slides.js";
import { heartbeatSoon } from "./upkeep.js";

export const POLL_MS = 30000;
const NOTICE_MS = 2 * 60 * 1000; // how long a setup problem stays in the corner

const notice = document.querySelector(".notice");

function query() {
  var params = [];
  ["screen", "tags", "interval", "hours"].forEach(function (key) {
    if (cfg[key]) params.push(key + "=" + encodeURIComponent(cfg[key]));
  });
  return params.length ? "?" + params.join("&") : "";
}

function setOnline(online) {
  state.online = online;
  body.classList.toggle("is-offline", !online);
}

// One playlist request at a time: answers arrive in order, and a burst of
// reasons to ask (an event, the poll, the worker taking over) costs one more.
export function revalidate() {
  if (state.fetching) {
    state.fetchAgain = true;
    return state.fetching;
  }
  state.fetching = fetchPlaylist().then(function () {
    state.fetching = null;
    if (state.fetchAgain) {
      state.fetchAgain = false;
      return revalidate();
    }
  });
  return state.fetching;
}

function fetchPlaylist() {
  var headers = state.etag ? { "If-None-Match": state.etag } : {};
  return fetch(cfg.storiesUrl + query(), { cache: "no-store", headers: headers })
    .then(function (response) {
      // The service worker answers with the last good playlist when the
      // server is away, and says so.
      var offline = response.headers.get("X-Kiosk-Offline") === "1";
      if (!offline) syncClock(Date.parse(response.headers.get("Date") || "") + 500, false);
      if (response.status === 304) { setOnline(true); return; }
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json().then(function (data) {
        setOnline(!offline);
        var etag = response.headers.get("ETag");
        var changed = etag !== state.etag;
        state.etag = etag;
        body.dataset.playlist = state.etag || "";
        applyPlaylist(data);
        if (changed) heartbeatSoon();
      });
    })
    .catch(function () { setOnline(false); });
}

function applyPlaylist(data) {
  var fresh = new Map();
  var added = [];
  (data.stories || []).forEach(function (s) {
    var key = JSON.stringify(s);
    var old = state.stories.get(s.slug);
    // An unchanged story keeps its identity: that is how edits are noticed.
    if (old && old.$key === key) { fresh.set(s.slug, old); return; }
    s.$key = key;
    fresh.set(s.slug, s);
    if (!old) added.push(s.slug);
  });
  var firstLoad = state.stories.size === 0 && !state.current && !state.preparing;
  var has = function (slug) { return fresh.has(slug); };
  state.stories = fresh;
  state.cycle = (data.cycle || []).filter(has);
  state.screen = data.screen || {};
  applyScreen();
  showNotes(state.screen.notes || []);
  // New stories join the current cycle right away; gone ones leave it for good.
  state.queue = state.queue.filter(has);
  if (!firstLoad) state.queue = added.concat(state.queue);
  // A thank-you to this screen's own team, just approved, goes up at once.
  var first = data.first || [];
  var urgent = firstLoad ? null : added.filter(function (slug) {
    return first.indexOf(slug) >= 0;
  })[0];
  if (urgent) state.queue = state.queue.filter(function (slug) { return slug !== urgent; });
  body.classList.remove("is-loading");
  body.classList.toggle("is-empty", fresh.size === 0);
  if (fresh.size === 0) {
    cancelPreparing();
    clearTimeout(timers.slide);
    state.current = state.onScreen = null;
    delete body.dataset.current;
    hideAll();
    return;
  }
  if (state.current && !fresh.has(state.current)) {
    // Withdrawn while on screen: cut to the next story as soon as it is ready.
    show(urgent ? { slug: urgent, cut: true } : { cut: true });
  } else if (urgent) {
    show({ slug: urgent });
  } else if (state.preparing) {
    // The slide being prepared checks, when ready, that its story is unchanged.
  } else if (!state.current) {
    show();
  } else if (fresh.get(state.current) !== state.onScreen) {
    show({ slug: state.current, keep: true }); // edited while on screen
  }
}

export function applyScreen() {
  var o = state.screen.orientation;
  var portrait = o === "portrait" || (o !== "landscape" && innerHeight > innerWidth);
  if (portrait === body.classList.contains("is-portrait")) return;
  body.classList.toggle("is-portrait", portrait);
  slides.forEach(fit);
}

// A bad screen name, tag or interval gets a sensible default, and a quiet
// note in the corner for whoever is setting the screen up.
function showNotes(notes) {
  if (!notice) return;
  var text = notes.join(" · ");
  if (text === notice.textContent) return;
  notice.textContent = text;
  clearTimeout(timers.notice);
  body.classList.toggle("has-notice", !!text);
  if (!text) return;
  if (window.console) console.warn("Story Wall kiosk: " + text);
  timers.notice = setTimeout(function () { body.classList.remove("has-notice"); }, NOTICE_MS);
}

// Back on the network (the browser says so): catch up now, not when a backoff
// timer or the slow poll comes round. A withdrawn story leaves at once.
export function reconnect() {
  state.retryMs = 1000;
  revalidate();
  connect();
}

export function connect() {
  clearTimeout(timers.retry);
  if (state.events) state.events.close();
  var events = new EventSource(cfg.eventsUrl);
  state.events = events;
  events.addEventListener("version", function () {
    state.retryMs = 1000;
    revalidate();
    // Each server worker keeps its own index: the one that announced the
    // change may be a moment ahead of the one that answers. Ask once more.
    clearTimeout(timers.again);
    timers.again = setTimeout(revalidate, 600);
  });
  events.onerror = function () {
    // Is it the server, or only the stream? The playlist fetch tells.
    revalidate();
    // The browser retries by itself unless it gave up (CLOSED): then we do,
    // backing off so a fleet of screens does not stampede a restarting server.
    if (events.readyState === EventSource.CLOSED) {
      timers.retry = setTimeout(connect, state.retryMs);
      state.retryMs = Math.min(state.retryMs * 2, 60000);
    }
  };
}
