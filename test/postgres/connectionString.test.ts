// connectionString: what node-postgres cannot use throws at construction, naming the option
// and the URL form expected, and never echoing the value (it may hold a password); every
// form node-postgres reads keeps working.
import { diag } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionError } from '../../src/options/validate.js';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { TestDatabase } from '../helpers/database.js';
import { collectDiag } from '../helpers/diagLines.js';
import { exportSpans, traceOf } from './spanFixtures.js';

const db = new TestDatabase();

afterEach(() => {
  vi.unstubAllEnvs();
  diag.disable();
});
afterAll(() => db.close());

describe('a connectionString node-postgres cannot use', () => {
  it.each([
    { form: 'libpq keyword/value', value: 'host=127.0.0.1 port=5999 user=postgres password=hunter2 dbname=x', says: 'keyword/value pairs (host=, port=, user=, password=, dbname=)' },
    { form: 'plain text', value: 'not a url', says: 'text that is not a URL' },
    { form: 'a host and port without a scheme', value: '127.0.0.1:5432/app', says: 'text that is not a URL' },
    { form: 'another scheme', value: 'mysql://root:hunter2@127.0.0.1/app', says: 'a URL with the scheme "mysql:"' },
    { form: 'a port that is not a number', value: 'postgres://u:hunter2@127.0.0.1:54x/app', says: 'a postgres:// URL that cannot be parsed' },
  ])('throws at construction naming connectionString ($form)', ({ value, says }) => {
    const attempt = () => new PostgresSpanExporter({ connectionString: value });
    expect(attempt).toThrow(InvalidOptionError);
    expect(attempt).toThrow(/^Invalid option connectionString: expected a postgres:\/\/ or postgresql:\/\/ URL .+, got .+\.$/);
    expect(attempt).toThrow(`got ${says}`);
    expect(attempt).not.toThrow(/hunter2/);
  });

  it('in DATABASE_URL warns, naming DATABASE_URL, and is not used', () => {
    const lines = collectDiag();
    vi.stubEnv('DATABASE_URL', 'host=127.0.0.1 password=hunter2 dbname=x');
    const exporter = new PostgresSpanExporter({ migrate: false });
    void exporter.shutdown();
    expect(lines.join('\n')).toMatch(/ignoring DATABASE_URL: expected a postgres:\/\/ or postgresql:\/\/ URL .+, got keyword\/value pairs \(host=, password=, dbname=\)/);
    expect(lines.join('\n')).not.toContain('hunter2');
  });
});

describe('forms node-postgres reads', () => {
  it.each([
    'postgres://user:secret@db.example:5432/app?sslmode=require&application_name=x',
    'postgresql://db.example/app?sslmode=disable',
    'POSTGRES://db.example/app',
    'postgres:///app',
    'postgres://user@/app?host=/var/run/postgresql',
    'postgres://us er:p%zzword@db.example/app',
    '/var/run/postgresql app',
    'socket:/var/run/postgresql?db=app',
  ])('are accepted: %s', async (connectionString) => {
    const exporter = new PostgresSpanExporter({ connectionString });
    await exporter.shutdown();
  });

  it('a postgresql:// URL with query parameters writes its batch', async () => {
    const schema = await db.freshSchema('connection_string_forms');
    const url = new URL(db.url);
    url.protocol = 'postgresql:';
    url.searchParams.set('sslmode', 'disable');
    url.searchParams.set('application_name', 'otel-blackbox-url-test');
    const exporter = new PostgresSpanExporter({ connectionString: url.href, schema });
    try {
      const spans = await traceOf(2);
      expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
      expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(2);
    } finally {
      await exporter.shutdown();
    }
  });
});
