// The schema name comes from configuration and ends up inside SQL text (identifiers cannot
// be bind parameters), so it is validated against a deliberately narrow pattern and then
// double-quoted. Lowercase only: an unquoted `otel` in a user's psql session must name the
// same schema as ours.
import { InvalidOptionError } from '../options/validate.js';

const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** A schema name that passed validation, already double-quoted for SQL text. */
export type QuotedSchema = string & { readonly __quotedSchema: unique symbol };

// PostgreSQL reserves schema names that start with pg_ (CREATE SCHEMA fails with 42939),
// and information_schema is its own views.
const RESERVED_PREFIX = 'pg_';

export function isValidSchemaName(value: unknown): value is string {
  return typeof value === 'string' && PLAIN_IDENTIFIER.test(value) && !value.startsWith(RESERVED_PREFIX) && value !== 'information_schema';
}

export function validSchemaName(option: string, value: unknown): string {
  if (!isValidSchemaName(value)) {
    throw new InvalidOptionError(option, `a plain lowercase identifier matching ${PLAIN_IDENTIFIER}, not starting with ${RESERVED_PREFIX} nor information_schema (PostgreSQL's own)`, value);
  }
  return value;
}

export function quoteSchema(schema: string): QuotedSchema {
  return `"${validSchemaName('schema', schema)}"` as QuotedSchema;
}
