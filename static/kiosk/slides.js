/* The two slide elements: filling one, fitting its words, and the crossfade.
 *
 * A slide is only shown once its photo has decoded, and the outgoing slide
 * stays opaque underneath while the incoming one fades in, so there is never
 * a black or half-painted frame.
 */
import { body, state } from "./state.js";

const PHOTO_TIMEOUT_MS = 10000;  // a photo that never arrives must not stop the wall
const MIN_FIT = 0.3, TIGHT_FIT = 0.1;

export const slides = Array.prototype.slice.call(document.querySelectorAll(".slide"));

export function swap(cut) {
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
export function settle() {
  var front = slides[state.front];
  var back = slides[1 - state.front];
  if (!back.classList.contains("is-back")) return;
  front.classList.add("is-settled");
  void getComputedStyle(front).opacity; // jump the fade to its end before hiding what is below
  back.classList.remove("is-back");
  front.classList.remove("is-settled");
}

// A crossfade that has run its course is settled at once.
export function watchFades() {
  slides.forEach(function (slide) {
    slide.addEventListener("transitionend", function (event) {
      if (event.target === slide && event.propertyName === "opacity" &&
          slide.classList.contains("is-front")) {
        settle();
      }
    });
  });
}

export function hideAll() {
  slides.forEach(function (s) {
    s.classList.remove("is-front", "is-back");
    s.setAttribute("aria-hidden", "true");
    clear(s);
  });
}

function clear(slide) {
  slide.texts = null;
  slide.querySelectorAll(".slide-kind, .slide-to, .slide-name, .slide-role, .slide-quote")
    .forEach(function (el) { el.textContent = ""; });
  var img = slide.querySelector(".slide-img");
  img.removeAttribute("srcset");
  img.removeAttribute("src");
}

// Fill a slide; resolve once its photo and QR code are decoded, or known to
// be missing, broken or too slow: [photo ready, QR code ready].
export function render(slide, story) {
  slide.classList.toggle("is-thanks", story.kind === "thank-you");
  slide.texts = [
    [".slide-kind", story.kind === "thank-you" ? "Thank you" : ""],
    [".slide-to", story.to || ""],  // whom a thank-you is for: "To the night shift at Dayton"
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
    qrReady = decoded(qr).then(function (ok) {
      // The code is drawn one unit a module, so its width is its size in modules;
      // the CSS gives each module enough millimetres for a phone at 1.5 m.
      var modules = ok ? qr.naturalWidth : 0;
      if (modules && slide.style.getPropertyValue("--qr-modules") !== String(modules)) {
        slide.style.setProperty("--qr-modules", String(modules));
        fit(slide);  // a larger code takes more of the corner the words keep clear
      }
      return ok;
    });
  }
  var img = slide.querySelector(".slide-img");
  var photoReady = Promise.resolve(false);
  if (story.photo) {
    img.alt = story.photo.alt;
    img.style.objectPosition = story.photo.position;
    img.sizes = photoSizes();
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

// Every slide asks for its screen's rendition: "1920" is the photo fitted to a 1080p
// screen turned its way, "3840" to a 4K one (wall/photos.py), and either covers the
// photo's place in any slide on that screen. A layout turned against its screen (a
// screen set to portrait on a landscape display) stretches that place: one size up.
function photoSizes() {
  var crossed = body.classList.contains("is-portrait") !== (innerHeight > innerWidth);
  return crossed ? "calc(max(100vw, 100vh) * 16 / 9)" : "max(100vw, 100vh)";
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
export function fit(slide) {
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
