/* ReplayHub player page: "Send to Slack" posts the current moment of the replay to a Slack
 * channel (POST /api/v1/sessions/{id}/links with target "slack"), tagging people by e-mail. */
(function () {
  "use strict";
  var form = document.getElementById("send-slack");
  if (!form) return;
  var data = JSON.parse(document.getElementById("replay-data").textContent);
  var status = document.getElementById("player-status");

  function currentMs() {
    try {
      return Math.max(0, Math.round(window.replayhubPlayer.getReplayer().getCurrentTime()));
    } catch (error) {
      return data.t || 0;
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var mention = form.elements.mention.value.split(/[\s,;]+/).filter(Boolean);
    fetch("/api/v1/sessions/" + encodeURIComponent(data.session_id) + "/links", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        target: "slack",
        channel: form.elements.channel.value.trim(),
        t: currentMs(),
        mention: mention,
      }),
    })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.detail || response.status);
          status.textContent = "Sent to Slack (delivery " + body.delivery_id + ").";
        });
      })
      .catch(function (error) {
        status.textContent = "Not sent to Slack: " + error.message;
      });
  });
})();
