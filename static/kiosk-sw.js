/* Story Wall kiosk service worker.
 *
 * Keeps the last good kiosk page, its script and styles, the last playlist
 * and the photos it shows, so that a TV reloaded (or power-cycled) while the
 * server is away still comes up showing the wall. Live data is network-first;
 * photos and assets, whose URLs change when their content does, are cache-first.
 */
"use strict";

var CACHE = "storywall-kiosk-v1";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n !== CACHE; })
        .map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function offline(response) {
  var headers = new Headers(response.headers);
  headers.set("X-Kiosk-Offline", "1");
  return response.blob().then(function (blob) {
    return new Response(blob, { status: 200, headers: headers });
  });
}

// Network first; remember good answers; fall back to the last one, marked offline.
function networkFirst(request, key) {
  return fetch(request).then(function (response) {
    if (response.status === 200) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) {
        cache.put(key, copy.clone());
        if (key.indexOf("/api/stories") !== -1) copy.json().then(prunePhotos);
      });
    }
    return response;
  }, function () {
    return caches.open(CACHE).then(function (cache) {
      return cache.match(key).then(function (hit) {
        if (hit) return offline(hit);
        return new Response("offline", { status: 503, headers: { "X-Kiosk-Offline": "1" } });
      });
    });
  });
}

function cacheFirst(request) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request.url).then(function (hit) {
      if (hit) return hit;
      return fetch(request).then(function (response) {
        if (response.status === 200) cache.put(request.url, response.clone());
        return response;
      });
    });
  });
}

// Keep only the photos the current playlist can show: the cache never grows without end.
function prunePhotos(playlist) {
  var keep = new Set();
  (playlist.stories || []).forEach(function (s) {
    if (s.qr) keep.add(new URL(s.qr, self.location).href);
    if (!s.photo) return;
    keep.add(new URL(s.photo.src, self.location).href);
    [s.photo.webp, s.photo.jpeg].forEach(function (set) {
      (set || "").split(",").forEach(function (entry) {
        var url = entry.trim().split(" ")[0];
        if (url) keep.add(new URL(url, self.location).href);
      });
    });
  });
  caches.open(CACHE).then(function (cache) {
    cache.keys().then(function (requests) {
      requests.forEach(function (request) {
        var path = new URL(request.url).pathname;
        var isPhoto = path.indexOf("/photos/") === 0 || /\/qr\.svg$/.test(path);
        if (isPhoto && !keep.has(request.url)) cache.delete(request);
      });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  var path = url.pathname;
  if (path === "/api/events") return; // a live stream: never cached
  if (path === "/kiosk" || path.indexOf("/api/stories") === 0 || path.indexOf("/static/") === 0) {
    // Keyed by URL alone, so a revalidation and a first load share the entry.
    event.respondWith(networkFirst(request, request.url));
  } else if (path.indexOf("/photos/") === 0 || /\/qr\.svg$/.test(path)) {
    event.respondWith(cacheFirst(request));  // these URLs change when their content does
  }
});
