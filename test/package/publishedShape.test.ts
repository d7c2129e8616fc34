// The package as users load it: by name, from ESM and from CommonJS, and as a tracing
// setup preloaded with `node --import` and `node -r`.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

const run = promisify(execFile);
// Every value export, exactly: an export added by accident (a helper, an internal class)
// becomes public API that must be kept, so this list changes only on purpose, with the
// README and CHANGELOG. Types are not values and do not appear here.
const EXPORTS = [
  'ATTR_CRASH_REASON',
  'ATTR_DROPPED_SPANS',
  'ATTR_END_TIME_ESTIMATED',
  'ATTR_SPAN_STATE',
  'ATTR_TRUNCATED',
  'ATTR_WRITER_ID',
  'ForeignMigrationsTableError',
  'InvalidOptionError',
  'JournalLogRecordProcessor',
  'JournalSpanProcessor',
  'MigrationUnderWayError',
  'MigrationsIncompleteError',
  'MissingTableError',
  'OVERFLOW_SPAN_NAME',
  'PostgresExportError',
  'PostgresSpanExporter',
  'SchemaTooNewError',
  'migrateSchema',
  'migrationScript',
  'pruneSchema',
  'recoverJournals',
];

test.each([
  ['ESM import', ['--input-type=module', '-e', "const m = await import('otel-blackbox'); console.log(JSON.stringify(Object.keys(m).sort()))"]],
  ['CommonJS require', ['-e', "console.log(JSON.stringify(Object.keys(require('otel-blackbox')).sort()))"]],
])('%s of the package name gives the public API', async (_label, args) => {
  const { stdout } = await run(process.execPath, args);
  expect(JSON.parse(stdout)).toEqual(EXPORTS);
});

test.each([
  ['node --import', ['--import', './examples/tracing.mjs']],
  ['node -r', ['-r', './examples/tracing.cjs']],
])('a tracing setup preloaded with %s starts, traces and shuts down', async (_label, preload) => {
  const script = `
    const { trace } = require('@opentelemetry/api');
    const span = trace.getTracer('shape').startSpan('preloaded');
    span.end();
    console.log(span.spanContext().traceFlags);
    process.exit(0);`;
  const { stdout } = await run(process.execPath, [...preload, '-e', script], {
    env: { ...process.env, DATABASE_URL: 'postgres://127.0.0.1:1/none', OTEL_BLACKBOX_JOURNAL_DIR: '/tmp/otel-blackbox-shape-journal' },
  });
  expect(stdout.trim()).toBe('1');
});

// CI's Node 24 leg: spreading node:fs into the journal's file system read its deprecated
// getters (fs.F_OK), and every application that loaded us printed a DeprecationWarning.
// Loading either build and journaling a span, with deprecations thrown, says nothing.
test.each([
  ['ESM import', ['--input-type=module', '-e']],
  ['CommonJS require', ['-e']],
])('%s and a journaled span print no warning, deprecations thrown', async (label, args) => {
  const load = label === 'ESM import' ? "const { JournalSpanProcessor } = await import('otel-blackbox');" : "const { JournalSpanProcessor } = require('otel-blackbox');";
  const script = `${load}
    const processor = new JournalSpanProcessor({ exporter: { export: (spans, done) => done({ code: 0 }), shutdown: async () => {} }, journalDir: process.env.JOURNAL_DIR, recover: false });
    processor.shutdown().then(() => console.log('done'));`;
  const dir = `/tmp/otel-blackbox-shape-warnings-${process.pid}-${label.length}`;
  const { stdout, stderr } = await run(process.execPath, ['--throw-deprecation', ...args, script], { env: { ...process.env, JOURNAL_DIR: dir } });
  expect({ stdout: stdout.trim(), stderr }).toEqual({ stdout: 'done', stderr: '' });
});
