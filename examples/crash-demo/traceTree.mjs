// Renders the demo's traces from PostgreSQL as trees, crash records marked with their reason.

const DEMO_QUERY = (schema) => `
  SELECT s.trace_id, s.span_id, s.parent_span_id, s.name, s.state, s.crash_reason,
         s.start_time_unix_nano::text AS start_ns, s.duration_ns::text AS duration_ns,
         (SELECT count(*) FROM "${schema}".logs l WHERE l.trace_id = s.trace_id AND l.span_id = s.span_id AND l.kind = 'event')::int AS events,
         (SELECT json_agg(json_build_object('severity', l.severity_text, 'line', l.body #>> '{}') ORDER BY l.time_unix_nano)
            FROM "${schema}".logs l WHERE l.trace_id = s.trace_id AND l.span_id = s.span_id AND l.kind = 'log') AS log_lines
    FROM "${schema}".spans s
   WHERE s.service_name = $1
   ORDER BY s.start_time_unix_nano`;

function label(span) {
  const ms = (Number(span.duration_ns) / 1e6).toFixed(1);
  const events = span.events > 0 ? `, ${span.events} event${span.events > 1 ? 's' : ''}` : '';
  if (span.state === 'crashed') {
    const reason = (span.crash_reason ?? '').split('\n')[0];
    return `✗ ${span.name}  [CRASHED: ${reason}]`;
  }
  return `✓ ${span.name}  (${ms} ms${events})`;
}

export async function printTraceTrees(pool, schema, serviceName, write = (line) => console.log(line)) {
  const { rows } = await pool.query(DEMO_QUERY(schema), [serviceName]);
  const byTrace = new Map();
  for (const row of rows) {
    if (!byTrace.has(row.trace_id)) byTrace.set(row.trace_id, []);
    byTrace.get(row.trace_id).push(row);
  }
  for (const [traceId, spans] of byTrace) {
    const ids = new Set(spans.map((span) => span.span_id));
    const children = new Map();
    for (const span of spans) {
      const parent = span.parent_span_id && ids.has(span.parent_span_id) ? span.parent_span_id : 'root';
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(span);
    }
    const crashed = spans.some((span) => span.state === 'crashed');
    write(`trace ${traceId}${crashed ? '   <-- the process died here' : ''}`);
    const walk = (parent, indent) => {
      for (const span of children.get(parent) ?? []) {
        write(`${indent}${label(span)}`);
        for (const entry of span.log_lines ?? []) write(`${indent}   | ${entry.severity ?? '-'} ${entry.line}`);
        walk(span.span_id, `${indent}   `);
      }
    };
    walk('root', '   ');
  }
  return rows;
}
