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
    // As a query parameter (node-postgres takes the last), the port was not checked: every
    // batch failed, and the connect's socket, refused before node-postgres listened on it,
    // killed the process a second after shutdown (a review).
    { form: 'a port parameter that is not a number', value: 'postgres://u:hunter2@127.0.0.1/app?port=abc', says: 'a postgres:// URL whose port is not a number from 1 to 65535' },
    { form: 'a port parameter out of range', value: 'postgres://u:hunter2@127.0.0.1:5432/app?port=99999', says: 'a postgres:// URL whose port is not a number from 1 to 65535' },
    { form: 'the last of two port parameters bad', value: 'postgres://u:hunter2@127.0.0.1/app?port=5432&port=0', says: 'a postgres:// URL whose port is not a number from 1 to 65535' },
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
    'postgres://user@db.example/app?port=6543',
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

// PGPORT is node-postgres's to read: a bad one warns when the exporter is made. A port no socket can have threw in
// the socket's connect, before any callback: pg-pool kept each such client as one of its
// connections, so after maxConnections of them every batch waited connectionTimeoutMillis
// for a slot that never came back, and said "timeout exceeded" instead of why.
describe('a PGPORT no socket can connect to', () => {
  it('warns when the exporter is made, naming PGPORT, where the connection string names no port', () => {
    const lines = collectDiag();
    vi.stubEnv('PGPORT', '99999');
    const url = new URL(db.url);
    url.port = '';
    void new PostgresSpanExporter({ connectionString: url.href, migrate: false }).shutdown();
    expect(lines).toEqual([
      'otel-blackbox: PGPORT="99999" is not a port from 1 to 65535, and node-postgres connects with it: every batch will fail (the spans wait in the journal) until it is mended.',
    ]);
    lines.length = 0;
    url.port = '5432'; // the URL's port is the one used: PGPORT is not read
    void new PostgresSpanExporter({ connectionString: url.href, migrate: false }).shutdown();
    vi.stubEnv('PGPORT', '6543');
    void new PostgresSpanExporter({ migrate: false }).shutdown();
    expect(lines).toEqual([]);
  });

  it('fails each batch at once, saying so, and the pool keeps no connection', async () => {
    vi.stubEnv('PGPORT', '99999');
    const url = new URL(db.url);
    url.port = '';
    const exporter = new PostgresSpanExporter({ connectionString: url.href, maxConnections: 1, connectionTimeoutMillis: 60_000, migrate: false });
    try {
      for (let batch = 0; batch < 3; batch++) {
        const result = await exportSpans(exporter, await traceOf(1));
        expect(result.code).toBe(ExportResultCode.FAILED);
        expect(result.error?.message).toMatch(/ERR_SOCKET_BAD_PORT|Port should be/);
      }
    } finally {
      await exporter.shutdown();
    }
  });
});
