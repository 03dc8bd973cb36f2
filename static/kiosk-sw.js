/* Story Wall kiosk service worker.
 *
 * Keeps the last good kiosk page, its script modules and styles, the last
 * playlist and the photos it shows, so that a TV reloaded (or power-cycled) while the
 * server is away still comes up showing the wall. Live data is network-first;
 * photos and QR codes, whose URLs change when their content does, are
 * cache-first.
 */
"use strict";

var CACHE = "storywall-kiosk-v2";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n !== CACHE; })
        .map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); })
  );
});

// The kiosk page sends the URLs it was loaded from (the page, its styles and
// every script module): the first load never comes through this worker, so
// keep them now.
self.addEventListener("message", function (event) {
  var urls = (event.data && event.data.cache) || [];
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(urls.filter(sameOrigin).map(function (url) {
      return fetch(url, { cache: "no-store" }).then(function (response) {
        if (response.status === 200) return cache.put(url, response);
      }, function () { /* the server is away: keep what we had */ });
    }));
  }));
});

function sameOrigin(url) {
  try { return new URL(url).origin === self.location.origin; } catch (e) { return false; }
}

function isPlaylist(url) {
  return new URL(url).pathname === "/api/stories";
}

function offline(response) {
  var headers = new Headers(response.headers);
  headers.set("X-Kiosk-Offline", "1");
  return response.blob().then(function (blob) {
    return new Response(blob, { status: 200, headers: headers });
  });
}

function remember(key, response) {
  return caches.open(CACHE).then(function (cache) {
    var copy = response.clone();
    return cache.put(key, response).then(function () {
      if (isPlaylist(key)) return copy.json().then(keepPhotos);
    });
  }).catch(function () { /* a full disk must not break the page */ });
}

// Network first; remember good answers; when the server is away or failing,
// answer with the last good one, marked offline.
function networkFirst(request) {
  var key = request.url;
  return fetch(request).then(function (response) {
    if (response.status === 200) {
      remember(key, response.clone());
    } else if (response.status === 304 && isPlaylist(key)) {
      refreshIfStale(key, request.headers.get("If-None-Match"));
    } else if (response.status >= 500) {
      return fromCache(key).then(function (hit) { return hit || response; });
    }
    return response;
  }, function () {
    return fromCache(key).then(function (hit) {
      return hit || new Response("offline", { status: 503, headers: { "X-Kiosk-Offline": "1" } });
    });
  });
}

function fromCache(key) {
  return caches.open(CACHE).then(function (cache) { return cache.match(key); })
    .then(function (hit) { return hit ? offline(hit) : null; });
}

// The page already had this playlist (304), but the copy kept here may be
// older, or missing if the page loaded before this worker: fetch it whole.
function refreshIfStale(key, etag) {
  caches.open(CACHE).then(function (cache) { return cache.match(key); }).then(function (hit) {
    if (hit && hit.headers.get("ETag") === etag) return;
    return fetch(key, { cache: "no-store" }).then(function (response) {
      if (response.status === 200) return remember(key, response);
    });
  }).catch(function () { /* next time */ });
}

function cacheFirst(request) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request.url).then(function (hit) {
      if (hit) return hit;
      return fetch(request).then(function (response) {
        if (response.status === 200) cache.put(request.url, response.clone());
        return response;
      }, function () { return anyRendition(cache, request.url); });
    });
  });
}

// Offline, any kept size of the same photo is better than none.
function anyRendition(cache, url) {
  var prefix = url.slice(0, url.lastIndexOf("/") + 1); // /photos/<slug>/<token>/
  return cache.keys().then(function (requests) {
    for (var i = 0; i < requests.length; i++) {
      if (requests[i].url.indexOf(prefix) === 0 && isPhoto(requests[i].url)) {
        return cache.match(requests[i]);
      }
    }
    return Response.error();
  });
}

function isPhoto(url) {
  var path = new URL(url).pathname;
  return path.indexOf("/photos/") === 0 || /\/qr\.svg$/.test(path);
}

// Keep one rendition of every photo the playlist can show, and its QR code;
// drop the photos it no longer shows, so the cache never grows without end.
function keepPhotos(playlist) {
  var keep = new Set();
  var wanted = [];
  (playlist.stories || []).forEach(function (s) {
    if (s.qr) {
      keep.add(new URL(s.qr, self.location).href);
      wanted.push(new URL(s.qr, self.location).href);
    }
    if (!s.photo) return;
    var src = new URL(s.photo.src, self.location).href;
    keep.add(src);
    wanted.push(src);
    [s.photo.webp, s.photo.jpeg].forEach(function (set) {
      (set || "").split(",").forEach(function (entry) {
        var url = entry.trim().split(" ")[0];
        if (url) keep.add(new URL(url, self.location).href);
      });
    });
  });
  return caches.open(CACHE).then(function (cache) {
    return cache.keys().then(function (requests) {
      var have = new Set();
      requests.forEach(function (request) {
        if (!isPhoto(request.url)) return;
        if (keep.has(request.url)) have.add(request.url.slice(0, request.url.lastIndexOf("/") + 1));
        else cache.delete(request);
      });
      return Promise.all(wanted.map(function (url) {
        var prefix = url.slice(0, url.lastIndexOf("/") + 1);
        if (have.has(prefix) && !/\/qr\.svg$/.test(url)) return null;
        return cache.match(url).then(function (hit) {
          if (hit) return null;
          return fetch(url).then(function (response) {
            if (response.status === 200) return cache.put(url, response);
          }, function () { /* next playlist */ });
        });
      }));
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  var path = url.pathname;
  if (path === "/api/events") return; // a live stream: never cached
  if (path === "/kiosk" || path === "/api/stories" || path.indexOf("/static/") === 0 ||
      path.indexOf("/kiosk/theme/") === 0) {
    // Keyed by URL alone, so a revalidation and a first load share the entry.
    event.respondWith(networkFirst(request));
  } else if (isPhoto(request.url)) {
    event.respondWith(cacheFirst(request));  // these URLs change when their content does
  }
});
