/* Story Wall kiosk service worker.
 *
 * Keeps the last good kiosk page, its script modules and styles, the last
 * playlist and the photos it shows, so that a TV reloaded (or power-cycled) while the
 * server is away still comes up showing the wall. Live data is network-first;
 * photos and QR codes, whose URLs change when their content does, are
 * cache-first.
 *
 * A story that leaves the playlist (withdrawn, unpublished, deleted) leaves
 * this cache as soon as the new playlist arrives: its photos and QR code are
 * deleted, and the playlist kept for an offline reload is always the last one
 * the page was given.
 */
"use strict";

var CACHE = "storywall-kiosk-v2";

// Playlist writes and the photo upkeep that follows each, one after another:
// a slow older one must never finish after, and undo, a newer one.
var playlistWork = Promise.resolve();
// The photo folders (/photos/<slug>/<token>/) and QR codes the latest playlist
// shows; null until this worker has seen one (it may have been restarted).
var latest = null;

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
  if (!isPlaylist(key)) return put(key, response);
  // Read now, so the body is not lost while earlier work finishes.
  var copy = response.clone();
  var playlist = copy.json();
  var purged = playlistWork.then(function () {
    return put(key, response).then(function () { return playlist; }).then(purgePhotos);
  });
  playlistWork = purged.catch(function () { /* a full disk or a bad body must not stop the next */ });
  return purged.then(fetchPhotos, function () {});
}

function put(key, response) {
  return caches.open(CACHE).then(function (cache) {
    return cache.put(key, response);
  }).catch(function () { /* a full disk must not break the page */ });
}

// Network first; remember good answers; when the server is away or failing,
// answer with the last good one, marked offline.
function networkFirst(event) {
  var request = event.request;
  var key = request.url;
  return fetch(request).then(function (response) {
    if (response.status === 200) {
      // Kept alive until stored: a worker stopped halfway would leave an
      // older playlist for the next offline reload.
      keepAlive(event, remember(key, response.clone()));
    } else if (response.status === 304 && isPlaylist(key)) {
      keepAlive(event, refreshIfStale(key, request.headers.get("If-None-Match")));
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

// Keep the worker running until `work` is done. Allowed here because the
// answer to the page is still pending; if a browser refuses, the work still
// runs, only unprotected.
function keepAlive(event, work) {
  try { event.waitUntil(work); } catch (e) { /* see above */ }
}

function fromCache(key) {
  return caches.open(CACHE).then(function (cache) { return cache.match(key); })
    .then(function (hit) { return hit ? offline(hit) : null; });
}

// The page already had this playlist (304), but the copy kept here may be
// older, or missing if the page loaded before this worker: fetch it whole.
function refreshIfStale(key, etag) {
  return caches.open(CACHE).then(function (cache) { return cache.match(key); }).then(function (hit) {
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
        // A photo of a story the playlist no longer has is not kept.
        if (response.status === 200) keepIfWanted(cache, request.url, response.clone());
        return response;
      }, function () { return anyRendition(cache, request.url); });
    });
  });
}

function folderOf(url) {
  return url.slice(0, url.lastIndexOf("/") + 1);
}

function wanted(url) {
  return latest === null || latest.has(url) || latest.has(folderOf(url));
}

// Offline, any kept size of the same photo is better than none.
function anyRendition(cache, url) {
  var prefix = folderOf(url); // /photos/<slug>/<token>/
  if (!wanted(url)) return Promise.resolve(Response.error());
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

// Delete the photos and QR codes of every story the playlist no longer has,
// at once: a withdrawn story must not stay in the cache (and the cache never
// grows without end). Resolves with what is left to fetch.
function purgePhotos(playlist) {
  var keep = new Set();
  var fetchList = [];
  (playlist.stories || []).forEach(function (s) {
    if (s.qr) {
      keep.add(new URL(s.qr, self.location).href);
      fetchList.push(new URL(s.qr, self.location).href);
    }
    if (!s.photo) return;
    var src = new URL(s.photo.src, self.location).href;
    keep.add(src);
    fetchList.push(src);
    [s.photo.webp, s.photo.jpeg].forEach(function (set) {
      (set || "").split(",").forEach(function (entry) {
        var url = entry.trim().split(" ")[0];
        if (url) keep.add(new URL(url, self.location).href);
      });
    });
  });
  latest = new Set(keep);
  keep.forEach(function (url) { if (!isQr(url)) latest.add(folderOf(url)); });
  return caches.open(CACHE).then(function (cache) {
    return cache.keys().then(function (requests) {
      var have = new Set();
      var gone = [];
      requests.forEach(function (request) {
        if (!isPhoto(request.url)) return;
        if (keep.has(request.url)) have.add(folderOf(request.url));
        else gone.push(cache.delete(request));
      });
      return Promise.all(gone).then(function () {
        return fetchList.filter(function (url) { return isQr(url) || !have.has(folderOf(url)); });
      });
    });
  });
}

// Keep one rendition of every photo the playlist can show, and its QR code.
// Not in line with the playlist work: a slow photo must not hold up the next
// purge. A photo that a newer playlist dropped meanwhile is not kept.
function fetchPhotos(urls) {
  return caches.open(CACHE).then(function (cache) {
    return Promise.all(urls.map(function (url) {
      return cache.match(url).then(function (hit) {
        if (hit || !wanted(url)) return null;
        return fetch(url).then(function (response) {
          if (response.status === 200) return keepIfWanted(cache, url, response);
        }, function () { /* next playlist */ });
      });
    }));
  }).catch(function () { /* next playlist */ });
}

// Checked again once stored: a purge may have run while it was being written.
function keepIfWanted(cache, url, response) {
  if (!wanted(url)) return null;
  return cache.put(url, response).then(function () {
    if (!wanted(url)) return cache.delete(url);
  });
}

function isQr(url) {
  return /\/qr\.svg$/.test(new URL(url).pathname);
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
    event.respondWith(networkFirst(event));
  } else if (isPhoto(request.url)) {
    event.respondWith(cacheFirst(request));  // these URLs change when their content does
  }
});
