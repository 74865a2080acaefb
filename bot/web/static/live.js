// The live session page: notices as they arrive, the client's camera with a running off-timer, and notes that are never lost.
"use strict";
(function () {
  var root = document.getElementById("live");
  var sessionId = root.dataset.session;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var connection = document.getElementById("connection");
  var camera = document.getElementById("camera");
  var lastId = root.dataset.lastNotice || "0";
  var source = null;
  var ended = root.dataset.ended === "yes";  // the call is over: nothing here changes but notes and late notices
  var LIVE = "Live: updates arrive as they happen.";
  var ENDED = "The call has ended. Notes you add are still saved; the summary holds the record.";

  var zone = root.dataset.zone || undefined;  // the therapist's, as the server writes times

  function clock(iso) {
    return new Date(iso).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: zone });
  }

  function timesOff(count) {
    var span = ended ? " in the call" : " so far";
    return (count === 0 ? "Not off" : count === 1 ? "Off once" : "Off " + count + " times") + span;
  }

  function duration(seconds) {
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return (m ? m + " min " : "") + (s < 10 && m ? "0" : "") + s + " s";
  }

  function showCamera() {
    if (ended) {
      camera.className = "camera ended";
      camera.textContent = "Call ended";
      return;
    }
    var since = camera.dataset.offSince;
    if (!since) {
      camera.className = "camera on";
      camera.textContent = "On";
      return;
    }
    var seconds = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
    camera.className = "camera off";
    camera.textContent = "Off for " + duration(seconds) + " (since " + clock(since) + ")";
  }

  function item(list, text, at, className) {
    var li = document.createElement("li");
    if (className) { li.className = className; }
    var time = document.createElement("time");
    time.textContent = clock(at);
    li.appendChild(time);
    li.appendChild(document.createTextNode(" " + text));
    list.insertBefore(li, list.firstChild);
    return li;
  }

  function refresh() {
    fetch("/sessions/" + sessionId + "/live.json", { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state) { return; }
        if (state.status === "ended" && !ended) {
          ended = true;
          document.getElementById("status").textContent = "Ended";
          connection.textContent = ENDED;
        }
        camera.dataset.offSince = state.camera_off_since || "";
        document.getElementById("camera-count").textContent = timesOff(state.off_count);
        var present = document.getElementById("present");
        present.textContent = "";
        (state.present.length ? state.present : [ended ? "Nobody: the call has ended" : "Nobody yet"]).forEach(function (label) {
          var li = document.createElement("li");
          li.textContent = label;
          present.appendChild(li);
        });
        showCamera();
      })
      .catch(function () {});
  }

  // A note is kept in its box until the service has it; a dropped connection is retried and said so.
  function saveNote(form, promptId) {
    var box = form.querySelector("textarea");
    var status = form.querySelector(".note-status");
    var text = box.value.trim();
    if (!text || form.dataset.saving) { return; }
    form.dataset.saving = "1";
    var body = { text: text };
    if (promptId) { body.prompt_id = promptId; }
    var attempt = 0;
    function send() {
      attempt += 1;
      status.textContent = attempt > 1 ? "Saving again (try " + attempt + ")…" : "Saving…";
      fetch("/api/sessions/" + sessionId + "/notes", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body)
      }).then(function (response) {
        if (response.status >= 500 || response.status === 429 || response.status === 408) { throw new Error("retry"); }
        return response.json().then(function (answer) {
          delete form.dataset.saving;
          if (!response.ok) {
            status.textContent = "Not saved: " + (answer.reason || "the service refused it") + ". Your text is kept.";
            return;
          }
          box.value = "";
          status.textContent = "Saved at " + clock(answer.at) + ".";
          item(document.getElementById("notes"), text, answer.at);
          if (promptId) {
            var done = document.createElement("p");
            done.className = "saved";
            done.textContent = "Noted at " + clock(answer.at) + ".";
            form.replaceWith(done);
          }
        });
      }).catch(function () {
        var wait = Math.min(30, Math.pow(2, attempt));
        status.textContent = "Not saved yet: the connection dropped. Your text is kept; trying again in " + wait + " s.";
        setTimeout(send, wait * 1000);
      });
    }
    send();
  }

  function noteForm(form, promptId) {
    form.addEventListener("submit", function (event) { event.preventDefault(); saveNote(form, promptId); });
    form.querySelector("textarea").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); saveNote(form, promptId); }
    });
  }

  function addPrompt(notice) {
    if (document.querySelector('[data-prompt="' + notice.id + '"]')) { return; }
    document.getElementById("no-prompts").hidden = true;
    var li = item(document.getElementById("prompts"), notice.message, notice.at, "prompt");
    li.dataset.prompt = notice.id;
    var form = document.createElement("form");
    form.className = "note";
    var label = document.createElement("label");
    label.htmlFor = "note-" + notice.id;
    label.textContent = "Your note on this (Enter saves)";
    var box = document.createElement("textarea");
    box.id = "note-" + notice.id;
    box.name = "text";
    box.rows = 2;
    box.maxLength = 4000;
    var button = document.createElement("button");
    button.type = "submit";
    button.textContent = "Save note";
    var status = document.createElement("p");
    status.className = "note-status";
    status.setAttribute("role", "status");
    form.append(label, box, button, status);
    li.appendChild(form);
    noteForm(form, String(notice.id));
  }

  function onNotice(event) {
    lastId = event.lastEventId || lastId;
    var notice = JSON.parse(event.data);
    if (notice.session_id !== sessionId) { return; }
    if (notice.kind === "note_prompt") {
      addPrompt(notice);
    } else if (notice.kind !== "checklist_reminder" && notice.kind !== "start_reminder") {
      document.getElementById("no-alerts").hidden = true;
      item(document.getElementById("alerts"), notice.message, notice.at, "alert kind-" + notice.kind);
    }
    refresh();
  }

  function connect() {
    // The stream opens with a single-use ticket (never a token in the URL): a new one for each connection.
    fetch("/api/stream-tickets", { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) {
          connection.textContent = "Signed out: sign in again for live updates.";
          return null;
        }
        if (!response.ok) { throw new Error("no stream ticket"); }
        return response.json();
      })
      .then(function (answer) { if (answer) { listen(answer.ticket); } })
      .catch(function () {
        connection.textContent = "Connection lost: reconnecting…";
        setTimeout(connect, 3000);
      });
  }

  function listen(ticket) {
    // Replays what was raised after the last notice this page has: on the first connection from the
    // page's own newest, after that from the last one the stream brought.
    source = new EventSource("/api/notices/stream?ticket=" + encodeURIComponent(ticket) + "&last_event_id=" + encodeURIComponent(lastId));
    source.addEventListener("open", function () { connection.textContent = ended ? ENDED : LIVE; });
    source.addEventListener("notice", onNotice);
    source.addEventListener("session", function (event) {
      if (JSON.parse(event.data).session_id === sessionId) { refresh(); }
    });
    source.addEventListener("error", function () {
      // The browser would retry with the used ticket: close, and connect again with a new one.
      connection.textContent = "Connection lost: reconnecting…";
      source.close();
      setTimeout(connect, 3000);
    });
  }

  document.querySelectorAll("form.note").forEach(function (form) {
    noteForm(form, form.dataset.prompt || null);
  });
  showCamera();
  setInterval(showCamera, 1000);
  connect();
})();
