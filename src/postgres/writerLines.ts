// What one journal writer (a process, or a worker thread with its own provider) logged
// last: its log records, newest first, in a span or outside every span. A crash record
// names its writer (ATTR_WRITER_ID), so the viewer and `otel-blackbox crashes` show this
// under it: what a process logs just before it dies is often outside any span.
import type { QuotedSchema } from './schemaName.js';

/**
 * SELECT of `columns` (of `logs l`) for the last `limit` records of writer `writerId`
 * (each SQL text: a parameter, a column of an outer query, a number), newest first.
 * One backward range of logs_record_key: (writer_id, sequence) WHERE kind = 'log'.
 */
export function writerLinesSql(schema: QuotedSchema, columns: string, writerId: string, limit: string): string {
  return `SELECT ${columns} FROM ${schema}.logs l WHERE l.kind = 'log' AND l.writer_id = ${writerId} ORDER BY l.sequence DESC LIMIT ${limit}`;
}
