/* Story Wall hallway kiosk.
 *
 * Rotates through /api/stories on two reused slide elements. A slide is only
 * shown once its photo has decoded, and the outgoing slide stays opaque
 * underneath while the incoming one fades in, so there is never a black or
 * half-painted frame. /api/events says when to revalidate the playlist; a
 * slow poll is the fallback. When the server is away the kiosk keeps showing
 * what it has, and a service worker lets a reload come back up offline.
 *
 * Native ES modules, no build step: playlist.js (the playlist, events, poll),
 * rotation.js (what comes next, and when), slides.js (filling, fitting and
 * crossfading the slides), upkeep.js (heartbeats, hours, reload, burn-in,
 * service worker) and state.js (what they share). This file only starts them.
 *
 * Everything runs on a fixed set of timers held in `timers`, and every
 * listener is added once, so nothing piles up over months.
 *
 * For tests and for debugging on a TV: body[data-current] is the slug on
 * screen, body[data-slides] counts slide changes and body[data-playlist] is
 * the ETag of the playlist in use.
 */
import { cfg, preview } from "./state.js";
import { fit, slides, watchFades } from "./slides.js";
import { POLL_MS, applyScreen, connect, reconnect, revalidate } from "./playlist.js";
import {
  CLOCK_EVERY_MS, SHIFT_EVERY_MS, checkHours, clockTick, heartbeat, registerWorker, shift
} from "./upkeep.js";

watchFades();
window.addEventListener("resize", function () {
  applyScreen();
  slides.forEach(fit);
});
window.addEventListener("online", function () { if (preview) revalidate(); else reconnect(); });

setInterval(revalidate, POLL_MS);
setInterval(clockTick, CLOCK_EVERY_MS);
setInterval(shift, SHIFT_EVERY_MS);
revalidate().then(checkHours);
if (!preview) {
  connect();
  var every = Number(cfg.heartbeatSeconds) || 60;
  setInterval(heartbeat, every * 1000);
  setTimeout(heartbeat, 5000);
  registerWorker();
}
