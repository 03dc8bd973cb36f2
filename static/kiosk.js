/* Story Wall hallway kiosk.
 *
 * Rotates through /api/stories on two reused slide elements. A slide is only
 * shown once its photo has decoded, so the crossfade never shows a black or
 * half-painted frame. /api/events says when to revalidate the playlist; a
 * slow poll is the fallback. When the server is away, the kiosk keeps showing
 * what it has.
 */
(function () {
  "use strict";

  var body = document.body;
  var cfg = body.dataset;
  var slides = Array.prototype.slice.call(document.querySelectorAll(".slide"));
  var reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  var MIN_SECONDS = 1;
  var MAX_SECONDS = 600;
  var POLL_MS = 30000;

  var state = {
    stories: new Map(),   // slug -> story, as last received
    order: [],            // slugs in playlist order
    cycle: [],            // what is left of the current cycle
    etag: null,
    current: null,        // slug on screen
    front: 0,             // index of the visible slide element
    timer: 0,
    events: null,
    retryMs: 1000,
    retryTimer: 0,
    online: true
  };

  function intervalOverride() {
    var n = Number(cfg.interval);
    if (!cfg.interval || !isFinite(n) || n <= 0) return 0;
    return Math.min(Math.max(n, MIN_SECONDS), MAX_SECONDS);
  }

  function storiesUrl() {
    var url = cfg.storiesUrl;
    if (cfg.tags) url += "?tags=" + encodeURIComponent(cfg.tags);
    return url;
  }

  function setOnline(online) {
    state.online = online;
    body.classList.toggle("is-offline", !online);
  }

  // -- the playlist ---------------------------------------------------------

  function revalidate() {
    var headers = state.etag ? { "If-None-Match": state.etag } : {};
    return fetch(storiesUrl(), { cache: "no-store", headers: headers })
      .then(function (response) {
        setOnline(true);
        if (response.status === 304) return;
        if (!response.ok) throw new Error("HTTP " + response.status);
        state.etag = response.headers.get("ETag");
        return response.json().then(applyPlaylist);
      })
      .catch(function () { setOnline(false); });
  }

  function applyPlaylist(data) {
    var fresh = new Map();
    data.stories.forEach(function (s) { fresh.set(s.slug, s); });
    var added = data.stories.filter(function (s) { return !state.stories.has(s.slug); });
    var edited = state.current && fresh.has(state.current) &&
      JSON.stringify(fresh.get(state.current)) !== JSON.stringify(state.stories.get(state.current));
    state.stories = fresh;
    state.order = data.stories.map(function (s) { return s.slug; });
    // New stories join the current cycle right away; gone ones leave it.
    state.cycle = state.cycle.filter(function (slug) { return fresh.has(slug); });
    added.forEach(function (s) { state.cycle.unshift(s.slug); });
    body.classList.remove("is-loading");
    body.classList.toggle("is-empty", fresh.size === 0);
    if (fresh.size === 0) {
      clearTimeout(state.timer);
      state.current = null;
      hideAll();
      return;
    }
    if (!state.current || !fresh.has(state.current)) {
      next(); // nothing on screen yet, or what is on screen was withdrawn
    } else if (edited) {
      render(slides[state.front], fresh.get(state.current)).then(fit);
    }
  }

  // -- showing slides -------------------------------------------------------

  function nextSlug() {
    if (state.cycle.length === 0) {
      state.cycle = state.order.slice();
      // Avoid showing the same story twice in a row across cycles.
      if (state.cycle.length > 1 && state.cycle[0] === state.current) {
        state.cycle.push(state.cycle.shift());
      }
    }
    while (state.cycle.length) {
      var slug = state.cycle.shift();
      if (state.stories.has(slug)) return slug;
    }
    return null;
  }

  function next() {
    clearTimeout(state.timer);
    var slug = nextSlug();
    if (!slug) return;
    var story = state.stories.get(slug);
    var back = (state.front + 1) % slides.length;
    render(slides[back], story).then(function () {
      if (state.stories.get(slug) !== story) { next(); return; } // changed while loading
      swap(back);
      state.current = slug;
      var seconds = intervalOverride() || story.seconds || 10;
      state.timer = setTimeout(next, seconds * 1000);
    });
  }

  function swap(back) {
    var from = slides[state.front];
    var to = slides[back];
    to.classList.add("is-front");
    to.classList.remove("is-back");
    to.setAttribute("aria-hidden", "false");
    from.classList.remove("is-front");
    from.classList.add("is-back");
    from.setAttribute("aria-hidden", "true");
    state.front = back;
    fit(to);
  }

  function hideAll() {
    slides.forEach(function (s) {
      s.classList.remove("is-front", "is-back");
      s.setAttribute("aria-hidden", "true");
    });
  }

  function text(el, selector, value) {
    el.querySelector(selector).textContent = value || "";
  }

  // Fill a slide and resolve once its photo is decoded (or known to be missing).
  function render(slide, story) {
    slide.classList.toggle("is-thanks", story.kind === "thank-you");
    text(slide, ".slide-kind", story.kind === "thank-you" ? "Thank you" : "");
    text(slide, ".slide-name", story.name);
    text(slide, ".slide-role", [story.role, story.company].filter(Boolean).join(", "));
    text(slide, ".slide-quote", story.quote);
    var initials = slide.querySelector(".slide-initials");
    initials.style.backgroundColor = story.portrait.background;
    initials.style.color = story.portrait.color;
    initials.firstElementChild.textContent = story.portrait.initials;
    var img = slide.querySelector(".slide-img");
    fit(slide);
    if (!story.photo) {
      slide.classList.add("no-photo");
      img.removeAttribute("src");
      img.removeAttribute("srcset");
      return Promise.resolve();
    }
    img.alt = story.photo.alt;
    img.style.objectPosition = story.photo.position;
    img.sizes = slide.classList.contains("is-thanks") ? "34vw" : "46vw";
    img.srcset = story.photo.webp;
    img.src = story.photo.src;
    return img.decode().then(
      function () { slide.classList.remove("no-photo"); },
      function () { slide.classList.add("no-photo"); } // missing or broken: initials instead
    );
  }

  // Shrink the text until it fits its column: never clipped, never broken mid-word.
  function fit(slide) {
    var box = slide.querySelector(".slide-text");
    var lo = 0.35, hi = 1;
    box.style.setProperty("--fit", "1");
    if (!overflows(box)) return;
    for (var i = 0; i < 8; i++) {
      var mid = (lo + hi) / 2;
      box.style.setProperty("--fit", String(mid));
      if (overflows(box)) hi = mid; else lo = mid;
    }
    box.style.setProperty("--fit", String(lo));
  }

  function overflows(box) {
    if (box.scrollHeight > box.clientHeight + 1) return true;
    for (var el = box.firstElementChild; el; el = el.nextElementSibling) {
      if (el.scrollWidth > el.clientWidth + 1) return true;
    }
    return false;
  }

  // -- staying live ---------------------------------------------------------

  function connect() {
    clearTimeout(state.retryTimer);
    if (state.events) state.events.close();
    var events = new EventSource(cfg.eventsUrl);
    state.events = events;
    events.addEventListener("version", function () {
      state.retryMs = 1000;
      revalidate();
    });
    events.onopen = function () { setOnline(true); };
    events.onerror = function () {
      setOnline(false);
      // The browser retries by itself unless it gave up (CLOSED): then we do,
      // backing off so a fleet of screens does not stampede a restarting server.
      if (events.readyState === EventSource.CLOSED) {
        state.retryTimer = setTimeout(connect, state.retryMs);
        state.retryMs = Math.min(state.retryMs * 2, 60000);
      }
    };
  }

  reduceMotion.addEventListener("change", function () {
    body.classList.toggle("reduce-motion", reduceMotion.matches);
  });
  window.addEventListener("resize", function () { fit(slides[state.front]); });
  setInterval(revalidate, POLL_MS);
  revalidate();
  if (cfg.eventsUrl) connect(); // a moderator's preview has no live events
})();
