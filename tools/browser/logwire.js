// logwire.js: the browser half of logwire's timeline. A developer adds it to a development
// page with one tag, served by the broker itself:
//
//   <script src="http://127.0.0.1:7719/logwire.js"
//           data-api-origins="http://localhost:8080" data-service="web"></script>
//
// It gives requests to the page's own origin and to the configured API origins an
// X-Request-ID and a fresh W3C traceparent (never other origins: the headers would break
// their CORS), records requests, clicks and submits, console errors, uncaught errors,
// unhandled rejections and page loads, and sends them to the broker in batches (POST
// /events, JSON described in tools/browser/README.md). It never throws into the page and
// never breaks it: when the broker is down it keeps a bounded queue, counts what it drops,
// and retries with a growing delay. Plain JavaScript, no build step, no dependency.
(function () {
  'use strict';

  // Whatever goes wrong while it sets itself up stays here: the page runs on without it.
  try {
    install();
  } catch (e) {
    // Never into the page.
  }

  function install() {
    if (typeof window === 'undefined' || typeof document === 'undefined') return;
    // Loaded twice (two tags, or a bundle and a tag): the first copy records.
    if (window.logwire && window.logwire.pageId) return;

    var VERSION = '0.1.0';
    var MAX_QUEUE = 1000; // events waiting for the broker; when full, the oldest unsent go
    var MAX_QUEUE_CHARS = 4 * 1024 * 1024; // and their JSON: at most 8 MiB of the page's memory
    var BATCH_EVENTS = 100; // events per POST
    var BATCH_CHARS = 256 * 1024; // UTF-16 units per POST: ≤ 768 KiB of UTF-8 (broker: 1 MiB)
    var BEACON_CHARS = 16 * 1024; // per sendBeacon: browsers allow 64 KiB in flight at unload
    var FLUSH_DELAY_MS = 250; // a batch leaves this long after its first event...
    var FLUSH_AT_EVENTS = 50; // ...or as soon as this many wait
    var RETRY_MIN_MS = 1000; // after a failed send; doubled per failure, with jitter
    var RETRY_MAX_MS = 30000;
    // The broker cuts longer strings too (contract: url 2 KiB, message 8 KiB, stack 16 KiB,
    // selector/text 512 B); cutting here saves the page the bytes.
    var CAP_URL = 2048;
    var CAP_MESSAGE = 8192;
    var CAP_STACK = 16384;
    var CAP_SELECTOR = 512;
    var CAP_TEXT = 120;
    var CAP_ID = 256; // request ID, traceparent, page session
    var CAP_WORD = 32; // method

    var perf = window.performance;
    var originalFetch = typeof window.fetch === 'function' ? window.fetch : null;

    // ---- text ------------------------------------------------------------------------------

    // Cuts at `limit` UTF-16 units, never between the two halves of a surrogate pair, and
    // replaces a lone half (a broken string of the page's) with U+FFFD: JSON.stringify would
    // write it as an escape that is not UTF-8, and the broker refuses the whole batch.
    var SURROGATE = /[\ud800-\udfff]/;
    function wellFormed(text) {
      if (typeof text.toWellFormed === 'function') return text.toWellFormed();
      var out = '';
      for (var i = 0; i < text.length; i++) {
        var code = text.charCodeAt(i);
        if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
          var next = text.charCodeAt(i + 1);
          if (next >= 0xdc00 && next <= 0xdfff) {
            out += text.charAt(i) + text.charAt(i + 1);
            i += 1;
            continue;
          }
        }
        out += code >= 0xd800 && code <= 0xdfff ? '\ufffd' : text.charAt(i);
      }
      return out;
    }
    function cut(text, limit) {
      text = String(text);
      if (text.length > limit) {
        var end = limit;
        var code = text.charCodeAt(end - 1);
        if (code >= 0xd800 && code <= 0xdbff) end -= 1;
        text = text.slice(0, end);
      }
      return SURROGATE.test(text) ? wellFormed(text) : text;
    }

    function describeError(error) {
      if (error && typeof error === 'object') {
        var name = error.name ? String(error.name) : 'Error';
        return error.message ? name + ': ' + error.message : name;
      }
      return String(error);
    }

    // A value as short JSON-like text, bounded whatever the page logs: 3 levels deep, 20
    // keys or items per level, strings cut at 200; getters that throw are skipped. (Not
    // JSON.stringify: a large state object would cost the page milliseconds.)
    function brief(value, depth) {
      if (typeof value === 'string') return JSON.stringify(cut(value, 200));
      if (typeof value === 'function') return 'function ' + (value.name || '') + '()';
      if (value === null || typeof value !== 'object') return String(value);
      if (value instanceof Error) return JSON.stringify(describeError(value));
      if (typeof Element === 'function' && value instanceof Element) {
        return '<' + selectorOf(value) + '>';
      }
      var array = Array.isArray(value);
      if (depth >= 3) return array ? '[…]' : '{…}';
      var keys = array ? null : Object.keys(value);
      var count = array ? value.length : keys.length;
      var parts = [];
      for (var i = 0; i < count && i < 20; i++) {
        var item;
        try {
          item = brief(array ? value[i] : value[keys[i]], depth + 1);
        } catch (e) {
          item = '?';
        }
        parts.push(array ? item : JSON.stringify(keys[i]) + ':' + item);
      }
      if (count > 20) parts.push('"… ' + (count - 20) + ' more"');
      return array ? '[' + parts.join(',') + ']' : '{' + parts.join(',') + '}';
    }

    function formatValue(value) {
      if (typeof value === 'string') return value;
      if (value instanceof Error) return describeError(value);
      try {
        return brief(value, 0);
      } catch (e) {
        return Object.prototype.toString.call(value); // a Proxy that refuses, say
      }
    }

    // console.error's arguments as one line: a format string's %s/%d/%i/%f/%o/%O/%c filled in
    // (%c's CSS dropped), the rest joined with spaces.
    function formatArguments(args) {
      var parts = [];
      var next = 0;
      if (typeof args[0] === 'string' && args[0].indexOf('%') >= 0) {
        next = 1;
        parts.push(
          args[0].replace(/%([sdifoOc%])/g, function (match, kind) {
            if (kind === '%') return '%';
            if (next >= args.length) return match;
            var value = args[next++];
            if (kind === 'c') return '';
            if (kind === 'd' || kind === 'i') return String(parseInt(value, 10));
            if (kind === 'f') return String(Number(value));
            return formatValue(value);
          })
        );
      }
      for (; next < args.length; next++) parts.push(formatValue(args[next]));
      return parts.join(' ');
    }

    function stackOf(value) {
      return value && typeof value === 'object' && typeof value.stack === 'string'
        ? cut(value.stack, CAP_STACK)
        : '';
    }

    // ---- configuration, from the script's own tag -------------------------------------------

    function ownTag() {
      if (document.currentScript) return document.currentScript;
      // A module or a tag added by other code: find it by name.
      var tags = document.getElementsByTagName('script');
      for (var i = tags.length - 1; i >= 0; i--) {
        if (/\/logwire\.js(?:[?#]|$)/.test(tags[i].src || '')) return tags[i];
      }
      return null;
    }

    function originOf(text) {
      if (!text) return '';
      try {
        var url = new URL(text, document.baseURI);
        return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : '';
      } catch (e) {
        return '';
      }
    }

    var tag = ownTag();
    function setting(name) {
      var value = tag && tag.getAttribute('data-' + name);
      return value ? String(value).trim() : '';
    }

    // The broker is where the script came from, unless data-broker says otherwise (a copy of
    // the script bundled into the page).
    var brokerOrigin =
      originOf(setting('broker')) || (tag && tag.src ? originOf(tag.src) : '') ||
      'http://127.0.0.1:7719';
    var eventsUrl = brokerOrigin + '/events';
    var pageOrigin = window.location.origin;
    var traced = Object.create(null); // origins whose requests get X-Request-ID and traceparent
    if (pageOrigin && pageOrigin !== 'null') traced[pageOrigin] = true;
    var tracedAnyPort = []; // 'http://localhost:' for data-api-origins="http://localhost:*"
    setting('api-origins').split(/[\s,]+/).forEach(function (text) {
      var anyPort = /^(https?:\/\/[^/:]+|https?:\/\/\[[0-9a-fA-F:.]+\]):\*\/?$/.exec(text);
      if (anyPort) {
        var base = originOf(anyPort[1]);
        if (base) tracedAnyPort.push(base + ':');
        return;
      }
      var origin = text && originOf(text);
      if (origin) traced[origin] = true;
    });

    function isTraced(origin) {
      if (traced[origin]) return true;
      for (var i = 0; i < tracedAnyPort.length; i++) {
        var prefix = tracedAnyPort[i];
        if (origin === prefix.slice(0, -1)) return true; // the scheme's default port
        if (origin.lastIndexOf(prefix, 0) === 0 && /^\d+$/.test(origin.slice(prefix.length))) {
          return true;
        }
      }
      return false;
    }
    var service = cut(setting('service'), CAP_ID);
    var sessionId = cut(setting('session-id'), CAP_ID);

    // ---- identifiers and time -----------------------------------------------------------------

    var HEX = [];
    for (var h = 0; h < 256; h++) HEX.push((h < 16 ? '0' : '') + h.toString(16));
    var pool = new Uint8Array(240);
    var poolUsed = pool.length;
    var cryptoSource = window.crypto && typeof window.crypto.getRandomValues === 'function';

    function randomHex(bytes) {
      if (poolUsed + bytes > pool.length) {
        if (cryptoSource) {
          window.crypto.getRandomValues(pool);
        } else {
          for (var i = 0; i < pool.length; i++) pool[i] = (Math.random() * 256) | 0;
        }
        poolUsed = 0;
      }
      var text = '';
      for (var j = 0; j < bytes; j++) text += HEX[pool[poolUsed++]];
      return text;
    }

    function nonZeroHex(bytes) {
      for (;;) {
        var text = randomHex(bytes);
        if (/[^0]/.test(text)) return text; // all zeros is an invalid trace or parent ID
      }
    }

    var pageHex = randomHex(4);
    var pageId = 'pg-' + pageHex;
    var requestCount = 0;

    function newRequestId() {
      requestCount += 1;
      var count = String(requestCount);
      return 'req-' + pageHex + '-' + (count.length < 4 ? '0000'.slice(count.length) : '') + count;
    }

    function newTraceparent() {
      return '00-' + nonZeroHex(16) + '-' + nonZeroHex(8) + '-01';
    }

    // Milliseconds since the Unix epoch with a fraction: the monotonic clock anchored to the
    // wall clock, re-anchored when the two part by more than a second (the machine's clock
    // was set).
    var clockBase = Date.now() - perf.now();
    function now() {
      var monotonic = perf.now();
      var time = clockBase + monotonic;
      var wall = Date.now();
      if (time - wall > 1000 || wall - time > 1000) {
        clockBase = wall - monotonic;
        time = wall;
      }
      return Math.round(time * 1000) / 1000;
    }

    function millis(value) {
      return Math.round(value * 1000) / 1000;
    }

    // ---- the queue and the sender -------------------------------------------------------------

    var queue = []; // {seq, json}, in sequence order; a run may have gaps where events dropped
    var nextSeq = 0;
    var queuedChars = 0; // the queue's JSON, in UTF-16 units
    var dropped = 0; // events the full queue pushed out
    var refused = 0; // events in batches the broker refused as malformed (400/413)
    var sentEvents = 0;
    var failures = 0; // failed sends since the last success
    var sending = null; // {first, count} of the batch in flight
    var timer = null;
    var timerAt = 0;
    var retryDelay = 0;
    var retryAt = 0;
    var waiters = []; // flush() promises, resolved when the queue empties or a send fails

    function push(event) {
      var json = JSON.stringify(event);
      // When full, the oldest unsent events go; the batch in flight stays put.
      var keep = sending ? sending.count : 0;
      while (queue.length > keep &&
        (queue.length >= MAX_QUEUE || queuedChars + json.length > MAX_QUEUE_CHARS)) {
        queuedChars -= queue[keep].json.length;
        queue.splice(keep, 1);
        dropped += 1;
      }
      if (queue.length >= MAX_QUEUE) {
        dropped += 1;
        return;
      }
      queue.push({ seq: nextSeq++, json: json });
      queuedChars += json.length;
      schedule(queue.length >= FLUSH_AT_EVENTS ? 0 : FLUSH_DELAY_MS);
    }

    function arm(delay) {
      var at = Date.now() + delay;
      if (timer !== null) {
        if (timerAt <= at) return;
        clearTimeout(timer);
      }
      timerAt = at;
      timer = setTimeout(send, delay);
    }

    function schedule(delay) {
      if (sending) return; // the end of the send in flight schedules the next one
      var wait = retryAt - Date.now();
      arm(wait > delay ? wait : delay);
    }

    // The longest run of consecutive sequence numbers at the head of the queue, within
    // `maxChars`, as a batch body (at least one event, whatever its size).
    function takeBatch(maxChars) {
      var first = queue[0].seq;
      var pageJson = JSON.stringify({
        id: pageId,
        url: cut(window.location.href, CAP_URL),
        sessionId: sessionId || undefined,
        service: service || undefined,
        userAgent: navigator.userAgent,
      });
      var head = '{"v":1,"page":' + pageJson + ',"seq":' + first +
        (dropped ? ',"dropped":' + dropped : '') + ',"events":[';
      var chars = head.length + 2;
      var parts = [];
      for (var i = 0; i < queue.length && i < BATCH_EVENTS; i++) {
        var entry = queue[i];
        if (entry.seq !== first + i) break;
        if (i > 0 && chars + entry.json.length + 1 > maxChars) break;
        chars += entry.json.length + 1;
        parts.push(entry.json);
      }
      return { first: first, count: parts.length, body: head + parts.join(',') + ']}' };
    }

    // Removes the events of a batch the broker has taken (or will never take); by sequence,
    // since a beacon at unload may have taken them already.
    function forget(first, count) {
      var end = first + count;
      var n = 0;
      while (n < queue.length && queue[n].seq < end) queuedChars -= queue[n++].json.length;
      if (n) queue.splice(0, n);
    }

    function settleWaiters(ok) {
      var list = waiters;
      waiters = [];
      for (var i = 0; i < list.length; i++) list[i](ok);
    }

    function send() {
      timer = null;
      if (sending) return;
      if (!queue.length) {
        settleWaiters(true);
        return;
      }
      var wait = retryAt - Date.now();
      if (wait > 0) {
        arm(wait);
        return;
      }
      if (!originalFetch) return;
      var batch = takeBatch(BATCH_CHARS);
      sending = batch;
      var request;
      try {
        // text/plain keeps it a simple CORS request: no preflight per batch.
        request = originalFetch.call(window, eventsUrl, {
          method: 'POST',
          body: batch.body,
          headers: { 'Content-Type': 'text/plain' },
          mode: 'cors',
          credentials: 'omit',
          cache: 'no-store',
          referrerPolicy: 'no-referrer',
        });
      } catch (e) {
        request = Promise.reject(e);
      }
      Promise.resolve(request).then(
        function (response) {
          sent(batch, response && typeof response.status === 'number' ? response.status : 0);
        },
        function () {
          sent(batch, 0);
        }
      );
    }

    function sent(batch, status) {
      try {
        sending = null;
        if (status >= 200 && status < 300) {
          forget(batch.first, batch.count);
          sentEvents += batch.count;
          failures = 0;
          retryDelay = 0;
          retryAt = 0;
        } else if (status === 400 || status === 413) {
          // Sending it again would be refused again.
          forget(batch.first, batch.count);
          refused += batch.count;
        } else {
          // The broker is down, restarting, or refuses this page's Origin: wait, then retry.
          failures += 1;
          retryDelay = retryDelay ? Math.min(retryDelay * 2, RETRY_MAX_MS) : RETRY_MIN_MS;
          retryAt = Date.now() + retryDelay * (0.75 + Math.random() * 0.5);
          settleWaiters(false);
        }
        if (queue.length) {
          schedule(queue.length >= FLUSH_AT_EVENTS || waiters.length ? 0 : FLUSH_DELAY_MS);
        } else {
          settleWaiters(true);
        }
      } catch (e) {
        sending = null;
      }
    }

    // At unload: whatever is queued, the batch in flight included (the broker stores an event
    // once by page and sequence), in beacons the browser delivers after the page is gone.
    function sendBeacons() {
      if (!navigator.sendBeacon) return;
      while (queue.length) {
        var batch = takeBatch(BEACON_CHARS);
        if (!navigator.sendBeacon(eventsUrl, batch.body)) return;
        forget(batch.first, batch.count);
      }
    }

    // Sends what is queued now, retry delay or not; resolves to true once the queue is empty,
    // false when a send failed.
    function flush() {
      return new Promise(function (resolve) {
        if (!queue.length && !sending) {
          resolve(true);
          return;
        }
        waiters.push(resolve);
        retryAt = 0;
        schedule(0);
      });
    }

    function record(event) {
      try {
        push(event);
      } catch (e) {
        // Never into the page.
      }
    }

    // ---- requests ---------------------------------------------------------------------------

    function parseUrl(text) {
      try {
        var url = new URL(text, document.baseURI);
        return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
      } catch (e) {
        return null;
      }
    }

    function newCall(initiator, method, url) {
      return {
        initiator: initiator,
        method: cut(String(method || 'GET').toUpperCase(), CAP_WORD),
        url: cut(url.href, CAP_URL),
        origin: url.origin,
        requestId: '',
        traceparent: '',
        timestamp: 0,
        started: 0,
        error: '',
        done: false,
      };
    }

    function start(call) {
      call.timestamp = now();
      call.started = perf.now();
    }

    function finish(call, status, error) {
      if (call.done) return;
      call.done = true;
      var event = {
        kind: 'request',
        timestamp: call.timestamp,
        method: call.method,
        url: call.url,
        durationMs: millis(perf.now() - call.started),
        initiator: call.initiator,
      };
      if (status > 0) event.status = status;
      if (call.requestId) event.requestId = cut(call.requestId, CAP_ID);
      if (call.traceparent) event.traceparent = cut(call.traceparent, CAP_ID);
      if (!(status > 0)) event.error = cut(error || 'network error', CAP_MESSAGE);
      record(event);
    }

    function isPlainObject(value) {
      var proto = Object.getPrototypeOf(value);
      return proto === Object.prototype || proto === null;
    }

    // Notes an X-Request-ID or traceparent the page set itself (the first one of each).
    function noteHeader(call, name, value) {
      var lower = String(name).toLowerCase();
      if (lower === 'x-request-id' && !call.requestId) call.requestId = String(value);
      else if (lower === 'traceparent' && !call.traceparent) call.traceparent = String(value);
    }

    // The call fetch(input, init) describes, and the arguments to pass on: the same ones, or
    // with X-Request-ID and traceparent added where the page did not set them.
    function prepareFetch(input, init, args) {
      var isRequest = typeof Request === 'function' && input instanceof Request;
      var url = parseUrl(isRequest ? input.url : String(input));
      if (!url) return null;
      var hasInit = init !== undefined && init !== null;
      var method = hasInit && init.method ? init.method : isRequest ? input.method : 'GET';
      var mode = hasInit && init.mode ? init.mode : isRequest ? input.mode : 'cors';
      var call = newCall('fetch', method, url);
      var headers = hasInit && init.headers !== undefined && init.headers !== null ? init.headers
        : isRequest ? input.headers : null;
      // Headers objects cost microseconds per call in Chromium; a plain object or an array of
      // pairs, the usual forms, is read and copied as it is.
      var shape = !headers ? 'none'
        : typeof Headers === 'function' && headers instanceof Headers ? 'headers'
          : Array.isArray(headers) ? 'pairs'
            : typeof headers === 'object' && isPlainObject(headers) ? 'record' : 'other';
      if (shape === 'other') {
        headers = new Headers(headers); // another iterable of pairs: as fetch would read it
        shape = 'headers';
      }
      var i;
      if (shape === 'headers') {
        call.requestId = headers.get('x-request-id') || '';
        call.traceparent = headers.get('traceparent') || '';
      } else if (shape === 'pairs') {
        for (i = 0; i < headers.length; i++) noteHeader(call, headers[i][0], headers[i][1]);
      } else if (shape === 'record') {
        var names = Object.keys(headers);
        for (i = 0; i < names.length; i++) noteHeader(call, names[i], headers[names[i]]);
      }
      // Headers on a no-cors request would be dropped by the browser; an init that is not a
      // plain object (a class instance) cannot be copied faithfully.
      if (!isTraced(url.origin) || mode === 'no-cors' || (hasInit && !isPlainObject(init))) {
        return { call: call, args: args };
      }
      if (call.requestId && call.traceparent) return { call: call, args: args };
      var add = [];
      if (!call.requestId) {
        call.requestId = newRequestId();
        add.push(['X-Request-ID', call.requestId]);
      }
      if (!call.traceparent) {
        call.traceparent = newTraceparent();
        add.push(['traceparent', call.traceparent]);
      }
      var added;
      if (shape === 'pairs') {
        added = headers.concat(add);
      } else if (shape === 'headers') {
        added = new Headers(headers);
        for (i = 0; i < add.length; i++) added.set(add[i][0], add[i][1]);
      } else {
        added = {};
        if (shape === 'record') for (var name in headers) added[name] = headers[name];
        for (i = 0; i < add.length; i++) added[add[i][0]] = add[i][1];
      }
      var nextInit = {};
      if (hasInit) for (var key in init) nextInit[key] = init[key];
      nextInit.headers = added;
      return { call: call, args: [input, nextInit] };
    }

    if (originalFetch) {
      var wrappedFetch = function fetch(input, init) {
        var prepared = null;
        try {
          prepared = prepareFetch(input, init, arguments);
          if (prepared) start(prepared.call);
        } catch (e) {
          prepared = null; // fetch itself will say what is wrong with its arguments
        }
        var result = originalFetch.apply(this, prepared ? prepared.args : arguments);
        if (!prepared || !result || typeof result.then !== 'function') return result;
        var call = prepared.call;
        return result.then(
          function (response) {
            try {
              var status = response ? response.status : 0;
              // A no-cors response is opaque: it arrived, but its status cannot be read.
              finish(call, status, response && response.type === 'opaque' ? 'opaque response' : '');
            } catch (e) {
              // Never into the page.
            }
            return response;
          },
          function (error) {
            try {
              finish(call, 0, describeError(error));
            } catch (e) {
              // Never into the page.
            }
            throw error;
          }
        );
      };
      window.fetch = wrappedFetch;
    }

    var XHR = window.XMLHttpRequest;
    if (XHR && XHR.prototype && typeof XHR.prototype.send === 'function') {
      var proto = XHR.prototype;
      var xhrOpen = proto.open;
      var xhrSend = proto.send;
      var xhrSetHeader = proto.setRequestHeader;
      var xhrCalls = new WeakMap(); // request -> the call its last open() described

      proto.open = function open(method, url) {
        var result = xhrOpen.apply(this, arguments);
        try {
          var previous = xhrCalls.get(this);
          // open() again on a request in flight ends it without an event.
          if (previous && previous.timestamp && !previous.done) finish(previous, 0, 'abort');
          var parsed = parseUrl(String(url));
          if (parsed) xhrCalls.set(this, newCall('xhr', method, parsed));
          else xhrCalls.delete(this);
        } catch (e) {
          // Never into the page.
        }
        return result;
      };

      proto.setRequestHeader = function setRequestHeader(name, value) {
        var result = xhrSetHeader.apply(this, arguments);
        try {
          var call = xhrCalls.get(this);
          if (call) noteHeader(call, name, value);
        } catch (e) {
          // Never into the page.
        }
        return result;
      };

      var watch = function (request, call) {
        var failed = function (event) {
          call.error = event.type === 'error' ? 'network error' : event.type; // abort, timeout
        };
        var ended = function () {
          request.removeEventListener('loadend', ended);
          request.removeEventListener('error', failed);
          request.removeEventListener('abort', failed);
          request.removeEventListener('timeout', failed);
          try {
            if (xhrCalls.get(request) === call) finish(call, request.status, call.error);
          } catch (e) {
            // Never into the page.
          }
        };
        request.addEventListener('error', failed);
        request.addEventListener('abort', failed);
        request.addEventListener('timeout', failed);
        request.addEventListener('loadend', ended);
      };

      proto.send = function send() {
        var call = null;
        try {
          call = xhrCalls.get(this) || null;
          if (call && (call.timestamp || this.readyState !== 1)) {
            call = null; // sent already: send() throws, as it would have
          } else if (call) {
            if (isTraced(call.origin)) {
              if (!call.requestId) {
                call.requestId = newRequestId();
                xhrSetHeader.call(this, 'X-Request-ID', call.requestId);
              }
              if (!call.traceparent) {
                call.traceparent = newTraceparent();
                xhrSetHeader.call(this, 'traceparent', call.traceparent);
              }
            }
            start(call);
            watch(this, call);
          }
        } catch (e) {
          call = null;
        }
        try {
          return xhrSend.apply(this, arguments);
        } catch (error) {
          // A synchronous request that failed throws here, before or without loadend.
          try {
            if (call) finish(call, 0, describeError(error));
          } catch (e) {
            // Never into the page.
          }
          throw error;
        }
      };
    }

    // ---- actions ------------------------------------------------------------------------------

    var ACTION_TARGET =
      'button, a[href], input, select, textarea, label, summary, option, [role="button"], ' +
      '[role="link"], [role="menuitem"], [role="tab"], [role="checkbox"], [onclick]';

    function escapeCss(text) {
      return window.CSS && typeof window.CSS.escape === 'function'
        ? window.CSS.escape(text)
        : String(text).replace(/[^a-zA-Z0-9_-]/g, '\\$&');
    }

    function quoted(text) {
      return '"' + cut(String(text), 60).replace(/["\\]/g, '\\$&') + '"';
    }

    // A selector a developer can read and paste into the console: up to four steps up to an
    // element with an ID (or test ID, or the body), each step tag + a telling attribute or
    // class, :nth-of-type where siblings would be confused.
    function selectorOf(element) {
      var steps = [];
      for (var node = element, depth = 0; node && node.nodeType === 1 && depth < 4; depth++) {
        var name = node.localName;
        if (node.id) {
          steps.unshift(name + '#' + escapeCss(node.id));
          break;
        }
        var testId = node.getAttribute('data-testid') || node.getAttribute('data-test');
        if (testId) {
          steps.unshift(name + '[data-testid=' + quoted(testId) + ']');
          break;
        }
        if (name === 'body' || name === 'html') {
          steps.unshift(name);
          break;
        }
        var step = name;
        var attribute = node.getAttribute('name') || '';
        if (attribute) {
          step += '[name=' + quoted(attribute) + ']';
        } else if (typeof node.className === 'string' && node.className.trim()) {
          step += '.' + node.className.trim().split(/\s+/).slice(0, 2).map(escapeCss).join('.');
        }
        var parent = node.parentElement;
        if (parent && !attribute) {
          var same = 0;
          var position = 0;
          var sibling = parent.firstElementChild;
          for (; sibling; sibling = sibling.nextElementSibling) {
            if (sibling.localName !== name) continue;
            same += 1;
            if (sibling === node) position = same;
          }
          if (same > 1) step += ':nth-of-type(' + position + ')';
        }
        steps.unshift(step);
        node = parent;
      }
      return cut(steps.join(' > '), CAP_SELECTOR);
    }

    // What the user saw on it: its label, a button's caption, a short text; never what was
    // typed into a field.
    function textOf(element) {
      if (!element || element.nodeType !== 1) return '';
      var text = element.getAttribute('aria-label') || '';
      if (!text) {
        var name = element.localName;
        if (name === 'input') {
          var type = String(element.type || '').toLowerCase();
          text = type === 'submit' || type === 'button' || type === 'reset'
            ? element.value
            : element.getAttribute('placeholder') || element.getAttribute('name') || '';
        } else if (name === 'select' || name === 'textarea') {
          text = element.getAttribute('name') || '';
        } else if (element.childElementCount <= 20) {
          text = element.textContent || '';
        } else {
          text = element.getAttribute('title') || '';
        }
      }
      return cut(String(text).replace(/\s+/g, ' ').trim(), CAP_TEXT);
    }

    function recordAction(action, target, textSource) {
      if (!target || target.nodeType !== 1) return;
      var element = (target.closest && target.closest(ACTION_TARGET)) || target;
      var event = {
        kind: 'action',
        timestamp: now(),
        action: action,
        selector: selectorOf(element),
      };
      var text = textOf(textSource || element);
      if (text) event.text = text;
      record(event);
    }

    document.addEventListener(
      'click',
      function (event) {
        try {
          recordAction('click', event.target, null);
        } catch (e) {
          // Never into the page.
        }
      },
      true
    );
    document.addEventListener(
      'submit',
      function (event) {
        try {
          recordAction('submit', event.target, event.submitter || null);
        } catch (e) {
          // Never into the page.
        }
      },
      true
    );

    // ---- console errors, uncaught errors, rejections -------------------------------------------

    var con = window.console;
    if (con && typeof con.error === 'function') {
      var consoleError = con.error;
      var inConsole = false;
      con.error = function error() {
        if (!inConsole) {
          inConsole = true;
          try {
            var event = {
              kind: 'console',
              timestamp: now(),
              level: 'error',
              message: cut(formatArguments(arguments), CAP_MESSAGE),
            };
            for (var i = 0; i < arguments.length; i++) {
              var stack = stackOf(arguments[i]);
              if (stack) {
                event.stack = stack;
                break;
              }
            }
            record(event);
          } catch (e) {
            // Never into the page.
          } finally {
            inConsole = false;
          }
        }
        return consoleError.apply(this, arguments);
      };
    }

    window.addEventListener('error', function (event) {
      try {
        // Resource load failures do not bubble to window; this is an uncaught error.
        if (typeof ErrorEvent === 'function' && !(event instanceof ErrorEvent)) return;
        var error = event.error;
        var message = event.message || (error ? describeError(error) : 'uncaught error');
        var entry = { kind: 'exception', timestamp: now(), message: cut(message, CAP_MESSAGE) };
        var stack = stackOf(error);
        if (stack) entry.stack = stack;
        if (event.filename) {
          entry.source = cut(event.filename + ':' + (event.lineno || 0) + ':' + (event.colno || 0),
            CAP_URL);
        }
        record(entry);
      } catch (e) {
        // Never into the page.
      }
    });

    window.addEventListener('unhandledrejection', function (event) {
      try {
        var reason = event.reason;
        var entry = {
          kind: 'rejection',
          timestamp: now(),
          message: cut(reason instanceof Error ? describeError(reason) : formatValue(reason),
            CAP_MESSAGE),
        };
        var stack = stackOf(reason);
        if (stack) entry.stack = stack;
        record(entry);
      } catch (e) {
        // Never into the page.
      }
    });

    // ---- page loads and unload ----------------------------------------------------------------

    function recordPageLoad() {
      try {
        var navigation = perf.getEntriesByType ? perf.getEntriesByType('navigation')[0] : null;
        var loaded = navigation && navigation.loadEventStart > 0 ? navigation.loadEventStart
          : perf.now();
        record({
          kind: 'page-load',
          timestamp: millis(now() - perf.now()), // when the navigation started
          url: cut(window.location.href, CAP_URL),
          durationMs: millis(loaded),
        });
      } catch (e) {
        // Never into the page.
      }
    }
    if (document.readyState === 'complete') {
      recordPageLoad();
    } else {
      window.addEventListener('load', recordPageLoad);
    }

    window.addEventListener('pagehide', function () {
      try {
        sendBeacons();
      } catch (e) {
        // Never into the page.
      }
    });
    document.addEventListener('visibilitychange', function () {
      try {
        if (document.visibilityState === 'hidden' && queue.length) schedule(0);
      } catch (e) {
        // Never into the page.
      }
    });

    window.logwire = Object.freeze({
      version: VERSION,
      pageId: pageId,
      broker: brokerOrigin,
      flush: flush,
      stats: function () {
        return {
          queued: queue.length,
          sent: sentEvents,
          dropped: dropped,
          refused: refused,
          failures: failures,
          retryInMs: Math.max(0, Math.round(retryAt - Date.now())),
        };
      },
    });
  }
})();
