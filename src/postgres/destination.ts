// Where an exporter's rows go, as one string without credentials: host, port, database and
// schema, resolved as node-postgres resolves them (connection string, pool options, PG*
// variables, its defaults). The processor writes it into every journal segment's header,
// and recovery exports a dead journal only to the destination its writer exported to:
// two services sharing one journalDir, each with its own schema or database, put each
// other's crash records in the wrong place before (recoverJournals.ts).
import pg from 'pg';

export function postgresDestination(config: pg.ClientConfig, schema: string): string {
  // Only what names the server: a Client made from the whole config would call a `stream`
  // factory of the caller's pool (Cloud SQL connectors, tunnels) at once, opening a
  // connection nothing closes. Made from these, it resolves them and opens nothing.
  const { connectionString, host: givenHost, port: givenPort, database: givenDatabase, user } = config;
  const { host, port, database } = new pg.Client({ connectionString, host: givenHost, port: givenPort, database: givenDatabase, user });
  const where = host.startsWith('/') ? `unix:${host}` : host;
  return `postgresql://${where}:${port}/${database ?? ''}?schema=${schema}`;
}
