/* Small helps for moderators; every page works without them. */
"use strict";
document.querySelectorAll(".copy-button").forEach(function (button) {
  var source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(source.value).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy the link"; }, 2000);
    }, function () { source.select(); });
  });
});
