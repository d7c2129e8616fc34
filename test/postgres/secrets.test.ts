// Unreachable databases fail the batch as transient, and the password never shows: not in
// the error, its causes, nor anything reported through diag.
import { inspect } from 'node:util';
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { exportSpans, traceOf } from './spanFixtures.js';

const PASSWORD = 's3cr3t-Pa55word';

function captureDiag(): string[] {
  const lines: string[] = [];
  const record = (...args: unknown[]) => lines.push(args.map((a) => inspect(a, { depth: 8 })).join(' '));
  const logger: DiagLogger = { error: record, warn: record, info: record, debug: record, verbose: record };
  diag.setLogger(logger, { logLevel: DiagLogLevel.ALL, suppressOverrideMessage: true });
  return lines;
}

afterEach(() => {
  diag.disable();
});

describe.each([
  { via: 'connectionString', options: () => ({ connectionString: `postgres://writer:${PASSWORD}@127.0.0.1:1/app` }) },
  { via: 'percent-encoded connectionString', options: () => ({ connectionString: `postgres://writer:${encodeURIComponent(`${PASSWORD}@/`)}@127.0.0.1:1/app` }) },
  { via: 'own pool', options: () => ({ pool: new pg.Pool({ host: '127.0.0.1', port: 1, user: 'writer', password: PASSWORD }) }) },
])('a refusing server, password given via $via', ({ options }) => {
  it('fails the batch as transient and never shows the password', async () => {
    const lines = captureDiag();
    const given = options();
    const exporter = new PostgresSpanExporter({ ...given, schema: 'never_created', migrate: false });

    const result = await exportSpans(exporter, await traceOf(3));
    await exporter.shutdown();
    if ('pool' in given) await given.pool.end();

    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error).toMatchObject({ kind: 'transient', retryable: true });
    expect(result.error!.message).toMatch(/could not write 3 spans to .*127\.0\.0\.1.*ECONNREFUSED.*can be retried/s);
    const everything = [inspect(result.error, { depth: 10, showHidden: true }), String(result.error), ...lines].join('\n');
    expect(everything).toContain('ECONNREFUSED');
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(encodeURIComponent(PASSWORD));
  });
});

describe('migrating against a refusing server', () => {
  it('fails as transient without the password', async () => {
    const exporter = new PostgresSpanExporter({ connectionString: `postgres://writer:${PASSWORD}@127.0.0.1:1/app` });
    const result = await exportSpans(exporter, await traceOf(1));
    await exporter.shutdown();
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error!.message).toMatch(/could not migrate schema "otel"/);
    expect(inspect(result.error, { depth: 10, showHidden: true })).not.toContain(PASSWORD);
  });
});
