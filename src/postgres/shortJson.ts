// A jsonb column as a reader may take it out of the database: log bodies and attributes are
// as large as their application made them (a review sent 93 MB to a terminal through
// `otel-blackbox crashes`, and 1,000 lines of megabytes each would come to the viewer whole).

/** jsonb stored in at most this many bytes is taken as it is. */
const INLINE_JSON_BYTES = 2048;

/**
 * SQL for `column` (jsonb) as stored when small (at most INLINE_JSON_BYTES as stored, and
 * not compressed: a compressed value of that size may be a megabyte of text), else its
 * first `maxChars` characters as a JSON string (a string's own text, anything else its JSON
 * text), ending in `… (<mark>)` when cut. Cut by PostgreSQL: the whole value never leaves it.
 */
export function shortJsonSql(column: string, maxChars: number, mark: string): string {
  const text = `CASE WHEN jsonb_typeof(${column}) = 'string' THEN ${column} #>> '{}' ELSE ${column}::text END`;
  // Within maxChars with the mark (characters of the Basic Multilingual Plane: left() counts
  // code points), so a reader that cuts strings at maxChars again leaves it as it is.
  const ending = `… (${mark})`;
  const keep = maxChars - ending.length;
  return `CASE WHEN pg_column_size(${column}) <= ${INLINE_JSON_BYTES} AND pg_column_compression(${column}) IS NULL THEN ${column}
    ELSE (SELECT to_jsonb(CASE WHEN length(c) > ${keep} THEN left(c, ${keep}) || '${ending.replace(/'/g, "''")}' ELSE c END)
            FROM left(${text}, ${keep + 1}) AS c) END`;
}
