// A logger's scope attributes (`getLogger(name, version, { attributes })`, OTLP's
// InstrumentationScope.attributes): journaled with each log record and handed to a
// logExporter, but no column held them, so PostgreSQL lost them. NULL where the logger
// gave none, for span events (their span's tracer has no attributes in the API), and for
// rows stored before this migration or by older code.
import type { QuotedSchema } from '../schemaName.js';

export const version = 8;
export const name = 'log_scope_attributes';
/** The data tables it alters, which migrate.ts locks first, in a batch's order. */
export const tables: readonly string[] = ['logs'];
/** A column older code does not name is left null by it: it may go on writing. */
export const oldestWriter = 2;
/**
 * This code writes the column only where the schema has it (Statements, `scopeAttributes`):
 * needed, it stopped every writer whose role may not migrate, spans and all, for the sake
 * of one column of log rows (an attack: 0 of 800 spans until the owner migrated).
 */
export const neededToWrite = false;

export function sql(s: QuotedSchema): string {
  return `ALTER TABLE ${s}.logs ADD COLUMN scope_attributes jsonb;`;
}
