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
 *
 * For tests and for debugging on a TV: body[data-current] is the slug on
 * screen, body[data-slides] counts slide changes and body[data-playlist] is
 * the ETag of the playlist in use.
 */
(function () {
  "use strict";

  var body = document.body;
  var cfg = body.dataset;
  var slides = Array.prototype.slice.call(document.querySelectorAll(".slide"));
  var notice = document.querySelector(".notice");
  var preview = cfg.eventsUrl === ""; // a moderator's preview: no events, heartbeats or caching

  var POLL_MS = 30000;
  var SHIFT_EVERY_MS = 10 * 60 * 1000;
  var CLOCK_EVERY_MS = 30000;
  var PHOTO_TIMEOUT_MS = 10000;  // a photo that never arrives must not stop the wall
  var NOTICE_MS = 2 * 60 * 1000; // how long a setup problem stays in the corner
  var RELOAD_WINDOW_MS = 60 * 60 * 1000;
  var MIN_FIT = 0.3, TIGHT_FIT = 0.1;
  var startedAt = Date.now();

  var state = {
    stories: new Map(),   // slug -> story, as last received
    cycle: [],            // slugs of one cycle, from the server
    queue: [],            // what is left of the current cycle
    screen: {},           // the screen's settings, from the server
    etag: null,
    current: null,        // slug on screen
    onScreen: null,       // the story object on screen, to notice edits
    preparing: null,      // {slug, keep} while a slide's photo decodes
    front: 0,             // index of the visible slide element
    token: 0,             // bumps on every show(), to drop stale renders
    prepareMs: 0,         // how long a slide takes to prepare, to start that much early
    shown: {},            // slug -> times shown since the last heartbeat
    slideCount: 0,
    events: null,
    retryMs: 1000,
    online: true,
    blank: false,
    clockOffset: 0,       // server time minus local time, for grouped screens
    clockPrecise: false,
    groupSlot: null,      // the time slot on screen, for grouped screens
    fetching: null,       // the playlist request in flight
    fetchAgain: false,
    reloading: false
  };
  var timers = { slide: 0, retry: 0, notice: 0, again: 0 };

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

  // Screens of a group keep time by the server's clock: a TV's own may be off.
  function syncClock(serverMs, precise) {
    if (!serverMs) return;
    var offset = serverMs - Date.now();
    // An HTTP Date has whole seconds; a heartbeat's answer is better, unless
    // one of the clocks has clearly jumped since.
    if (!precise && state.clockPrecise && Math.abs(offset - state.clockOffset) < 1500) return;
    state.clockOffset = offset;
    state.clockPrecise = !!precise;
  }

  // One playlist request at a time: answers arrive in order, and a burst of
  // reasons to ask (an event, the poll, the worker taking over) costs one more.
  function revalidate() {
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
          state.etag = response.headers.get("ETag");
          body.dataset.playlist = state.etag || "";
          applyPlaylist(data);
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
      show({ cut: true });
    } else if (state.preparing) {
      // The slide being prepared checks, when ready, that its story is unchanged.
    } else if (!state.current) {
      show();
    } else if (fresh.get(state.current) !== state.onScreen) {
      show({ slug: state.current, keep: true }); // edited while on screen
    }
  }

  function applyScreen() {
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

  // -- choosing the next story -------------------------------------------------

  function grouped() {
    return state.screen.group && state.screen.group_size > 1 && state.cycle.length > 0;
  }

  function slotMs() {
    return (state.screen.interval || 12) * 1000;
  }

  function serverNow() {
    return Date.now() + state.clockOffset;
  }

  // Screens of a group step through the same order on the server's clock,
  // each spread evenly around the cycle from the others: with a story or more
  // between neighbours, a screen a moment early or late still never shows what
  // another shows.
  function groupSlug(atBoundary) {
    var t = (serverNow() + state.prepareMs) / slotMs();
    var expected = state.groupSlot === null ? null : state.groupSlot + 1;
    var slot = atBoundary && expected !== null && Math.abs(t - expected) < 0.5
      ? expected : Math.floor(t);
    state.groupSlot = slot;
    var n = state.cycle.length;
    var offset = Math.floor(state.screen.group_index * n / state.screen.group_size);
    return state.cycle[(slot + offset) % n];
  }

  function nextSlug(atBoundary) {
    if (grouped()) return groupSlug(atBoundary);
    state.groupSlot = null;
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

  function schedule(story) {
    clearTimeout(timers.slide);
    var ms = grouped() && state.groupSlot !== null
      ? (state.groupSlot + 1) * slotMs() - serverNow()
      : (state.screen.interval || story.seconds || 10) * 1000;
    // Start preparing the next slide early by as long as preparing usually
    // takes, so each story stays up for its time.
    timers.slide = setTimeout(function () { show({ boundary: true }); },
      Math.max(0, ms - state.prepareMs));
  }

  // -- showing slides ----------------------------------------------------------

  function cancelPreparing() {
    var p = state.preparing;
    state.preparing = null;
    state.token += 1;
    // Its turn is not lost: it comes up next instead.
    if (p && !p.keep && state.stories.has(p.slug) && !grouped()) state.queue.unshift(p.slug);
  }

  // Bring a story to the front: the next one in rotation, or opts.slug again
  // after an edit (opts.keep: it keeps its remaining time). opts.cut: no fade.
  function show(opts) {
    opts = opts || {};
    if (state.blank) return;
    cancelPreparing();
    if (!opts.keep) clearTimeout(timers.slide);
    var slug = opts.slug || nextSlug(!!opts.boundary);
    if (!slug) return;
    var story = state.stories.get(slug);
    var token = state.token;
    var back = slides[1 - state.front];
    var started = Date.now();
    settle(); // the element to fill may still be fading out under the front one
    state.preparing = { slug: slug, keep: !!opts.keep };
    render(back, story).then(function (ready) {
      if (token !== state.token) return; // a newer show() took over
      state.preparing = null;
      var latest = state.stories.get(slug);
      if (!latest) { show({ cut: opts.cut || opts.keep }); return; } // withdrawn meanwhile
      if (latest !== story) { show({ slug: slug, keep: opts.keep, cut: opts.cut }); return; }
      back.classList.toggle("no-photo", !ready[0]); // the initials portrait stands in
      back.classList.toggle("no-qr", !ready[1]);    // a QR code that cannot load is left out
      swap(opts.cut);
      state.current = slug;
      state.onScreen = story;
      body.dataset.current = slug;
      if (!opts.keep) {
        state.prepareMs = Math.min(1000, 0.7 * state.prepareMs + 0.3 * (Date.now() - started));
        state.slideCount += 1;
        state.shown[slug] = (state.shown[slug] || 0) + 1;
        body.dataset.slides = String(state.slideCount);
        schedule(story);
      }
    });
  }

  function swap(cut) {
    var from = slides[state.front];
    var to = slides[1 - state.front];
    // The outgoing slide stays fully opaque underneath until the incoming one
    // has faded in over it: the wall never shows an empty frame.
    if (from.classList.contains("is-front")) {
      from.classList.remove("is-front");
      from.classList.add("is-back");
      from.setAttribute("aria-hidden", "true");
    }
    to.classList.toggle("is-cut", !!cut);
    to.classList.add("is-front");
    to.setAttribute("aria-hidden", "false");
    state.front = 1 - state.front;
    if (cut || !(parseFloat(getComputedStyle(to).transitionDuration) > 0)) settle();
    if (cut) clear(from); // what was withdrawn leaves the page too
  }

  // End a crossfade now: the front slide fully opaque, the back one hidden.
  function settle() {
    var front = slides[state.front];
    var back = slides[1 - state.front];
    if (!back.classList.contains("is-back")) return;
    front.classList.add("is-settled");
    void getComputedStyle(front).opacity; // jump the fade to its end before hiding what is below
    back.classList.remove("is-back");
    front.classList.remove("is-settled");
  }

  function hideAll() {
    slides.forEach(function (s) {
      s.classList.remove("is-front", "is-back");
      s.setAttribute("aria-hidden", "true");
      clear(s);
    });
  }

  function clear(slide) {
    slide.texts = null;
    slide.querySelectorAll(".slide-kind, .slide-name, .slide-role, .slide-quote")
      .forEach(function (el) { el.textContent = ""; });
    var img = slide.querySelector(".slide-img");
    img.removeAttribute("srcset");
    img.removeAttribute("src");
  }

  // Fill a slide; resolve once its photo and QR code are decoded, or known to
  // be missing, broken or too slow: [photo ready, QR code ready].
  function render(slide, story) {
    slide.classList.toggle("is-thanks", story.kind === "thank-you");
    slide.texts = [
      [".slide-kind", story.kind === "thank-you" ? "Thank you" : ""],
      [".slide-name", story.name],
      [".slide-role", [story.role, story.company].filter(Boolean).join(", ")],
      [".slide-quote", story.quote]
    ];
    var initials = slide.querySelector(".slide-initials");
    initials.style.backgroundColor = story.portrait.background;
    initials.style.color = story.portrait.color;
    initials.firstElementChild.textContent = story.portrait.initials;
    fit(slide);
    var qr = slide.querySelector(".slide-qr img");
    var qrReady = Promise.resolve(false);
    if (story.qr) {
      if (qr.getAttribute("src") !== story.qr) qr.src = story.qr;
      qrReady = decoded(qr);
    }
    var img = slide.querySelector(".slide-img");
    var photoReady = Promise.resolve(false);
    if (story.photo) {
      img.alt = story.photo.alt;
      img.style.objectPosition = story.photo.position;
      img.sizes = slide.classList.contains("is-thanks") ? "(orientation: portrait) 36vh, 30vw"
        : body.classList.contains("is-portrait") ? "100vw" : "46vw";
      if (img.getAttribute("srcset") !== story.photo.webp) {
        img.srcset = story.photo.webp;
        img.src = story.photo.src;
      }
      photoReady = decoded(img);
    } else {
      img.removeAttribute("srcset");
      img.removeAttribute("src");
    }
    return Promise.all([photoReady, qrReady]);
  }

  // Resolve true once an image is decoded; false if it is broken or too slow.
  function decoded(img) {
    return new Promise(function (resolve) {
      var timer = setTimeout(function () { resolve(false); }, PHOTO_TIMEOUT_MS);
      img.decode().then(
        function () { clearTimeout(timer); resolve(img.naturalWidth > 0); },
        function () { clearTimeout(timer); resolve(false); }
      );
    });
  }

  // Put the slide's words in. Hyphens are non-breaking ("Co-op" must not end
  // one line and start the next) unless a long compound name needs the room.
  function setTexts(slide, breakable) {
    (slide.texts || []).forEach(function (pair) {
      var value = pair[1] || "";
      slide.querySelector(pair[0]).textContent = breakable ? value : value.replace(/-/g, "\u2011");
    });
  }

  // Shrink the text until it fits its column: never clipped, never broken
  // mid-word. First at readable sizes; then letting compound words break at
  // their hyphens; only then below the minimum sizes rather than clip.
  function fit(slide) {
    var box = slide.querySelector(".slide-text");
    slide.classList.remove("is-tight");
    setTexts(slide, false);
    if (search(box, MIN_FIT)) return;
    setTexts(slide, true);
    if (search(box, MIN_FIT)) return;
    slide.classList.add("is-tight");
    search(box, TIGHT_FIT);
  }

  // Set the largest --fit at which the box does not overflow; false if none does.
  function search(box, lowest) {
    box.style.setProperty("--fit", "1");
    if (!overflows(box)) return true;
    box.style.setProperty("--fit", String(lowest));
    if (overflows(box)) return false;
    var lo = lowest, hi = 1;
    for (var i = 0; i < 8; i++) {
      var mid = (lo + hi) / 2;
      box.style.setProperty("--fit", String(mid));
      if (overflows(box)) hi = mid; else lo = mid;
    }
    box.style.setProperty("--fit", String(lo));
    return true;
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

  function heartbeat() {
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

  // -- a screen that runs for months -----------------------------------------------

  function minutesOf(hhmm) {
    var m = /^(\d{1,2}):(\d{2})$/.exec(hhmm || "");
    return m ? Number(m[1]) * 60 + Number(m[2]) : null;
  }

  // Outside its hours a screen goes dark, to spare the panel and the power bill.
  function checkHours() {
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
  function shift() {
    var x = Math.round(Math.random() * 8 - 4);
    var y = Math.round(Math.random() * 8 - 4);
    body.style.setProperty("--shift-x", x + "px");
    body.style.setProperty("--shift-y", y + "px");
  }

  function clockTick() {
    checkHours();
    checkReload();
    // Nothing here reads them, and the browser would keep hundreds.
    if (performance.clearResourceTimings) performance.clearResourceTimings();
  }

  // Keep a copy of this page and what it needs, for a reload while the server is away.
  function offlineCopy() {
    var urls = [location.href];
    document.querySelectorAll("link[rel=stylesheet], script[src]").forEach(function (el) {
      urls.push(el.href || el.src);
    });
    return navigator.serviceWorker.ready.then(function (registration) {
      if (registration.active) registration.active.postMessage({ cache: urls });
    });
  }

  slides.forEach(function (slide) {
    slide.addEventListener("transitionend", function (event) {
      if (event.target === slide && event.propertyName === "opacity" &&
          slide.classList.contains("is-front")) {
        settle();
      }
    });
  });
  window.addEventListener("resize", function () {
    applyScreen();
    slides.forEach(fit);
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
      // When the worker takes over, fetch the playlist through it once, so it
      // has a copy (and the photos) before the server is ever away.
      navigator.serviceWorker.addEventListener("controllerchange", function () { revalidate(); });
      navigator.serviceWorker.register(cfg.workerUrl, { scope: "/" }).then(offlineCopy).catch(function () {
        /* without it the kiosk still runs; it just cannot come back up offline */
      });
    }
  }
})();
