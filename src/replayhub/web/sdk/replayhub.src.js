/*
 * ReplayHub recorder snippet.
 *
 *   <script src="https://HUB/sdk/replayhub.js"></script>
 *   <script>
 *     ReplayHub.init({ key: "APP_KEY" });
 *     ReplayHub.identify({ id: "42", email: "ada@example.com", name: "Ada" });
 *   </script>
 *
 * Records the page with rrweb (all inputs masked), adds console errors and
 * warnings, uncaught errors, failed network requests and SPA navigations as
 * events, and posts batches to ENDPOINT/api/v1/ingest?key=KEY.
 *
 * Rule of the house: nothing in here may throw into the page or block it,
 * whatever the hub does (slow, down, rejecting).
 */
import { record } from "rrweb";
import { getRecordConsolePlugin } from "@rrweb/rrweb-plugin-console-record";

var SDK = "replayhub-js/0.1";
var MAX_BUFFER_EVENTS = 500; // flush early past this many buffered events
var MAX_OUTBOX_BATCHES = 20; // unsent batches kept at most ...
var MAX_OUTBOX_BYTES = 5 * 1024 * 1024; // ... and at most this many characters
var KEEPALIVE_LIMIT = 60000; // browsers refuse keepalive/beacon bodies past ~64 KB
var SEND_TIMEOUT = 20000; // ms before a silent hub counts as a failed send
var STORE = "replayhub:"; // sessionStorage key prefix

var scriptOrigin = (function () {
  try {
    return new URL(document.currentScript.src).origin;
  } catch (e) {
    return "";
  }
})();

var cfg = null; // {key, endpoint, url, flushInterval}
var session = null; // {id, seq} -- seq is the next one to use
var user = null;
var buffer = []; // rrweb events not yet cut into a batch
var outbox = []; // [{seq, body}] cut, not yet accepted by the hub
var pending = []; // custom events waiting for rrweb to start
var nativeFetch = null;
var sending = null; // promise of the running send loop
var retryTimer = null;
var attempt = 0;

function safe(fn) {
  return function () {
    try {
      return fn.apply(this, arguments);
    } catch (e) {
      /* never break the page */
    }
  };
}

// ---- storage (sessionStorage may be missing or full: ignore) -------------

function load(name) {
  try {
    return JSON.parse(window.sessionStorage.getItem(STORE + name));
  } catch (e) {
    return null;
  }
}

function save(name, value) {
  try {
    if (value == null) window.sessionStorage.removeItem(STORE + name);
    else window.sessionStorage.setItem(STORE + name, JSON.stringify(value));
  } catch (e) {
    /* quota, privacy mode... */
  }
}

function newId() {
  var c = window.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  var b = new Uint8Array(16);
  if (c && c.getRandomValues) c.getRandomValues(b);
  else for (var i = 0; i < 16; i++) b[i] = (Math.random() * 256) | 0;
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  var h = Array.prototype.map
    .call(b, function (x) {
      return (x + 0x100).toString(16).slice(1);
    })
    .join("");
  return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
}

// ---- events ---------------------------------------------------------------

function onEvent(event) {
  buffer.push(event);
  if (event.type === 2) setTimeout(drainPending, 0); // FullSnapshot: recording has started
  if (buffer.length > MAX_BUFFER_EVENTS) setTimeout(tick, 0);
}

function custom(tag, payload) {
  try {
    record.addCustomEvent(tag, payload);
  } catch (e) {
    // rrweb is not recording yet (document still loading): keep it for later
    if (pending.length < 100) pending.push([tag, payload]);
  }
}

function drainPending() {
  var list = pending;
  pending = [];
  for (var i = 0; i < list.length; i++) custom(list[i][0], list[i][1]);
}

function str(v) {
  return v == null ? null : String(v).slice(0, 2000);
}

function watchErrors() {
  window.addEventListener(
    "error",
    safe(function (e) {
      var err = e.error;
      custom("error", {
        type: (err && err.name) || "Error",
        message: str((err && err.message) || e.message),
        stack: str(err && err.stack),
        url: str(e.filename || location.href),
      });
    })
  );
  window.addEventListener(
    "unhandledrejection",
    safe(function (e) {
      var r = e.reason;
      custom("error", {
        type: "UnhandledRejection",
        message: str(r && r.message !== undefined ? r.message : r),
        stack: str(r && r.stack),
        url: str(location.href),
      });
    })
  );
}

function isOwn(url) {
  return String(url).indexOf(cfg.endpoint + "/api/v1/ingest") === 0;
}

function absolute(url) {
  try {
    return new URL(url, location.href).href;
  } catch (e) {
    return String(url);
  }
}

function netError(method, url, status, message) {
  url = absolute(url);
  if (isOwn(url)) return;
  custom("network-error", {
    method: String(method || "GET").toUpperCase(),
    url: str(url),
    status: status,
    message: str(message),
  });
}

function watchNetwork() {
  if (nativeFetch) {
    window.fetch = function (input, init) {
      var method = (init && init.method) || (input && input.method) || "GET";
      var url = input && input.url ? input.url : String(input);
      var p = nativeFetch.apply(this, arguments);
      try {
        p.then(
          safe(function (res) {
            if (res.status >= 500) netError(method, url, res.status, res.statusText);
          }),
          safe(function (err) {
            netError(method, url, 0, (err && err.message) || "network error");
          })
        );
      } catch (e) {
        /* ignore */
      }
      return p;
    };
  }
  var XHR = window.XMLHttpRequest;
  if (!XHR) return;
  var open = XHR.prototype.open;
  var send = XHR.prototype.send;
  XHR.prototype.open = function (method, url) {
    try {
      this.__rh = { method: method, url: String(url) };
    } catch (e) {
      /* ignore */
    }
    return open.apply(this, arguments);
  };
  XHR.prototype.send = function () {
    try {
      var xhr = this;
      var info = xhr.__rh;
      if (info && !info.hooked) {
        info.hooked = true;
        var fail = safe(function (e) {
          netError(info.method, info.url, 0, e.type === "timeout" ? "timeout" : "network error");
        });
        xhr.addEventListener("error", fail);
        xhr.addEventListener("timeout", fail);
        xhr.addEventListener(
          "load",
          safe(function () {
            if (xhr.status >= 500) netError(info.method, info.url, xhr.status, xhr.statusText);
          })
        );
      }
    } catch (e) {
      /* ignore */
    }
    return send.apply(this, arguments);
  };
}

function watchNavigation() {
  var nav = safe(function () {
    custom("navigation", { href: location.href, title: document.title });
  });
  ["pushState", "replaceState"].forEach(function (name) {
    var orig = history[name];
    if (typeof orig !== "function") return;
    history[name] = function () {
      var result = orig.apply(this, arguments);
      nav();
      return result;
    };
  });
  window.addEventListener("popstate", nav);
}

// ---- batching and sending -------------------------------------------------

function cut() {
  if (!buffer.length) return;
  var events = buffer;
  buffer = [];
  var seq = session.seq++;
  save("session", session);
  var body = JSON.stringify({
    app_key: cfg.key,
    session_id: session.id,
    seq: seq,
    user: user,
    metadata: {
      user_agent: navigator.userAgent,
      language: navigator.language || null,
      url: location.href,
      referrer: document.referrer || null,
      sdk: SDK,
    },
    events: events,
  });
  outbox.push({ seq: seq, body: body });
  bound();
}

function bound() {
  var total = 0;
  for (var i = 0; i < outbox.length; i++) total += outbox[i].body.length;
  var dropped = false;
  while (outbox.length > 1 && (outbox.length > MAX_OUTBOX_BATCHES || total > MAX_OUTBOX_BYTES)) {
    total -= outbox.shift().body.length; // oldest whole batch; its seq stays unused
    dropped = true;
  }
  // The hub will miss a stretch: start the next batch with a fresh snapshot
  // so the rest of the session can still be replayed.
  if (dropped) safe(record.takeFullSnapshot)(true);
}

function post(body) {
  // A hub that never answers must not stall the queue: give up after a while.
  var ctrl = typeof AbortController === "function" ? new AbortController() : null;
  var timer = ctrl ? setTimeout(function () { ctrl.abort(); }, SEND_TIMEOUT) : null;
  var done = function (ok) {
    clearTimeout(timer);
    return ok;
  };
  return nativeFetch(cfg.url, {
    method: "POST",
    body: body,
    headers: { "Content-Type": "application/json" },
    keepalive: body.length < KEEPALIVE_LIMIT,
    credentials: "omit",
    signal: ctrl ? ctrl.signal : undefined,
  }).then(
    function (res) {
      // 4xx (other than 408/429) will not get better by retrying: drop it.
      var s = res.status;
      return done(res.ok || (s >= 400 && s < 500 && s !== 408 && s !== 429));
    },
    function () {
      return done(false);
    }
  );
}

function drain() {
  if (!outbox.length || retryTimer) return Promise.resolve();
  var batch = outbox[0];
  return post(batch.body).then(function (ok) {
    if (ok) {
      attempt = 0;
      var i = outbox.indexOf(batch);
      if (i >= 0) outbox.splice(i, 1);
      return drain();
    }
    // 1 s, 2 s, 4 s ... capped at 60 s, with +-25% jitter
    var delay = Math.min(60000, 1000 * Math.pow(2, attempt++)) * (0.75 + Math.random() * 0.5);
    retryTimer = setTimeout(function () {
      retryTimer = null;
      pump();
    }, delay);
  });
}

function pump() {
  if (!sending) {
    sending = drain()
      .catch(function () {})
      .then(function () {
        sending = null;
      });
  }
  return sending;
}

var tick = safe(function () {
  cut();
  pump();
});

var leave = safe(function () {
  cut();
  var kept = [];
  for (var i = 0; i < outbox.length; i++) {
    var b = outbox[i];
    var sent = false;
    try {
      sent = b.body.length < KEEPALIVE_LIMIT && navigator.sendBeacon(cfg.url, b.body);
    } catch (e) {
      /* ignore */
    }
    if (!sent) kept.push(b);
  }
  outbox = kept;
  // Too big for a beacon: keep it for the next page of this tab (bounded).
  save("outbox", outbox.length ? outbox : null);
});

// ---- public API -----------------------------------------------------------

function init(options) {
  try {
    if (cfg || !options || !options.key) return;
    var endpoint = String(options.endpoint || scriptOrigin || location.origin).replace(/\/+$/, "");
    cfg = {
      key: String(options.key),
      endpoint: endpoint,
      url: endpoint + "/api/v1/ingest?key=" + encodeURIComponent(options.key),
      flushInterval: Math.max(500, Number(options.flushInterval) || 5000),
    };
    session = load("session");
    if (!session || typeof session.id !== "string" || typeof session.seq !== "number") {
      session = { id: newId(), seq: 0 };
      save("session", session);
      save("outbox", null);
    }
    user = user || load("user");
    outbox = (load("outbox") || []).slice(-MAX_OUTBOX_BATCHES);
    save("outbox", null);
    nativeFetch = typeof window.fetch === "function" ? window.fetch.bind(window) : null;

    watchErrors();
    watchNetwork();
    watchNavigation();
    record({
      emit: onEvent,
      maskAllInputs: true,
      plugins: [getRecordConsolePlugin({ level: ["error", "warn"] })],
    });
    if (user) custom("identify", user);

    if (nativeFetch) {
      setInterval(tick, cfg.flushInterval);
      window.addEventListener("pagehide", leave);
      document.addEventListener("visibilitychange", function () {
        if (document.visibilityState === "hidden") leave();
      });
      pump();
    }
  } catch (e) {
    /* never break the page */
  }
}

function identify(who) {
  try {
    who = who || {};
    user = {
      id: who.id == null ? null : String(who.id),
      email: who.email == null ? null : String(who.email),
      name: who.name == null ? null : String(who.name),
    };
    save("user", user);
    if (cfg) custom("identify", user);
  } catch (e) {
    /* never break the page */
  }
}

function flush() {
  try {
    if (!cfg || !nativeFetch) return Promise.resolve();
    cut();
    if (retryTimer) {
      clearTimeout(retryTimer); // an explicit flush retries right away
      retryTimer = null;
    }
    return pump();
  } catch (e) {
    return Promise.resolve();
  }
}

window.ReplayHub = {
  init: init,
  identify: identify,
  flush: flush,
  sessionId: function () {
    return session ? session.id : null;
  },
};
