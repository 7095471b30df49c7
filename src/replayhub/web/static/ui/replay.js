/* ReplayHub player page: loads the events a few stored batches at a time, draws the
 * marker strip under the progress bar, seeks from the timeline, copies and shares links. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("replay-data").textContent);
  var CHUNK = 20; // stored batches per request
  var IMAGE_PLACEHOLDER =
    "img{background:#e5e7eb repeating-linear-gradient(45deg,#e5e7eb 0 8px,#d1d5db 8px 16px);" +
    "min-width:24px;min-height:24px;color:transparent;}";
  var player = null;
  var status = document.getElementById("player-status");

  function say(text) {
    status.textContent = text;
  }

  function fetchChunk(fromSeq) {
    var url = data.events_url + "?from_seq=" + fromSeq + "&limit_segments=" + CHUNK;
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) throw new Error("the hub answered " + response.status);
      var next = response.headers.get("X-Next-From-Seq");
      return response.json().then(function (events) {
        return { events: events, next: next === null ? null : Number(next) };
      });
    });
  }

  function playerSize() {
    var box = document.getElementById("player");
    var width = Math.max(320, box.clientWidth);
    var height = Math.max(240, Math.min(width * 0.6, window.innerHeight - 260));
    return { width: Math.round(width), height: Math.round(height) };
  }

  function makePlayer(events) {
    var Player = window.rrwebPlayer.Player || window.rrwebPlayer.default;
    var size = playerSize();
    player = new Player({
      target: document.getElementById("player"),
      props: {
        events: events,
        width: size.width,
        height: size.height - 80,
        autoPlay: false,
        skipInactive: true,
        showWarning: false,
        mouseTail: false,
        insertStyleRules: [IMAGE_PLACEHOLDER],
      },
    });
    window.replayhubPlayer = player;
    if (data.playlist) followPlaylist();
  }

  // In a playlist: play at once, and open the next session when this one ends.
  function followPlaylist() {
    var autoplay = document.getElementById("playlist-autoplay");
    player.addEventListener("finish", function () {
      document.body.dataset.finished = "true";
      if (data.playlist.next_url && autoplay && autoplay.checked) {
        window.location.assign(data.playlist.next_url);
      }
    });
  }

  function loaded(events) {
    return events.length ? events[events.length - 1].timestamp - events[0].timestamp : 0;
  }

  function currentMs() {
    try {
      return Math.max(0, Math.round(player.getReplayer().getCurrentTime()));
    } catch (e) {
      return data.t || 0;
    }
  }

  function seek(ms) {
    if (!player) return;
    player.goto(Math.max(0, ms), Boolean(data.playlist));
    document.body.dataset.position = String(ms);
  }

  function totalMs() {
    var meta = player ? player.getMetaData() : { totalTime: 0 };
    return Math.max(meta.totalTime || 0, data.duration_ms || 0, 1);
  }

  function drawMarkers() {
    var strip = document.getElementById("markers");
    var progress = document.querySelector(".rr-progress");
    if (!player || !progress) return;
    var stage = strip.parentElement.getBoundingClientRect();
    var bar = progress.getBoundingClientRect();
    strip.style.marginLeft = bar.left - stage.left + "px";
    strip.style.width = bar.width + "px";
    strip.textContent = "";
    var total = totalMs();
    data.markers.forEach(function (marker) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "marker kind-" + marker.kind;
      button.style.left = Math.min(100, (marker.t / total) * 100) + "%";
      var text = marker.kind.replace("_", " ") + " at " + clock(marker.t) + ": " + marker.label;
      button.title = text;
      button.setAttribute("aria-label", text);
      button.dataset.t = String(marker.t);
      button.addEventListener("click", function () {
        seek(marker.t);
      });
      strip.appendChild(button);
    });
  }

  function clock(ms) {
    var s = Math.floor(ms / 1000);
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function loadRest(next, events, positioned) {
    if (next === null) {
      if (!positioned) seek(data.t);
      drawMarkers();
      say("");
      document.body.dataset.loaded = "true";
      return Promise.resolve();
    }
    return fetchChunk(next).then(function (chunk) {
      chunk.events.forEach(function (event) {
        events.push(event);
        player.addEvent(event);
      });
      if (!positioned && loaded(events) >= data.t) {
        seek(data.t);
        positioned = true;
      }
      say("Loading the recording… " + clock(loaded(events)) + " so far");
      return loadRest(chunk.next, events, positioned);
    });
  }

  function start() {
    fetchChunk(0)
      .then(function (chunk) {
        if (!chunk.events.length) {
          say("This session has no stored events yet.");
          return;
        }
        makePlayer(chunk.events);
        var positioned = chunk.next === null || loaded(chunk.events) >= data.t;
        if (positioned) seek(data.t);
        drawMarkers();
        return loadRest(chunk.next, chunk.events.slice(), positioned);
      })
      .catch(function (error) {
        say("The recording could not be loaded: " + error.message);
      });
  }

  function showLink(url) {
    var out = document.getElementById("link-out");
    out.hidden = false;
    out.value = url;
    out.select();
    var copied = navigator.clipboard ? navigator.clipboard.writeText(url) : Promise.reject();
    return copied.then(
      function () {
        say("Link copied.");
      },
      function () {
        say("Copy the link from the box.");
      }
    );
  }

  function copyMoment() {
    showLink(location.origin + "/replays/" + encodeURIComponent(data.session_id) + "?t=" + currentMs());
  }

  function share() {
    fetch(data.share_url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ t: currentMs() }),
    })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.detail || response.status);
          return showLink(body.url);
        });
      })
      .catch(function (error) {
        say("No share link: " + error.message);
      });
  }

  document.querySelectorAll("#timeline .seek").forEach(function (button) {
    button.addEventListener("click", function () {
      seek(Number(button.dataset.t));
    });
  });
  var copyButton = document.getElementById("copy-moment");
  if (copyButton) copyButton.addEventListener("click", copyMoment);
  var shareButton = document.getElementById("share");
  if (shareButton) shareButton.addEventListener("click", share);
  window.addEventListener("resize", drawMarkers);
  start();
})();
