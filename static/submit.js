/* Story form: a photo preview, a live TV preview and a quote counter.
 *
 * Only an enhancement: the form works the same without it, and the server
 * checks everything again. Text goes into the page with textContent, never
 * as HTML.
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");
  var form = document.querySelector(".story-form");
  if (!form) return;
  var tv = document.getElementById("tv");
  var field = function (name) { return form.elements.namedItem(name); };

  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();

  // -- the TV preview ------------------------------------------------------

  function value(name) {
    var el = field(name);
    return el && el.value ? el.value.replace(/\s+/g, " ").trim() : "";
  }

  function initials(name) {
    var words = name.split(/[\s-]+/).filter(function (w) { return /^[\p{L}\p{N}]/u.test(w); });
    if (!words.length) return "?";
    var letters = words[0][0] + (words.length > 1 ? words[words.length - 1][0] : "");
    return letters.toUpperCase();
  }

  function kind() {
    var checked = form.querySelector("input[name=kind]:checked");
    return checked ? checked.value : "story";
  }

  function updateTv() {
    if (!tv) return;
    var name = value("name");
    tv.querySelector(".tv-name").textContent = name || "Their name";
    tv.querySelector(".tv-role").textContent =
      [value("role"), value("company")].filter(Boolean).join(", ") || "Role, Company";
    tv.querySelector(".tv-quote").textContent =
      value("quote") || value("title") || "One sentence in their words.";
    tv.querySelector(".tv-initials span").textContent = initials(name);
    tv.classList.toggle("is-thanks", kind() === "thank-you");
  }

  ["name", "role", "company", "quote", "title"].forEach(function (name) {
    var el = field(name);
    if (el) el.addEventListener("input", updateTv);
  });
  Array.prototype.forEach.call(form.querySelectorAll("input[name=kind]"), function (el) {
    el.addEventListener("change", updateTv);
  });

  // -- the quote's length ----------------------------------------------------

  var quote = field("quote");
  var counter = document.getElementById("quote-counter");
  function count() {
    var limit = Number(quote.dataset.limit) || 200;
    var used = value("quote").length;
    counter.hidden = used === 0;
    counter.textContent = used > limit
      ? used + " characters: " + (used - limit) + " too many for the TV"
      : used + " of " + limit + " characters";
    counter.classList.toggle("is-over", used > limit);
  }
  if (quote && counter) {
    quote.addEventListener("input", count);
    count();
  }

  // -- the photo ---------------------------------------------------------------

  var input = field("photo");
  var preview = document.getElementById("photo-preview");
  var tvImg = tv && tv.querySelector(".tv-img");
  var objectUrl = null;

  function photoError(message) {
    var box = input.closest(".field");
    var error = box.querySelector(".field-error.js-photo");
    if (!message) {
      if (error) error.remove();
      return;
    }
    if (!error) {
      error = document.createElement("p");
      error.className = "field-error js-photo";
      error.setAttribute("role", "alert");
      box.insertBefore(error, box.querySelector(".photo-pick"));
    }
    error.textContent = message;
  }

  function showPhoto(url) {
    preview.hidden = !url;
    if (url) preview.src = url;
    if (tvImg) {
      if (url) tvImg.src = url;
      tv.classList.toggle("no-photo", !url);
    }
  }

  if (input && preview) {
    var kept = preview.getAttribute("src");
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      photoError(null);
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = null;
      if (!file) { showPhoto(kept); return; }
      var max = Number(input.dataset.maxBytes) || 0;
      if (max && file.size > max) {
        // Caught here, the rest of the form still sends; the photo would not.
        input.value = "";
        photoError("This photo is " + Math.round(file.size / 1048576) + " MB; the limit is " +
          Math.floor(max / 1048576) + " MB. Choose a smaller one.");
        showPhoto(kept);
        return;
      }
      objectUrl = URL.createObjectURL(file);
      showPhoto(objectUrl);
    });
    preview.addEventListener("error", function () {
      // HEIC and some other formats do not display in every browser; the
      // server converts them, so the preview is simply left out.
      if (objectUrl) showPhoto(null);
    });
    var remove = field("photo_remove");
    if (remove) {
      remove.addEventListener("change", function () {
        showPhoto(remove.checked ? null : objectUrl || kept);
      });
    }
  }

  updateTv();
})();
