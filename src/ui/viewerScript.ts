// The viewer's browser script, shipped as text inside the package. Every value that comes
// from the database reaches the page through textContent or a computed style, never as
// HTML: el() has no way to set innerHTML, and the server's CSP forbids inline script.
// Plain ES2020 without a build step; String.raw keeps its backslashes as written.

export const VIEWER_SCRIPT = String.raw`'use strict';
(function () {
  var main = document.getElementById('main');
  var subtitle = document.getElementById('subtitle');

  // Bidirectional controls in a name or a reason reversed the text around it (a span named
  // "\u202eevil" made its crash reason read backwards): shown escaped, as the CLI does.
  var BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
  function shown(value) {
    return String(value).replace(BIDI_CONTROLS, function (c) { return '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'); });
  }

  function el(tag, props, children) {
    var node = document.createElement(tag);
    if (props) {
      for (var key in props) {
        var value = props[key];
        if (value === undefined || value === null) continue;
        if (key === 'text') node.textContent = shown(value);
        else if (key === 'title') node.setAttribute('title', shown(value));
        else if (key === 'className') node.className = value;
        else if (key === 'style') for (var s in value) node.style[s] = value[s];
        else node.setAttribute(key, String(value));
      }
    }
    if (children) for (var i = 0; i < children.length; i++) {
      var child = children[i];
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === 'string' ? document.createTextNode(shown(child)) : child);
    }
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function getJson(url) {
    return fetch(url, { headers: { accept: 'application/json' } }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body && body.error ? body.error : 'HTTP ' + response.status);
        return body;
      });
    });
  }

  // An alert: said by a screen reader when it comes, not only drawn in red.
  function showError(where, error) {
    where.appendChild(el('p', { className: 'error-box', role: 'alert', text: 'Could not load: ' + error.message }));
  }

  function formatNanos(ns) {
    if (ns === null || ns === undefined || !isFinite(ns)) return '–';
    var abs = Math.abs(ns);
    if (abs < 1e3) return ns.toFixed(0) + ' ns';
    if (abs < 1e6) return (ns / 1e3).toFixed(abs < 1e4 ? 2 : 1) + ' µs';
    if (abs < 1e9) return (ns / 1e6).toFixed(abs < 1e7 ? 2 : 1) + ' ms';
    if (abs < 6e10) return (ns / 1e9).toFixed(2) + ' s';
    return (ns / 6e10).toFixed(1) + ' min';
  }

  function isoFromNanos(nanos) {
    if (nanos === null || nanos === undefined) return '';
    return new Date(Number(BigInt(nanos) / BigInt(1000000))).toISOString();
  }

  function firstLine(text) { return text ? String(text).split('\n')[0] : ''; }

  function valueText(value) { return typeof value === 'string' ? value : JSON.stringify(value); }

  function traceHref(traceId, spanId) {
    return '/traces/' + encodeURIComponent(traceId) + (spanId ? '#span=' + encodeURIComponent(spanId) : '');
  }

  // ---------- list page ----------

  // What Back should bring back to the list: how many pages each table had loaded, and where
  // the page was scrolled. Kept in the history entry's state, which outlives the page (served
  // no-store, it is loaded anew): Back from a trace gave the first 50 rows at the top, the
  // place in a long list lost mid-incident (an accessibility review).
  function listState() { return (history.state && history.state.list) || {}; }
  function keepListState(patch) {
    var list = Object.assign({}, listState(), patch);
    history.replaceState(Object.assign({}, history.state, { list: list }), '');
  }

  function listPage() {
    subtitle.textContent = 'crashes and traces';
    document.title = 'crashes and traces · otel-blackbox';
    clear(main);
    history.scrollRestoration = 'manual';
    var scrollWanted = listState().scrollY || 0;
    var tablesLoading = 0;
    // Said when every table has loaded the pages it had: only then is the old place there.
    var tableLoaded = function () {
      tablesLoading -= 1;
      if (tablesLoading === 0 && scrollWanted > 0) window.scrollTo(0, scrollWanted);
    };
    window.addEventListener('pagehide', function () { keepListState({ scrollY: window.scrollY }); });
    // Before following a link (pagehide may come too late to change the entry's state).
    main.addEventListener('click', function (event) { if (event.target.closest('a')) keepListState({ scrollY: window.scrollY }); }, true);
    var params = new URLSearchParams(location.search);
    var form = filterForm(params);
    main.appendChild(form);
    var crashes = el('section', { id: 'crashes' });
    var traces = el('section', { id: 'traces' });
    main.appendChild(crashes);
    main.appendChild(traces);
    var state = params.get('state');
    if (!state || state === 'crashed') {
      tablesLoading += 1;
      pagedTable(crashes, tableLoaded, 'Recent crashes', '/api/crashes', params, ['time', 'service', 'span', 'reason', 'trace id'], function (row) {
        return el('tr', { className: 'crash-row' }, [
          el('td', { className: 'mono', text: row.end_time || row.start_time, title: 'start ' + row.start_time }),
          el('td', { text: row.service_name || '–' }),
          el('td', {}, [el('a', { href: traceHref(row.trace_id, row.span_id), text: row.name })]),
          el('td', { className: 'reason', text: firstLine(row.crash_reason), title: row.crash_reason || '' }),
          el('td', { className: 'mono' }, [el('a', { href: traceHref(row.trace_id, row.span_id), text: row.trace_id })]),
        ]);
      });
    }
    tablesLoading += 1;
    pagedTable(traces, tableLoaded, 'Recent traces', '/api/traces', params, ['start', 'root span', 'service', 'duration', 'spans', 'state'], function (row) {
      return el('tr', { className: 'trace-row' }, [
        el('td', { className: 'mono', text: row.start_time }),
        el('td', {}, [el('a', { href: traceHref(row.trace_id), text: row.root_span_name || '(root not recorded)' })]),
        el('td', { text: row.service_name || '–' }),
        // A trace with a span in flight has no duration yet, whatever its ended spans span.
        el('td', { text: row.state === 'started' || row.duration_ns === null ? 'in flight' : formatNanos(Number(row.duration_ns)) }),
        el('td', { text: String(row.span_count) }),
        el('td', {}, [el('span', { className: 'state ' + row.state, text: row.state })]),
      ]);
    });
  }

  function filterForm(params) {
    function input(name, type) {
      return el('input', { name: name, type: type, value: params.get(name) || '' });
    }
    var service = el('select', { name: 'service' }, [el('option', { value: '', text: 'any service' })]);
    getJson('/api/services').then(function (body) {
      body.services.forEach(function (name) {
        var option = el('option', { value: name, text: name });
        if (name === params.get('service')) option.selected = true;
        service.appendChild(option);
      });
    }).catch(function () {});
    var state = el('select', { name: 'state' }, ['', 'crashed', 'started', 'ended'].map(function (value) {
      var option = el('option', { value: value, text: value || 'any state' });
      if (value === (params.get('state') || '')) option.selected = true;
      return option;
    }));
    var form = el('form', { className: 'filters', method: 'get', action: '/' }, [
      el('label', {}, ['service', service]),
      el('label', {}, ['state', state]),
      el('label', {}, ['from (UTC)', input('from', 'datetime-local')]),
      el('label', {}, ['to (UTC)', input('to', 'datetime-local')]),
      el('button', { type: 'submit', text: 'Filter' }),
    ]);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var query = new URLSearchParams();
      new FormData(form).forEach(function (value, key) { if (value) query.set(key, key === 'from' || key === 'to' ? value + 'Z' : value); });
      location.search = query.toString();
    });
    // datetime-local shows local-less text; the URL holds UTC with a Z.
    ['from', 'to'].forEach(function (key) {
      var value = params.get(key);
      if (value) form.elements[key].value = value.replace(/Z$/, '').slice(0, 16);
    });
    return form;
  }

  function pagedTable(section, loaded, title, url, params, headings, rowOf) {
    section.appendChild(el('h2', { text: title }));
    var body = el('tbody');
    var table = el('table', { className: 'list' }, [el('thead', {}, [el('tr', {}, headings.map(function (h) { return el('th', { text: h }); }))]), body]);
    section.appendChild(table);
    var more = el('button', { className: 'more', type: 'button', text: 'Older…' });
    more.hidden = true;
    section.appendChild(more);
    var after = null;
    var pages = 0;
    var pagesWanted = listState()[section.id] || 1;
    function load() {
      var query = new URLSearchParams(params);
      if (after) query.set('after', after);
      more.disabled = true;
      section.setAttribute('aria-busy', 'true');
      getJson(url + '?' + query.toString()).then(function (page) {
        section.removeAttribute('aria-busy');
        // The database back: the error said before is over.
        section.querySelectorAll('.error-box').forEach(function (box) { box.remove(); });
        more.textContent = 'Older…';
        page.rows.forEach(function (row) { body.appendChild(rowOf(row)); });
        if (page.rows.length === 0 && !after) body.appendChild(el('tr', {}, [el('td', { className: 'muted', colspan: headings.length, text: 'none' })]));
        after = page.next;
        more.hidden = !after;
        more.disabled = false;
        pages += 1;
        var kept = {};
        kept[section.id] = pages;
        keepListState(kept);
        if (pages < pagesWanted && after) return load();
        if (section.dataset.loaded !== 'true') loaded();
        section.dataset.loaded = 'true';
      }).catch(function (error) {
        section.removeAttribute('aria-busy');
        section.querySelectorAll('.error-box').forEach(function (box) { box.remove(); });
        showError(section, error);
        // Asked again by a click: a failed load (the database away a moment) left it disabled
        // for good, and a failed first page left no button at all (an accessibility review).
        if (!after) more.textContent = 'Try again';
        more.hidden = false;
        more.disabled = false;
      });
    }
    more.addEventListener('click', load);
    load();
  }

  // ---------- trace page ----------

  function tracePage(traceId) {
    subtitle.textContent = 'trace ' + traceId;
    document.title = 'trace ' + traceId + ' · otel-blackbox';
    var started = performance.now();
    getJson('/api/traces/' + encodeURIComponent(traceId)).then(function (body) {
      var fetched = performance.now();
      renderTrace(traceId, body);
      void document.body.offsetHeight; // include layout in the measurement
      var rendered = performance.now();
      main.dataset.fetchMs = (fetched - started).toFixed(1);
      main.dataset.renderMs = (rendered - fetched).toFixed(1);
      main.dataset.ready = 'true';
    }).catch(function (error) {
      clear(main);
      showError(main, error);
      main.dataset.ready = 'true';
    });
  }

  function spanOrder(spans) {
    var byId = new Map();
    spans.forEach(function (span) { byId.set(span.span_id, { span: span, children: [] }); });
    var roots = [];
    byId.forEach(function (node) {
      var parent = node.span.parent_span_id && byId.get(node.span.parent_span_id);
      if (parent && parent !== node) parent.children.push(node); else roots.push(node);
    });
    // Spans arrive sorted by start time, so children lists are already in order.
    var order = [];
    var seen = new Set();
    var walk = function (start) {
      var stack = start.slice().reverse().map(function (node) { return { node: node, depth: 0 }; });
      while (stack.length > 0) {
        var item = stack.pop();
        if (seen.has(item.node)) continue;
        seen.add(item.node);
        order.push({ span: item.node.span, depth: item.depth });
        for (var i = item.node.children.length - 1; i >= 0; i--) stack.push({ node: item.node.children[i], depth: item.depth + 1 });
      }
    };
    walk(roots);
    // Spans whose parents form a cycle (ids a buggy tracer reused) reach no root: shown
    // at the top level all the same, never dropped.
    byId.forEach(function (node) { if (!seen.has(node)) walk([node]); });
    return order;
  }

  var MAX_INDENT = 12;

  function renderTrace(traceId, body) {
    clear(main);
    var spans = body.spans;
    var origin = BigInt(spans[0].start_time_unix_nano);
    var rel = function (nanos) { return Number(BigInt(nanos) - origin); };
    var extent = 1;
    // A 'started' row may carry an end time of its last export; it is in flight all the same.
    var isOpen = function (span) { return span.state === 'started' || span.end_time_unix_nano === null; };
    // A span in flight runs until now, as far as anyone knows: a trace all in flight read
    // "duration 1 ns" (its axis ended at its last start).
    var now = BigInt(Date.now()) * BigInt(1000000);
    var inFlight = false;
    spans.forEach(function (span) {
      var open = isOpen(span);
      if (open) inFlight = true;
      var end = open ? Math.max(rel(span.start_time_unix_nano), rel(now.toString())) : rel(span.end_time_unix_nano);
      if (end > extent) extent = end;
    });
    var counts = { ended: 0, crashed: 0, started: 0 };
    var errors = 0;
    spans.forEach(function (span) {
      counts[span.state] = (counts[span.state] || 0) + 1;
      if (isError(span)) errors += 1;
    });
    var head = el('div', { className: 'trace-head' });

    [
      el('span', { className: 'mono', text: traceId }),
      el('span', { text: body.truncated ? 'more than ' + spans.length.toLocaleString('en-US') + ' spans (the first ' + spans.length.toLocaleString('en-US') + ' shown)' : spans.length + ' spans' }),
      el('span', { text: inFlight ? 'in flight for ' + formatNanos(extent) + ' so far' : 'duration ' + formatNanos(extent) }),
      el('span', { id: 'state-counts', text: counts.ended + ' ended, ' + counts.crashed + ' crashed, ' + counts.started + ' in flight' + (errors > 0 ? '; ' + errors + ' with status ERROR' : '') }),
      el('span', { text: 'started ' + isoFromNanos(spans[0].start_time_unix_nano) }),
    ].forEach(function (node) { head.appendChild(node); });
    main.appendChild(head);

    var ticks = el('div', { className: 'ticks' });
    for (var t = 0; t <= 4; t++) ticks.appendChild(el('span', { className: 'tick', style: { left: (t * 25) + '%' }, text: formatNanos(extent * t / 4) }));
    // A tree of rows, one focusable at a time (the selected one): arrow keys move through it
    // (keyDown). Before, no span could be reached from the keyboard (an accessibility review).
    var rows = el('div', { className: 'rows', role: 'tree', 'aria-label': 'spans, each under its parent' });
    var waterfall = el('div', { className: 'waterfall' }, [
      el('h2', { className: 'sr-only', text: 'Spans' }),
      el('div', { className: 'axis', 'aria-hidden': 'true' }, [el('div', { className: 'label', text: 'span' }), ticks]),
      rows,
    ]);
    var details = el('aside', { className: 'details', id: 'details' });
    main.appendChild(el('div', { className: 'layout' }, [waterfall, details]));

    var order = spanOrder(spans);
    var rowBySpan = new Map();
    var rowList = [];
    var fragment = document.createDocumentFragment();
    order.forEach(function (item) {
      var span = item.span;
      var start = rel(span.start_time_unix_nano);
      var open = isOpen(span);
      var end = open ? extent : rel(span.end_time_unix_nano);
      var left = (start / extent) * 100;
      var width = Math.max(0, ((end - start) / extent) * 100);
      var classes = 'bar ' + span.state + (span.status_code === 'ERROR' ? ' error' : '');
      var track = el('div', { className: 'track' }, [el('div', {
        className: classes,
        // A bar that starts at the end (a crash record's estimated end) stays inside the track.
        style: { left: 'min(' + left + '%, calc(100% - 2px))', width: width + '%' },
        title: span.name + ' · ' + (open ? 'in flight (no end yet)' : formatNanos(end - start)) + (span.end_time_estimated ? ' (end estimated)' : ''),
      })]);
      if (span.state === 'crashed' && span.end_time_estimated) {
        track.appendChild(el('div', { className: 'estimate', style: { left: 'min(' + Math.min(100, left + width) + '%, calc(100% - 2px))' }, title: 'estimated end: the last sign of life of its process' }, [el('span', { text: 'est. end' })]));
      }
      // Indented up to MAX_INDENT levels, then numbered: deeper, the name left the 320 px column.
      var label = el('div', { className: 'label', style: { paddingLeft: (6 + Math.min(item.depth, MAX_INDENT) * 12) + 'px' }, title: span.name }, [
        item.depth > MAX_INDENT ? el('span', { className: 'depth muted', text: item.depth + ' ' }) : null,
        el('span', { className: 'name', text: span.name }),
      ]);
      if (span.state === 'crashed') label.appendChild(el('span', { className: 'reason', text: firstLine(span.crash_reason) }));
      else if (isError(span)) label.appendChild(el('span', { className: 'status-error', text: 'error' }));
      if (span.state === 'started') label.appendChild(el('span', { className: 'muted', text: ' (in flight)' }));
      var row = el('div', {
        className: 'span-row state-' + span.state,
        'data-span-id': span.span_id,
        role: 'treeitem',
        'aria-level': item.depth + 1,
        'aria-selected': 'false',
        tabindex: '-1',
        // What the bar's length and colour say, in words.
        'aria-label': span.name + ', ' + (span.state === 'started' ? 'in flight' : span.state) + (isError(span) ? ', status ERROR' : '') + (open ? '' : ', ' + formatNanos(end - start)),
      }, [label, track]);
      rowBySpan.set(span.span_id, { row: row, span: span, index: rowList.length });
      rowList.push(row);
      fragment.appendChild(row);
    });
    rows.appendChild(fragment);

    var selected = null;
    var detailsTimer = null;
    // how: 'scroll' brings the row to the middle, 'focus' (keys, links) to view and focus,
    // and the details wait for the keys to rest: each is a request.
    function select(spanId, how) {
      var entry = rowBySpan.get(spanId);
      if (!entry) return;
      if (selected) {
        selected.row.classList.remove('selected');
        selected.row.setAttribute('aria-selected', 'false');
        selected.row.tabIndex = -1;
      }
      selected = entry;
      entry.row.classList.add('selected');
      entry.row.setAttribute('aria-selected', 'true');
      entry.row.tabIndex = 0;
      if (how === 'scroll') entry.row.scrollIntoView({ block: 'center' });
      if (how === 'focus') {
        entry.row.scrollIntoView({ block: 'nearest' });
        entry.row.focus({ preventScroll: true });
      }
      history.replaceState(null, '', '#span=' + encodeURIComponent(spanId));
      clearTimeout(detailsTimer);
      var show = function () { showDetails(details, traceId, entry.span, rel, isOpen(entry.span)); };
      if (how === 'focus') detailsTimer = setTimeout(show, 120); else show();
    }
    rows.addEventListener('click', function (event) {
      var row = event.target.closest('.span-row');
      if (row) select(row.getAttribute('data-span-id'), undefined);
    });
    var PAGE_ROWS = 20;
    rows.addEventListener('keydown', function (event) {
      if (!selected || event.altKey || event.ctrlKey || event.metaKey) return;
      var at = selected.index;
      var to = event.key === 'ArrowDown' || event.key === 'j' ? at + 1
        : event.key === 'ArrowUp' || event.key === 'k' ? at - 1
        : event.key === 'PageDown' ? at + PAGE_ROWS
        : event.key === 'PageUp' ? at - PAGE_ROWS
        : event.key === 'Home' ? 0
        : event.key === 'End' ? rowList.length - 1
        : null;
      if (to === null) return;
      event.preventDefault();
      to = Math.max(0, Math.min(rowList.length - 1, to));
      if (to !== at) select(rowList[to].getAttribute('data-span-id'), 'focus');
    });

    // A shared link to a span not in this trace, or past the spans shown: said, not ignored.
    function found(spanId) {
      var said = document.getElementById('span-not-found');
      if (said) said.remove();
      if (rowBySpan.has(spanId)) return true;
      head.appendChild(el('span', { id: 'span-not-found', className: 'error-box', role: 'alert', text: 'span ' + spanId + ' is not among the spans shown' }));
      return false;
    }
    var wanted = new URLSearchParams(location.hash.slice(1)).get('span');
    select(wanted && found(wanted) ? wanted : whereItFailed(order).span.span_id, 'scroll');
    // A shared link to another span of the same trace changes only the hash; a link followed
    // inside the details moves the focus with the selection (it fell to the page's body).
    window.addEventListener('hashchange', function () {
      var spanId = new URLSearchParams(location.hash.slice(1)).get('span');
      if (spanId && (!selected || selected.span.span_id !== spanId) && found(spanId)) select(spanId, 'focus');
    });
  }

  function isError(span) { return span.status_code === 'ERROR'; }

  // Where it stopped: the deepest crashed span; else where it failed: the deepest span with
  // status ERROR (a root selected by default pointed at nothing: an accessibility review);
  // else the first span.
  function whereItFailed(order) {
    var deepest = function (test) {
      var found = null;
      order.forEach(function (item) { if (test(item.span) && (!found || item.depth > found.depth)) found = item; });
      return found;
    };
    return deepest(function (span) { return span.state === 'crashed'; }) || deepest(isError) || order[0];
  }

  function showDetails(details, traceId, span, rel, open) {
    clear(details);
    // The trace's response cuts the texts of its spans short: the selected span's whole ones
    // come with its details below, and replace these.
    var title = el('h3', { text: span.name });
    details.appendChild(title);
    function statusText(message) { return span.status_code + (message ? ': ' + firstLine(message) : ''); }
    var status = el('dd', { text: statusText(span.status_message) });
    var facts = [
      ['state', span.state],
      ['service', span.service_name || '–'],
      ['kind', span.kind],
      ['status', status],
      ['span id', span.span_id],
      ['parent', span.parent_span_id ? span.parent_span_id + (span.parent_is_remote ? ' (in another process)' : '') : '(root)'],
      ['start', isoFromNanos(span.start_time_unix_nano) + ' (+' + formatNanos(rel(span.start_time_unix_nano)) + ')'],
      ['end', open ? 'not ended yet (in flight)' : isoFromNanos(span.end_time_unix_nano) + (span.end_time_estimated ? ' (estimated: last sign of life)' : '')],
      ['duration', open ? '–' : formatNanos(rel(span.end_time_unix_nano) - rel(span.start_time_unix_nano)) + (span.end_time_estimated ? ' (estimated)' : '')],
      ['scope', (span.scope_name || '–') + (span.scope_version ? ' ' + span.scope_version : '')],
    ];
    details.appendChild(el('dl', {}, facts.reduce(function (list, pair) {
      list.push(el('dt', { text: pair[0] }), typeof pair[1] === 'string' ? el('dd', { text: pair[1] }) : pair[1]);
      return list;
    }, [])));
    var reason = null;
    if (span.crash_reason) {
      details.appendChild(el('div', { className: 'muted', text: 'crash reason' }));
      // Focusable: it scrolls, and a keyboard must be able to scroll it (axe scrollable-region-focusable).
      reason = el('pre', { className: 'crash', id: 'crash-reason', tabindex: '0', text: span.crash_reason });
      details.appendChild(reason);
    }
    // What the span logged comes first: after a crash it is what people look for.
    var logs = el('section', { id: 'logs' }, [el('h2', { text: 'events and logs' })]);
    details.appendChild(logs);
    // A crash record: what its process logged last, in this span, in others, or outside any.
    var processLogs = el('section', { id: 'process-logs' });
    details.appendChild(processLogs);
    // Attributes, links and resource come with the span's logs: the trace's own response
    // carries only what the waterfall needs, however large the attributes.
    var attributes = el('section', { id: 'attributes' });
    details.appendChild(attributes);
    var resource = el('details', {}, [el('summary', { text: 'resource' })]);
    details.appendChild(resource);
    getJson('/api/traces/' + encodeURIComponent(traceId) + '/spans/' + encodeURIComponent(span.span_id)).then(function (body) {
      if (typeof body.name === 'string') title.textContent = body.name;
      if (body.status_message !== undefined) status.textContent = statusText(body.status_message);
      if (reason && body.crash_reason) reason.textContent = body.crash_reason;
      attributes.appendChild(keyValues('attributes', withoutMarkers(body.attributes, span.state === 'crashed')));
      if (typeof body.links === 'string' || (Array.isArray(body.links) && body.links.length > 0)) attributes.appendChild(keyValues('links', body.links));
      if (body.scope_schema_url) attributes.appendChild(el('div', { className: 'muted', id: 'scope-schema-url', text: 'scope schema: ' + body.scope_schema_url }));
      resource.appendChild(keyValues('resource', body.resource));
      if (body.resource_schema_url) resource.appendChild(el('div', { className: 'muted', id: 'resource-schema-url', text: 'resource schema: ' + body.resource_schema_url }));
      if (body.logs.length === 0) logs.appendChild(el('p', { className: 'muted', text: 'none' }));
      if (body.truncated) logs.appendChild(el('p', { className: 'muted', id: 'logs-truncated', text: 'the last ' + body.logs.length + ' shown; earlier ones are in the logs table' }));
      body.logs.forEach(function (log) { logs.appendChild(logLine(log, rel)); });
      if (body.process_logs) showProcessLogs(processLogs, body.process_logs, traceId, span.span_id, rel);
      logs.dataset.loaded = 'true';
    }).catch(function (error) { showError(logs, error); });
  }

  // The state, crash reason and estimated-end markers are shown above as facts already, the
  // writer id with what its process logged last.
  var MARKERS = ['otel_blackbox.state', 'otel_blackbox.crash.reason', 'otel_blackbox.end_time.estimated'];
  // The writer id is shown with the process's lines, on a crash record only: on another span
  // it is the application's own attribute.
  var CRASH_MARKERS = MARKERS.concat(['otel_blackbox.writer.id']);
  function withoutMarkers(attributes, crashed) {
    // Past 1 MiB of JSON they come as the first part of their text (viewerQueries.ts): shown as it is.
    if (typeof attributes === 'string') return attributes;
    var hidden = crashed ? CRASH_MARKERS : MARKERS;
    var shown = {};
    if (attributes && typeof attributes === 'object') Object.keys(attributes).forEach(function (key) { if (hidden.indexOf(key) < 0) shown[key] = attributes[key]; });
    return shown;
  }

  function keyValues(title, object) {
    if (typeof object === 'string') {
      return el('div', {}, [el('div', { className: 'muted', text: title + ' (too large to send whole: the first part of their JSON)' }), el('pre', { className: 'cut mono', text: object })]);
    }
    var rows = [];
    if (object && typeof object === 'object') {
      Object.keys(object).forEach(function (key) { rows.push(el('dt', { text: key }), el('dd', { className: 'mono', text: valueText(object[key]) })); });
    }
    return el('div', {}, [el('div', { className: 'muted', text: title + (rows.length === 0 ? ': none' : '') }), el('dl', {}, rows)]);
  }

  function showProcessLogs(section, process, traceId, spanId, rel) {
    section.appendChild(el('h2', { text: 'what the process logged last' }));
    section.appendChild(el('p', { className: 'muted', text: 'journal writer ' + process.writer_id + ' (logs.writer_id)' }));
    if (process.logs.length === 0) section.appendChild(el('p', { className: 'muted', text: 'nothing' }));
    if (process.truncated) section.appendChild(el('p', { className: 'muted', text: 'its last ' + process.logs.length + ' lines; earlier ones are in the logs table (writer_id ' + process.writer_id + ')' }));
    process.logs.forEach(function (log) {
      var line = logLine(log, rel);
      var f = log.fields || {};
      // No span ids: logged outside any span. Flags 0: in a span not sampled, which has no row to link to.
      var where = !f.span_id ? el('span', { className: 'muted where', text: ' (outside any recorded span)' })
        : (Number(f.trace_flags) & 1) === 0 ? el('span', { className: 'muted where', text: ' (in span ' + f.span_id + ', not sampled)' })
        : f.trace_id === traceId && f.span_id === spanId ? el('span', { className: 'muted where', text: ' (in this span)' })
        : el('a', { className: 'where', href: traceHref(f.trace_id, f.span_id), text: ' (in span ' + f.span_id + ')' });
      line.insertBefore(where, line.querySelector('.attrs'));
      section.appendChild(line);
    });
  }

  // From the trace's start: a process's line can come before it.
  function offsetText(ns) { return ns < 0 ? '−' + formatNanos(-ns) : '+' + formatNanos(ns); }

  // OpenTelemetry's severity number ranges: 1-4 TRACE ... 21-24 FATAL, as TRACE2, INFO3 and so on.
  var SEVERITIES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
  function severityName(number) {
    if (typeof number !== 'number' || number < 1 || number > 24) return null;
    var step = (number - 1) % 4;
    return SEVERITIES[Math.floor((number - 1) / 4)] + (step === 0 ? '' : String(step + 1));
  }

  function logLine(log, rel) {
    var f = log.fields || {};
    var severity = f.severity_text || severityName(f.severity_number);
    // A log record's JSON null body is kept as null; no body at all is SQL NULL.
    var text = f.kind === 'log' ? (f.body_missing ? '(no body)' : valueText(f.body === undefined ? null : f.body))
      : f.body !== undefined && f.body !== null ? valueText(f.body) : f.event_name || '(event)';
    // Attributes too large to send whole come as their JSON text, cut (viewerQueries.ts).
    var attributes = typeof f.attributes === 'string' ? f.attributes : f.attributes && Object.keys(f.attributes).length > 0 ? JSON.stringify(f.attributes) : '';
    return el('div', { className: 'log' + (severity ? ' record' : ' event') }, [
      el('span', { className: 'muted mono', text: offsetText(rel(log.time_unix_nano)) + ' ' }),
      severity ? el('span', { className: 'severity ' + String(severity).toUpperCase().replace(/[^A-Z]/g, ''), text: severity }) : el('span', { className: 'severity', text: 'event' }),
      el('span', { className: 'text', text: text }),
      attributes ? el('div', { className: 'attrs', text: attributes }) : null,
    ]);
  }

  var traceMatch = /^\/traces\/([0-9a-f]{32})$/.exec(location.pathname);
  if (traceMatch) tracePage(traceMatch[1]); else listPage();
})();
`;
