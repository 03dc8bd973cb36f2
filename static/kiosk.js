/* Story Wall hallway kiosk.
 *
 * Rotates through /api/stories on two reused slide elements. A slide is only
 * shown once its photo has decoded, and the outgoing slide stays opaque
 * underneath while the incoming one fades in, so there is never a black or
 * half-painted frame. /api/events says when to revalidate the playlist; a
 * slow poll is the fallback. When the server is away the kiosk keeps showing
 * what it has, and a service worker lets a reload come back up offline.
 *
 * Everything runs on a fixed set of timers held in `timers`, and every
 * listener is added once, so nothing piles up over months.
 */
(function () {
  "use strict";

  var body = document.body;
  var cfg = body.dataset;
  var slides = Array.prototype.slice.call(document.querySelectorAll(".slide"));
  var preview = cfg.eventsUrl === ""; // a moderator's preview: no events, heartbeats or caching

  var POLL_MS = 30000;
  var SHIFT_EVERY_MS = 10 * 60 * 1000;
  var CLOCK_EVERY_MS = 30000;
  var FADE_MS = 1300;
  var startedAt = Date.now();

  var state = {
    stories: new Map(),   // slug -> story, as last received
    cycle: [],            // slugs of one cycle, from the server
    queue: [],            // what is left of the current cycle
    screen: {},           // the screen's settings, from the server
    etag: null,
    current: null,        // slug on screen
    front: 0,             // index of the visible slide element
    token: 0,             // bumps on every show(), to drop stale renders
    shown: {},            // slug -> times shown since the last heartbeat
    slideCount: 0,
    events: null,
    retryMs: 1000,
    online: true,
    blank: false,
    clockOffset: 0        // server time minus local time, for grouped screens
  };
  var timers = { slide: 0, fade: 0, retry: 0 };

  // -- talking to the server -------------------------------------------------

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

  function revalidate() {
    var headers = state.etag ? { "If-None-Match": state.etag } : {};
    return fetch(cfg.storiesUrl + query(), { cache: "no-store", headers: headers })
      .then(function (response) {
        var date = Date.parse(response.headers.get("Date") || "");
        if (date) state.clockOffset = date - Date.now();
        if (response.status === 304) { setOnline(true); return; }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json().then(function (data) {
          // The service worker answers with the last good playlist when the
          // server is away, and says so.
          setOnline(response.headers.get("X-Kiosk-Offline") !== "1");
          state.etag = response.headers.get("ETag");
          applyPlaylist(data);
        });
      })
      .catch(function () { setOnline(false); });
  }

  function applyPlaylist(data) {
    var fresh = new Map();
    data.stories.forEach(function (s) { fresh.set(s.slug, s); });
    var added = data.stories.filter(function (s) { return !state.stories.has(s.slug); });
    var before = state.current && state.stories.get(state.current);
    var edited = before && fresh.has(state.current) &&
      JSON.stringify(fresh.get(state.current)) !== JSON.stringify(before);
    var firstLoad = state.stories.size === 0 && !state.current;
    state.stories = fresh;
    state.cycle = (data.cycle || []).filter(function (slug) { return fresh.has(slug); });
    state.screen = data.screen || {};
    applyScreen();
    // New stories join the current cycle right away; gone ones leave it for good.
    state.queue = state.queue.filter(function (slug) { return fresh.has(slug); });
    if (!firstLoad) added.forEach(function (s) { state.queue.unshift(s.slug); });
    body.classList.remove("is-loading");
    body.classList.toggle("is-empty", fresh.size === 0);
    if (fresh.size === 0) {
      clearTimeout(timers.slide);
      state.current = null;
      hideAll();
      return;
    }
    if (!state.current || !fresh.has(state.current)) {
      show(); // nothing on screen yet, or what is on screen was withdrawn
    } else if (edited) {
      var slide = slides[state.front];
      render(slide, fresh.get(state.current)).then(function () { fit(slide); });
    }
  }

  function applyScreen() {
    var o = state.screen.orientation;
    var portrait = o === "portrait" || (o !== "landscape" && innerHeight > innerWidth);
    body.classList.toggle("is-portrait", portrait);
  }

  // -- choosing the next story -------------------------------------------------

  function grouped() {
    return state.screen.group && state.screen.group_size > 1 && state.cycle.length > 0;
  }

  function slotSeconds() {
    return state.screen.interval || 12;
  }

  function nextSlug() {
    if (grouped()) {
      // Screens of a group step through the same order on the server's clock,
      // each at its own offset: never the same story at the same moment.
      var slot = Math.floor((Date.now() + state.clockOffset) / 1000 / slotSeconds());
      return state.cycle[(slot + state.screen.group_index) % state.cycle.length];
    }
    for (var tries = 0; tries < 2; tries++) {
      if (state.queue.length === 0) {
        state.queue = state.cycle.slice();
        // A new cycle never starts with what is on screen now.
        if (state.queue.length > 1 && state.queue[0] === state.current) {
          state.queue.push(state.queue.shift());
        }
      }
      while (state.queue.length) {
        var slug = state.queue.shift();
        if (state.stories.has(slug) && (slug !== state.current || state.stories.size === 1)) {
          return slug;
        }
      }
    }
    return null;
  }

  function secondsFor(story) {
    if (grouped()) {
      var now = (Date.now() + state.clockOffset) / 1000;
      return slotSeconds() - (now % slotSeconds());
    }
    return state.screen.interval || story.seconds || 10;
  }

  // -- showing slides ----------------------------------------------------------

  function show() {
    clearTimeout(timers.slide);
    if (state.blank) return;
    var slug = nextSlug();
    if (!slug) return;
    var story = state.stories.get(slug);
    var back = (state.front + 1) % slides.length;
    var token = ++state.token;
    render(slides[back], story).then(function () {
      if (token !== state.token) return; // a newer show() took over
      if (state.stories.get(slug) !== story) { show(); return; } // changed while loading
      swap(back);
      state.current = slug;
      state.slideCount += 1;
      state.shown[slug] = (state.shown[slug] || 0) + 1;
      body.dataset.current = slug;
      body.dataset.slides = String(state.slideCount);
      timers.slide = setTimeout(show, secondsFor(story) * 1000);
    });
  }

  function swap(back) {
    var from = slides[state.front];
    var to = slides[back];
    clearTimeout(timers.fade);
    // The outgoing slide stays fully opaque underneath until the incoming one
    // has faded in over it: the wall never shows an empty frame.
    from.classList.remove("is-front");
    from.classList.add("is-back");
    from.setAttribute("aria-hidden", "true");
    to.classList.remove("is-back");
    to.classList.add("is-front");
    to.setAttribute("aria-hidden", "false");
    state.front = back;
    fit(to);
    timers.fade = setTimeout(function () { from.classList.remove("is-back"); }, FADE_MS);
  }

  function hideAll() {
    slides.forEach(function (s) {
      s.classList.remove("is-front", "is-back");
      s.setAttribute("aria-hidden", "true");
    });
  }

  // Hyphens become non-breaking: "Co-op" must not end one line and start the next.
  function setText(el, selector, value) {
    el.querySelector(selector).textContent = (value || "").replace(/-/g, "\u2011");
  }

  // Fill a slide and resolve once its photo is decoded (or known to be missing).
  function render(slide, story) {
    slide.classList.toggle("is-thanks", story.kind === "thank-you");
    setText(slide, ".slide-kind", story.kind === "thank-you" ? "Thank you" : "");
    setText(slide, ".slide-name", story.name);
    setText(slide, ".slide-role", [story.role, story.company].filter(Boolean).join(", "));
    setText(slide, ".slide-quote", story.quote);
    var initials = slide.querySelector(".slide-initials");
    initials.style.backgroundColor = story.portrait.background;
    initials.style.color = story.portrait.color;
    initials.firstElementChild.textContent = story.portrait.initials;
    var qr = slide.querySelector(".slide-qr img");
    if (story.qr) {
      qr.src = story.qr;
      slide.classList.remove("no-qr");
    } else {
      slide.classList.add("no-qr");
    }
    var img = slide.querySelector(".slide-img");
    if (!story.photo) {
      slide.classList.add("no-photo");
      img.removeAttribute("srcset");
      img.removeAttribute("src");
      return Promise.resolve();
    }
    img.alt = story.photo.alt;
    img.style.objectPosition = story.photo.position;
    img.sizes = slide.classList.contains("is-thanks") || body.classList.contains("is-portrait")
      ? "100vw" : "50vw";
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
    var lo = 0.3, hi = 1;
    box.style.setProperty("--fit", "1");
    if (!overflows(box)) return;
    for (var i = 0; i < 9; i++) {
      var mid = (lo + hi) / 2;
      box.style.setProperty("--fit", String(mid));
      if (overflows(box)) hi = mid; else lo = mid;
    }
    box.style.setProperty("--fit", String(lo));
  }

  function overflows(box) {
    if (box.scrollHeight > box.clientHeight + 1 || box.scrollWidth > box.clientWidth + 1) {
      return true;
    }
    for (var el = box.firstElementChild; el; el = el.nextElementSibling) {
      if (el.scrollWidth > el.clientWidth + 1) return true;
    }
    return false;
  }

  // -- staying live --------------------------------------------------------------

  function connect() {
    clearTimeout(timers.retry);
    if (state.events) state.events.close();
    var events = new EventSource(cfg.eventsUrl);
    state.events = events;
    events.addEventListener("version", function () {
      state.retryMs = 1000;
      setOnline(true);
      revalidate();
    });
    events.onerror = function () {
      setOnline(false);
      // The browser retries by itself unless it gave up (CLOSED): then we do,
      // backing off so a fleet of screens does not stampede a restarting server.
      if (events.readyState === EventSource.CLOSED) {
        timers.retry = setTimeout(connect, state.retryMs);
        state.retryMs = Math.min(state.retryMs * 2, 60000);
      }
    };
  }

  function heartbeat() {
    if (!cfg.heartbeatUrl) return;
    var shown = state.shown;
    state.shown = {};
    fetch(cfg.heartbeatUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        screen: cfg.screen || "",
        story: state.current,
        playlist: state.etag,
        uptime: (Date.now() - startedAt) / 1000,
        shown: shown
      })
    }).catch(function () {
      // Not delivered: count these showings again next time.
      Object.keys(shown).forEach(function (slug) {
        state.shown[slug] = (state.shown[slug] || 0) + shown[slug];
      });
    });
  }

  // -- a screen that runs for months -----------------------------------------------

  function minutesOf(hhmm) {
    var m = /^(\d{1,2}):(\d{2})$/.exec(hhmm || "");
    return m ? Number(m[1]) * 60 + Number(m[2]) : null;
  }

  function nowMinutes() {
    var d = new Date();
    return d.getHours() * 60 + d.getMinutes();
  }

  // Outside its hours a screen goes dark, to spare the panel and the power bill.
  function checkHours() {
    var hours = state.screen.hours;
    var blank = false;
    if (hours) {
      var start = minutesOf(hours[0]), end = minutesOf(hours[1]), now = nowMinutes();
      blank = start < end ? (now < start || now >= end) : (now < start && now >= end);
    }
    if (blank === state.blank) return;
    state.blank = blank;
    body.classList.toggle("is-blank", blank);
    if (blank) clearTimeout(timers.slide);
    else show();
  }

  // Once a day, at a quiet hour, start afresh: but only if the server is there
  // to load the page from.
  var reloadDone = false;
  function checkReload() {
    var at = minutesOf(cfg.reloadAt);
    if (at === null || reloadDone || preview) return;
    var now = nowMinutes();
    if (now < at || now > at + 30) return;
    fetch(cfg.healthUrl, { cache: "no-store" }).then(function (response) {
      if (response.status === 200 && !response.headers.get("X-Kiosk-Offline")) {
        reloadDone = true;
        location.reload();
      }
    }).catch(function () { /* not now; try again on the next tick */ });
  }

  // Burn-in care: move the whole picture by a few pixels now and then.
  function shift() {
    var x = Math.round(Math.random() * 8 - 4);
    var y = Math.round(Math.random() * 8 - 4);
    body.style.setProperty("--shift-x", x + "px");
    body.style.setProperty("--shift-y", y + "px");
  }

  function clockTick() {
    checkHours();
    checkReload();
  }

  window.addEventListener("resize", function () {
    applyScreen();
    fit(slides[state.front]);
  });
  window.addEventListener("online", function () { revalidate(); });

  setInterval(revalidate, POLL_MS);
  setInterval(clockTick, CLOCK_EVERY_MS);
  setInterval(shift, SHIFT_EVERY_MS);
  revalidate().then(checkHours);
  if (!preview) {
    connect();
    var every = Number(cfg.heartbeatSeconds) || 60;
    setInterval(heartbeat, every * 1000);
    setTimeout(heartbeat, 5000);
    if ("serviceWorker" in navigator && cfg.workerUrl) {
      navigator.serviceWorker.register(cfg.workerUrl, { scope: "/" }).catch(function () {
        /* without it the kiosk still runs; it just cannot come back up offline */
      });
    }
  }
})();
