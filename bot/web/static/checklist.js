// Tick a checklist point with one tap, in place; without this script the forms post and the page reloads.
"use strict";
(function () {
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var progress = document.getElementById("progress");
  var count = document.getElementById("progress-count");

  var zone = document.getElementById("main").dataset.zone || undefined;  // the therapist's, as the server writes times

  function timeText(iso) {
    var at = new Date(iso);
    return at.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: zone }) +
      " on " + at.toLocaleDateString("en-GB", { day: "2-digit", month: "short", timeZone: zone });
  }

  function ticked(form, at) {
    var point = form.closest(".point");
    if (!point.classList.contains("done")) {
      point.classList.add("done");
      progress.value = Number(progress.value) + 1;
      count.textContent = progress.value + " of " + progress.max;
    }
    var button = form.querySelector("button");
    button.setAttribute("aria-pressed", "true");
    button.querySelector(".box").textContent = "✓";
    button.querySelector(".visually-hidden").textContent = "Checked";
    point.querySelector(".when").textContent = "Checked at " + timeText(at);
  }

  document.querySelectorAll("form.tick").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var when = form.closest(".point").querySelector(".when");
      fetch(form.dataset.api, { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (body) { ticked(form, body.confirmed_at); })
        .catch(function () { when.textContent = "Not saved: the connection failed. Tap again."; });
    });
  });
})();
