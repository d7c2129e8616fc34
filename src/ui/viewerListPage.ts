// The viewer's list page, a part of its browser script (viewerScript.ts, whose helpers it
// uses): recent crashes, traces and log lines outside spans, filters, keyset pages, and
// the place Back brings back.
export const LIST_PAGE_SCRIPT = String.raw`
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
    subtitle.textContent = 'crashes, traces and log lines';
    document.title = 'crashes, traces and log lines · otel-blackbox';
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
    var logs = el('section', { id: 'logs' });
    main.appendChild(crashes);
    main.appendChild(traces);
    main.appendChild(logs);
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
        el('td', {}, [el('span', { className: 'state ' + row.state, text: row.state })].concat(row.error_count > 0
          // Said in words, not by colour: the trace page's word for a status ERROR.
          ? [el('span', { className: 'status-error', text: row.error_count + (row.error_count === 1 ? ' error' : ' errors') })]
          : [])),
      ]);
    });
    // The lines no span shows: outside any span, or in a span not sampled (its details would
    // have listed them, but it has no row). Not with a filter of traces by state or status.
    if (!state && !params.get('status')) {
      tablesLoading += 1;
      pagedTable(logs, tableLoaded, 'Log lines outside spans', '/api/logs', params, ['time', 'service', 'severity', 'logger', 'line', 'where'], function (row) {
        var severity = row.severity_text || severityName(row.severity_number);
        var text = row.body_missing ? '(no body)' : valueText(row.body === undefined ? null : row.body);
        // The logger (its instrumentation scope) and its scope attributes, as a span's lines show them.
        var logger = row.scope_name ? row.scope_name + (row.scope_version ? ' ' + row.scope_version : '') : '';
        var scope = logger ? scopeAttributesText(row.scope_attributes) : '';
        return el('tr', { className: 'log-row' }, [
          el('td', { className: 'mono', text: row.time }),
          el('td', { text: row.service_name || '–' }),
          el('td', {}, [el('span', { className: 'severity ' + String(severity || '').toUpperCase().replace(/[^A-Z]/g, ''), text: severity || '–' })]),
          el('td', { className: 'logger', title: logger ? logger + (scope ? ' ' + scope : '') : null }, [
            logger || '–',
            scope ? el('span', { className: 'muted scope-attributes', text: ' ' + scope }) : null,
          ]),
          el('td', { className: 'line', text: firstLine(text), title: text }),
          el('td', { className: 'muted', text: row.span_id ? 'in span ' + row.span_id + ', not sampled' : 'outside any span' }),
        ]);
      });
    }
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
    var status = el('select', { name: 'status' }, [['', 'any status'], ['error', 'with an ERROR span']].map(function (pair) {
      var option = el('option', { value: pair[0], text: pair[1] });
      if (pair[0] === (params.get('status') || '')) option.selected = true;
      return option;
    }));
    // Of the log lines outside spans only: the least severity listed.
    var severity = el('select', { name: 'severity' }, [['', 'any'], ['debug', 'DEBUG and above'], ['info', 'INFO and above'], ['warn', 'WARN and above'], ['error', 'ERROR and above'], ['fatal', 'FATAL']].map(function (pair) {
      var option = el('option', { value: pair[0], text: pair[1] });
      if (pair[0] === (params.get('severity') || '')) option.selected = true;
      return option;
    }));
    var form = el('form', { className: 'filters', method: 'get', action: '/' }, [
      el('label', {}, ['service', service]),
      el('label', {}, ['state', state]),
      el('label', {}, ['status', status]),
      el('label', {}, ['log severity', severity]),
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
`;
