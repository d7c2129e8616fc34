// A processor registered twice on one provider (`spanProcessors: [p, p]`, or
// `addSpanProcessor` called twice; for logs, two JournalLogRecordProcessors of one span
// processor on one LoggerProvider) is handed each span and each log record twice in a row.
// Before: every START and END was journaled twice and `spansExported` counted each span
// twice (the span rows were right, by their key); every log record was journaled twice,
// under two sequence numbers, so PostgreSQL stored each line twice, with no warning.
import { context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, expect, test } from 'vitest';
import { diag } from '@opentelemetry/api';
import { JournalLogRecordProcessor, JournalSpanProcessor, PostgresSpanExporter } from '../../src/index.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { collectDiag } from '../helpers/diagLines.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'registered_twice', (name) => (schema = name));
afterEach(() => diag.disable());

test('a processor registered twice journals, exports and counts each span and log record once, and says so once', async () => {
  const lines = collectDiag();
  const spans = new JournalSpanProcessor({ exporter: new PostgresSpanExporter({ connectionString: db.url, schema }), journalDir: tempDir(), recover: false, scheduledDelayMillis: 20 });
  const resource = resourceFromAttributes({ 'service.name': 'registered-twice' });
  const tracerProvider = new TracerProvider({ resource, spanProcessors: [spans, spans] });
  const logs = new JournalLogRecordProcessor({ spanProcessor: spans });
  const loggerProvider = new LoggerProvider({ resource, processors: [logs, new JournalLogRecordProcessor({ spanProcessor: spans })] });
  const tracer = tracerProvider.getTracer('twice');
  const logger = loggerProvider.getLogger('twice');
  for (let i = 0; i < 20; i++) {
    const span = tracer.startSpan(`job ${i}`);
    logger.emit({ body: `line ${i}`, context: trace.setSpan(context.active(), span) });
    span.end();
  }
  logger.emit({ body: 'outside any span' });
  await loggerProvider.forceFlush();
  await tracerProvider.forceFlush();
  const stats = spans.stats();
  expect(stats.spansExported).toBe(20);
  expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE service_name = 'registered-twice'`)).toBe(20);
  expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE kind = 'log' AND service_name = 'registered-twice'`)).toBe(21);
  expect(lines.filter((line) => line.includes('registered twice'))).toHaveLength(2);
  await loggerProvider.shutdown();
  await tracerProvider.shutdown();
});
