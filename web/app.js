// meshlet web view: live updates without reloading. Records arrive as server-sent events
// (/events); on each burst the page's <main> is fetched again, rendered (and escaped) by the server.
// No framework, no CDN: this file and app.css are all the page loads.
;(function () {
  'use strict'
  var main = document.getElementById('main')
  var live = document.getElementById('live')
  var body = document.body
  var timer = null
  var refreshes = 0

  function setLive(state, text) {
    live.setAttribute('data-state', state)
    live.textContent = text
  }

  function partUrl() {
    var u = new URL(location.href)
    u.searchParams.set('part', 'main')
    return u.pathname + u.search
  }

  function refresh() {
    timer = null
    // Keep open <details> open across a refresh.
    var open = Array.prototype.map.call(main.querySelectorAll('details[open] > summary'), function (s) { return s.textContent })
    fetch(partUrl(), { headers: { Accept: 'text/html' }, cache: 'no-store' })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(new Error(String(r.status))) })
      .then(function (html) {
        main.innerHTML = html
        Array.prototype.forEach.call(main.querySelectorAll('details > summary'), function (s) {
          if (open.indexOf(s.textContent) >= 0) s.parentElement.setAttribute('open', '')
        })
        body.setAttribute('data-refreshes', String(++refreshes))
      })
      .catch(function () { setLive('error', 'update failed; retrying') })
  }

  function soon(ms) {
    if (timer === null) timer = setTimeout(refresh, ms)
  }

  if (!('EventSource' in window)) {
    setLive('polling', 'polling')
    setInterval(refresh, 5000)
    return
  }
  var es = new EventSource('/events')
  es.onopen = function () { setLive('live', 'live') }
  es.onerror = function () { setLive('reconnecting', 'reconnecting…') }
  es.addEventListener('record', function () { soon(300) })
  // Heartbeat ages and capacity change without records of ours arriving: refresh now and then.
  setInterval(function () { soon(0) }, 10000)
})()
