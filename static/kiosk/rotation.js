/* Choosing the next story and when: the cycle, each story's time, and
 * grouped screens stepping in lockstep on the server's clock.
 */
import { body, state, timers } from "./state.js";
import { render, settle, slides, swap } from "./slides.js";

// Screens of a group keep time by the server's clock: a TV's own may be off.
export function syncClock(serverMs, precise) {
  if (!serverMs) return;
  var offset = serverMs - Date.now();
  // An HTTP Date has whole seconds; a heartbeat's answer is better, unless
  // one of the clocks has clearly jumped since.
  if (!precise && state.clockPrecise && Math.abs(offset - state.clockOffset) < 1500) return;
  state.clockOffset = offset;
  state.clockPrecise = !!precise;
}

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

export function cancelPreparing() {
  var p = state.preparing;
  state.preparing = null;
  state.token += 1;
  // Its turn is not lost: it comes up next instead.
  if (p && !p.keep && state.stories.has(p.slug) && !grouped()) state.queue.unshift(p.slug);
}

// Bring a story to the front: the next one in rotation, or opts.slug again
// after an edit (opts.keep: it keeps its remaining time). opts.cut: no fade.
export function show(opts) {
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
