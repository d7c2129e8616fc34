// The viewer's browser script, shipped as text inside the package. Every value that comes
// from the database reaches the page through textContent or a computed style, never as
// HTML: el() has no way to set innerHTML, and the server's CSP forbids inline script.
// Plain ES2020 without a build step; String.raw keeps its backslashes as written. One
// function scope: the pages' parts (viewerListPage.ts, viewerTracePage.ts,
// viewerSpanDetails.ts) use the helpers here, and the router at the end picks the page.
import { LIST_PAGE_SCRIPT } from './viewerListPage.js';
import { SPAN_DETAILS_SCRIPT } from './viewerSpanDetails.js';
import { TRACE_PAGE_SCRIPT } from './viewerTracePage.js';

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

  // Each unit: its size in ns, and how many of it make the next. The unit is chosen after
  // rounding: "1000.0 µs" for 999,960 ns, "60.00 s" near a minute, and "4320.0 min" for an
  // in-flight trace three days old were printed before (a review).
  function formatNanos(ns) {
    if (ns === null || ns === undefined || !isFinite(ns)) return '–';
    var units = [['ns', 1, 1e3], ['µs', 1e3, 1e3], ['ms', 1e6, 1e3], ['s', 1e9, 60], ['min', 6e10, 60], ['h', 3.6e12, 24], ['d', 8.64e13, Infinity]];
    for (var i = 0; i < units.length; i++) {
      var unit = units[i];
      var value = Math.abs(ns) / unit[1];
      var digits = unit[0] === 'ns' ? 0 : unit[0] === 's' || value < 10 && unit[1] < 1e9 ? 2 : 1;
      if (Number(value.toFixed(digits)) < unit[2]) return (ns < 0 ? '-' : '') + value.toFixed(digits) + ' ' + unit[0];
    }
  }

  function isoFromNanos(nanos) {
    if (nanos === null || nanos === undefined) return '';
    return new Date(Number(BigInt(nanos) / BigInt(1000000))).toISOString();
  }

  function firstLine(text) { return text ? String(text).split('\n')[0] : ''; }

  function valueText(value) { return typeof value === 'string' ? value : JSON.stringify(value); }

  // A logger's scope attributes (getLogger's attributes: a tenant, a ring) as key=value,
  // beside the logger's name; '' where it gave none. Too large to send whole, they come as
  // the first part of their JSON text (viewerQueries.ts), shown as it is.
  function scopeAttributesText(attributes) {
    if (typeof attributes === 'string') return attributes;
    if (!attributes || typeof attributes !== 'object') return '';
    return Object.keys(attributes).map(function (key) { return key + '=' + valueText(attributes[key]); }).join(', ');
  }

  // OpenTelemetry's severity number ranges: 1-4 TRACE ... 21-24 FATAL, as TRACE2, INFO3 and so on.
  var SEVERITIES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
  function severityName(number) {
    if (typeof number !== 'number' || number < 1 || number > 24) return null;
    var step = (number - 1) % 4;
    return SEVERITIES[Math.floor((number - 1) / 4)] + (step === 0 ? '' : String(step + 1));
  }

  function traceHref(traceId, spanId) {
    return '/traces/' + encodeURIComponent(traceId) + (spanId ? '#span=' + encodeURIComponent(spanId) : '');
  }
`
  + LIST_PAGE_SCRIPT
  + TRACE_PAGE_SCRIPT
  + SPAN_DETAILS_SCRIPT
  + String.raw`
  var traceMatch = /^\/traces\/([0-9a-f]{32})$/.exec(location.pathname);
  if (traceMatch) tracePage(traceMatch[1]); else listPage();
})();
`;
