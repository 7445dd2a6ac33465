#include "server/console/console_assets.h"

#include "server/console/console_html.h"

namespace plumb {
namespace {

constexpr const char kCss[] = R"css(
:root { --ok:#2e8540; --warn:#d98c00; --bad:#c62828; --off:#757575; --pend:#1565c0; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
header { display: flex; align-items: center; gap: 1em; padding: .6em 1.2em; background: #263238; }
header a, .brand { color: #eceff1; text-decoration: none; }
.brand { font-weight: 700; font-size: 1.2em; margin-right: 1em; }
nav { display: flex; align-items: center; gap: 1em; flex: 1; }
nav a.active { border-bottom: 2px solid #80cbc4; }
.live { margin-left: auto; color: #b0bec5; font-size: .9em; }
.live.on { color: #a5d6a7; }
.signout button { background: none; border: 1px solid #78909c; color: #eceff1; }
main { padding: 1em 1.5em; max-width: 1200px; }
table { border-collapse: collapse; width: 100%; margin: .5em 0 1em; background: #fff; }
th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #e0e0e0; vertical-align: top; }
th a { color: inherit; }
.kv th { width: 12em; color: #546e7a; font-weight: 500; }
.badge { padding: .1em .5em; border-radius: .8em; color: #fff; font-size: .9em; }
.s-converged { background: var(--ok); fill: var(--ok); }
.s-pending { background: var(--pend); fill: var(--pend); }
.s-drifted { background: var(--warn); fill: var(--warn); }
.s-failed { background: var(--bad); fill: var(--bad); }
.s-offline, .s-unknown { background: var(--off); fill: var(--off); }
.s-revoked { background: #4a148c; fill: #4a148c; }
.bar { width: 100%; height: 28px; background: #eceff1; }
.legend { list-style: none; padding: 0; display: flex; gap: 1.2em; flex-wrap: wrap; }
.legend a { color: inherit; text-decoration: none; }
.dot { display: inline-block; width: .8em; height: .8em; border-radius: 50%; }
.filters { display: flex; gap: .5em; margin: 1em 0; flex-wrap: wrap; }
.o-failed { color: var(--bad); } .o-changed { color: var(--pend); }
.warn { color: var(--warn); font-weight: 600; }
.muted { color: #78909c; }
.cols { display: flex; gap: 2em; } .cols section { flex: 1; }
.timeline { list-style: none; padding: 0; }
.timeline li { padding: .3em .6em; border-left: 4px solid var(--off); margin: .2em 0; background: #fff; }
.timeline .k-intended { border-color: var(--pend); }
.timeline .k-corrective { border-color: var(--warn); }
.timeline .k-failed { border-color: var(--bad); }
pre.diff { background: #263238; color: #eceff1; padding: .6em; overflow: auto; max-height: 30em; }
.run h3 { font-size: 1em; font-weight: 500; margin: 1em 0 .2em; }
.errors code.loc { color: var(--bad); }
.signin { max-width: 26em; margin: 4em auto; }
.signin input { width: 100%; padding: .4em; margin: .3em 0 .8em; }
.run-now { float: right; }
)css";

constexpr const char kJs[] = R"js(
// Live updates: one EventSource on /api/events; an event that concerns this page re-fetches the
// page and swaps its <main> (the server renders and escapes everything). EventSource reconnects
// by itself after the server restarts; each time the stream opens the page is refreshed once, to
// catch up with what happened while it was not connected.
(function () {
  'use strict';
  var body = document.body;
  var live = body.dataset.live;
  var indicator = document.getElementById('live');
  if (!live || !window.EventSource) return;
  var timer = null;
  function refresh() {
    timer = null;
    fetch(location.href, {credentials: 'same-origin', headers: {'Accept': 'text/html'}})
      .then(function (r) {
        if (r.redirected || r.status === 401) { location.href = '/login'; return null; }
        return r.status === 200 ? r.text() : null;
      })
      .then(function (text) {
        if (!text) return;
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var fresh = doc.getElementById('main');
        var main = document.getElementById('main');
        if (fresh && main) main.replaceWith(fresh);
        body.dataset.refreshed = String(Date.now());
      })
      .catch(function () {});
  }
  function schedule() { if (!timer) timer = setTimeout(refresh, 250); }
  function concerns(ev) {
    if (live === 'fleet' || live === 'resources') {
      return ev.kind.indexOf('node_') === 0 || ev.kind === 'run_finished' ||
             ev.kind === 'drift_repaired' || ev.kind === 'credential_revoked' ||
             ev.kind === 'revision_compiled';
    }
    if (live.indexOf('node:') === 0) return ev.node === live.slice(5);
    if (live === 'revisions') return ev.kind.indexOf('revision_') === 0 || ev.kind === 'run_finished';
    return false;
  }
  var source = new EventSource('/api/events');
  source.onopen = function () {
    if (indicator) { indicator.textContent = 'live'; indicator.className = 'live on'; }
    body.dataset.liveState = 'open';
    // Whatever happened between rendering and (re)opening the stream was not streamed to this
    // page: fetch it once.
    schedule();
  };
  source.onerror = function () {
    if (indicator) { indicator.textContent = 'live: reconnecting'; indicator.className = 'live'; }
    body.dataset.liveState = 'reconnecting';
  };
  source.onmessage = function (m) {
    var ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    body.dataset.lastEvent = ev.kind;
    if (concerns(ev)) schedule();
  };
})();
)js";

HttpResponse Asset(const char* type, const char* body) {
  HttpResponse r;
  r.content_type = type;
  r.body = body;
  AddSecurityHeaders(&r);
  return r;
}

}  // namespace

std::optional<HttpResponse> ConsoleAsset(absl::string_view path) {
  if (path == "/static/console.css") return Asset("text/css; charset=utf-8", kCss);
  if (path == "/static/console.js") return Asset("text/javascript; charset=utf-8", kJs);
  return std::nullopt;
}

}  // namespace plumb
