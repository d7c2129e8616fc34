// What our code and our declarations need of @opentelemetry/sdk-logs' types, written out
// here. The package is an optional peer, needed at run time only for log records; while our
// declarations imported its types, a traces-only TypeScript project with skipLibCheck off
// did not compile (TS2307), and with it on `logExporter` read as any (a new user's attack).
// The SDK's own log records and exporters have these shapes on both of its lines (0.2xx and
// 3.x): the published-package test compiles a strict consumer that hands them over.
import type { HrTime, SpanContext } from '@opentelemetry/api';
import type { ExportResult, InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';

/** Attribute values: `@opentelemetry/api-logs`' AnyValue on the 2.x line, the api's on 3.x. */
export type LogAttributes = Record<string, unknown>;

/** sdk-logs' ReadableLogRecord: what a LogRecordProcessor is handed, and a LogRecordExporter exports. */
export interface ReadableLogRecord {
  readonly hrTime: HrTime;
  readonly hrTimeObserved: HrTime;
  readonly spanContext?: SpanContext;
  readonly severityText?: string;
  readonly severityNumber?: number;
  readonly body?: unknown;
  readonly eventName?: string;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope & { attributes?: LogAttributes; droppedAttributesCount?: number };
  readonly attributes: LogAttributes;
  readonly droppedAttributesCount: number;
}

/** sdk-logs' LogRecordExporter (an OTLP log exporter, say). */
export interface LogRecordExporter {
  export(logs: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
  forceFlush(): Promise<void>;
}
