// The viewer's details of the selected span, a part of its browser script (viewerScript.ts,
// whose helpers it uses): facts, crash reason, events and log records, what its process
// logged last, attributes, links and resource.
export const SPAN_DETAILS_SCRIPT = String.raw`
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
      // Through shown(), as el() does: assigned raw, a bidirectional control reversed them.
      if (typeof body.name === 'string') title.textContent = shown(body.name);
      if (body.status_message !== undefined) status.textContent = shown(statusText(body.status_message));
      if (reason && body.crash_reason) reason.textContent = shown(body.crash_reason);
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
    // No prototype: an attribute named __proto__ (an own key, as JSON.parse makes it) set one instead, and vanished.
    var shown = Object.create(null);
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

  function logLine(log, rel) {
    var f = log.fields || {};
    var severity = f.severity_text || severityName(f.severity_number);
    // A log record's JSON null body is kept as null; no body at all is SQL NULL.
    var text = f.kind === 'log' ? (f.body_missing ? '(no body)' : valueText(f.body === undefined ? null : f.body))
      : f.body !== undefined && f.body !== null ? valueText(f.body) : f.event_name || '(event)';
    // Attributes too large to send whole come as their JSON text, cut (viewerQueries.ts).
    var attributes = typeof f.attributes === 'string' ? f.attributes : f.attributes && Object.keys(f.attributes).length > 0 ? JSON.stringify(f.attributes) : '';
    // The logger a record came through (its instrumentation scope): which library said it,
    // and with which scope attributes.
    var logger = f.kind === 'log' && f.scope_name ? f.scope_name + (f.scope_version ? ' ' + f.scope_version : '') : '';
    var scope = logger ? scopeAttributesText(f.scope_attributes) : '';
    return el('div', { className: 'log' + (severity ? ' record' : ' event') }, [
      el('span', { className: 'muted mono', text: offsetText(rel(log.time_unix_nano)) + ' ' }),
      severity ? el('span', { className: 'severity ' + String(severity).toUpperCase().replace(/[^A-Z]/g, ''), text: severity }) : el('span', { className: 'severity', text: 'event' }),
      el('span', { className: 'text', text: text }),
      logger ? el('span', { className: 'muted logger' }, [
        ' [' + logger,
        scope ? el('span', { className: 'scope-attributes', title: 'scope attributes', text: ' ' + scope }) : null,
        ']',
      ]) : null,
      attributes ? el('div', { className: 'attrs', text: attributes }) : null,
    ]);
  }
`;
