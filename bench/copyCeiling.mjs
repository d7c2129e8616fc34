// The raw ceiling: the same rows (traces, spans, span events) COPYed straight into the
// tables in one transaction, with no conflict handling and no per-span work in the
// database. Nothing a correct exporter does can be faster than this.
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import copyStreams from 'pg-copy-streams';

const nanos = ([seconds, nanoseconds]) => BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds);
const iso = (ns) => new Date(Number(ns / 1_000_000n)).toISOString();
// COPY text format: backslash, tab and newlines must be escaped; \N is NULL.
const field = (value) => (value === null || value === undefined ? '\\N' : String(value).replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]));
const line = (values) => `${values.map(field).join('\t')}\n`;

/** Renders the rows first (outside the timing), then times only the COPY and COMMIT. */
export async function copyCeiling(pool, schema, spans) {
  const traces = new Map();
  const spanLines = [];
  const logLines = [];
  for (const span of spans) {
    const { traceId, spanId } = span.spanContext();
    const start = nanos(span.startTime);
    const end = nanos(span.endTime);
    if (!traces.has(traceId)) traces.set(traceId, line([traceId, span.resource.attributes['service.name'], iso(start), start]));
    spanLines.push(line([
      traceId, spanId, span.parentSpanContext?.spanId ?? null, span.name, String(span.kind), 'ended', iso(start), start, iso(end), end,
      end - start, 'UNSET', JSON.stringify(span.attributes), JSON.stringify(span.resource.attributes),
      span.resource.attributes['service.name'], span.instrumentationScope.name, span.instrumentationScope.version ?? null,
      span.parentSpanContext === undefined ? null : String(span.parentSpanContext.isRemote === true),
    ]));
    span.events.forEach((event, index) => {
      const time = nanos(event.time);
      logLines.push(line([traceId, spanId, index, iso(time), time, event.name, JSON.stringify(event.attributes ?? {})]));
    });
  }
  const client = await pool.connect();
  try {
    const started = performance.now();
    await client.query('BEGIN');
    const copy = (sql, lines) => pipeline(Readable.from([lines.join('')]), client.query(copyStreams.from(sql)));
    await copy(`COPY "${schema}".traces (trace_id, service_name, start_time, start_time_unix_nano) FROM STDIN`, [...traces.values()]);
    await copy(
      `COPY "${schema}".spans (trace_id, span_id, parent_span_id, name, kind, state, start_time, start_time_unix_nano, end_time,
        end_time_unix_nano, duration_ns, status_code, attributes, resource, service_name, scope_name, scope_version, parent_is_remote) FROM STDIN`,
      spanLines,
    );
    await copy(`COPY "${schema}".logs (trace_id, span_id, event_index, time, time_unix_nano, event_name, attributes) FROM STDIN`, logLines);
    await client.query('COMMIT');
    return (performance.now() - started) / 1000;
  } finally {
    client.release();
  }
}
