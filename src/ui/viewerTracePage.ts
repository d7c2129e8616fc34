// The viewer's trace page, a part of its browser script (viewerScript.ts, whose helpers it
// uses): the waterfall, a tree the keyboard moves through, and the selection it shows in
// the details (viewerSpanDetails.ts).
export const TRACE_PAGE_SCRIPT = String.raw`
  // ---------- trace page ----------

  function tracePage(traceId) {
    subtitle.textContent = 'trace ' + traceId;
    document.title = 'trace ' + traceId + ' · otel-blackbox';
    var started = performance.now();
    // The span the address names comes even in a trace too large to show whole.
    var wanted = spanInAddress();
    var query = wanted && /^[0-9a-f]{16}$/.test(wanted) ? '?span=' + wanted : '';
    getJson('/api/traces/' + encodeURIComponent(traceId) + query).then(function (body) {
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
    // The whole trace's, from the server: a trace too large to show whole counted only the
    // spans shown ("1 crashed" of 2).
    var counts = body.counts;
    var errors = counts.errors;
    var head = el('div', { className: 'trace-head' });
    var shownCount = spans.length.toLocaleString('en-US');

    [
      el('span', { className: 'mono', text: traceId }),
      el('span', { id: 'span-count', text: body.truncated ? counts.spans.toLocaleString('en-US') + ' spans, ' + shownCount + ' shown: its crash records, ERROR spans and the span asked for, with their parents, then the first by start time' : spans.length + ' spans' }),
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
    var findInput = el('input', { type: 'search', id: 'find-span', placeholder: 'find a span (/)', 'aria-label': 'find a span by its name or service; Enter goes to the next, Shift+Enter to the previous' });
    var findCount = el('span', { id: 'find-count', className: 'muted', role: 'status' });
    var waterfall = el('div', { className: 'waterfall' }, [
      el('h2', { className: 'sr-only', text: 'Spans' }),
      el('div', { className: 'find' }, [findInput, findCount]),
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

    // Find: the spans whose name or service holds the text (any case) are marked; Enter
    // selects the next one after the selection, Shift+Enter the one before, round the trace.
    // In a trace of 10,000 spans a span was found by its name only by scrolling (a review).
    var matches = [];
    var findTimer = null;
    function find() {
      findTimer = null;
      var text = findInput.value.trim().toLowerCase();
      matches.forEach(function (index) { rowList[index].classList.remove('match'); });
      matches = [];
      if (text) order.forEach(function (item, index) {
        if (item.span.name.toLowerCase().indexOf(text) >= 0 || (item.span.service_name || '').toLowerCase().indexOf(text) >= 0) {
          matches.push(index);
          rowList[index].classList.add('match');
        }
      });
      findCount.textContent = !text ? '' : matches.length === 0 ? 'no span matches' : matches.length + (matches.length === 1 ? ' span matches' : ' spans match');
    }
    findInput.addEventListener('input', function () {
      clearTimeout(findTimer);
      findTimer = setTimeout(find, 150);
    });
    findInput.addEventListener('keydown', function (event) {
      if (event.key !== 'Enter') return;
      event.preventDefault();
      if (findTimer !== null) { clearTimeout(findTimer); find(); }
      if (matches.length === 0) return;
      var at = selected ? selected.index : -1;
      // The first match after the selection (or before it, backwards); past the end, round.
      var position = event.shiftKey ? matches.length - 1 : 0;
      if (event.shiftKey) {
        for (var i = matches.length - 1; i >= 0; i--) if (matches[i] < at) { position = i; break; }
      } else {
        for (var j = 0; j < matches.length; j++) if (matches[j] > at) { position = j; break; }
      }
      select(rowList[matches[position]].getAttribute('data-span-id'), 'scroll');
      findCount.textContent = (position + 1) + ' of ' + matches.length;
    });
    var PAGE_ROWS = 20;
    rows.addEventListener('keydown', function (event) {
      if (!selected || event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.key === '/') {
        event.preventDefault();
        findInput.focus();
        return;
      }
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
    var wanted = spanInAddress();
    select(wanted && found(wanted) ? wanted : whereItFailed(order).span.span_id, 'scroll');
    // A shared link to another span of the same trace changes only the hash; a link followed
    // inside the details moves the focus with the selection (it fell to the page's body).
    window.addEventListener('hashchange', function () {
      var spanId = spanInAddress();
      if (!spanId || (selected && selected.span.span_id === spanId)) return;
      // A trace too large to show whole: the span is asked for with the trace (traceSpans).
      if (body.truncated && !rowBySpan.has(spanId)) return location.reload();
      if (found(spanId)) select(spanId, 'focus');
    });
  }

  // The span the address names (#span=<id>), in lowercase as the API's ids are; null for none.
  function spanInAddress() {
    var spanId = new URLSearchParams(location.hash.slice(1)).get('span');
    return spanId ? spanId.toLowerCase() : null;
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
`;
