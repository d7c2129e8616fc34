// The baseline the bulk exporter is measured against: a SpanExporter that commits each
// batch in one transaction, but with one INSERT round trip per span (the shape of most
// hand-written database exporters). It writes only the spans table, which flatters it.
import { ExportResultCode } from '@opentelemetry/core';

const nanos = ([seconds, nanoseconds]) => (BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds)).toString();

export class NaiveSpanExporter {
  constructor(pool, schema) {
    this.pool = pool;
    this.sql = `INSERT INTO "${schema}".spans (trace_id, span_id, parent_span_id, name, kind, state,
        start_time, start_time_unix_nano, end_time, end_time_unix_nano, duration_ns, status_code,
        attributes, resource, service_name, scope_name, scope_version)
      VALUES ($1, $2, $3, $4, $5, 'ended', to_timestamp($6::bigint / 1e9), $6, to_timestamp($7::bigint / 1e9), $7,
        $7::bigint - $6::bigint, 'UNSET', $8, $9, $10, $11, $12)
      ON CONFLICT (trace_id, span_id) DO NOTHING`;
  }

  export(spans, done) {
    this.write(spans).then(
      () => done({ code: ExportResultCode.SUCCESS }),
      (error) => done({ code: ExportResultCode.FAILED, error }),
    );
  }

  async write(spans) {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      for (const span of spans) {
        const { traceId, spanId } = span.spanContext();
        await client.query(this.sql, [
          traceId, spanId, span.parentSpanContext?.spanId ?? null, span.name, String(span.kind),
          nanos(span.startTime), nanos(span.endTime), JSON.stringify(span.attributes),
          JSON.stringify(span.resource.attributes), span.resource.attributes['service.name'] ?? null,
          span.instrumentationScope.name, span.instrumentationScope.version ?? null,
        ]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async shutdown() {}
  async forceFlush() {}
}
