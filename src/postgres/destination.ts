// Where an exporter's rows go, as one string without credentials: host, port, database and
// schema, resolved as node-postgres resolves them (connection string, pool options, PG*
// variables, its defaults). The processor writes it into every journal segment's header,
// and recovery exports a dead journal only to the destination its writer exported to:
// two services sharing one journalDir, each with its own schema or database, put each
// other's crash records in the wrong place before (recoverJournals.ts).
import pg from 'pg';

export function postgresDestination(config: pg.ClientConfig, schema: string): string {
  // A Client only resolves its parameters when made: it connects at connect(), never here.
  const { host, port, database } = new pg.Client(config);
  const where = host.startsWith('/') ? `unix:${host}` : host;
  return `postgresql://${where}:${port}/${database ?? ''}?schema=${schema}`;
}
