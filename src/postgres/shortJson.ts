// A jsonb column as a reader may take it out of the database: log bodies and attributes are
// as large as their application made them (a review sent 93 MB to a terminal through
// `otel-blackbox crashes`, and 1,000 lines of megabytes each would come to the viewer whole).

/**
 * SQL for `column` (jsonb) as stored when its JSON text is at most `maxChars` characters,
 * else its first characters as a JSON string (a string's own text, anything else its JSON
 * text) ending in `… (<mark>)`, `maxChars` in all. Cut by PostgreSQL: the whole value never
 * leaves it. A value that is not cut keeps its type (an object stays an object).
 */
export function shortJsonSql(column: string, maxChars: number, mark: string): string {
  const text = `CASE WHEN jsonb_typeof(${column}) = 'string' THEN ${column} #>> '{}' ELSE ${column}::text END`;
  // left() counts code points: the mark's characters are of the Basic Multilingual Plane.
  const ending = `… (${mark})`;
  const keep = maxChars - ending.length;
  return `(SELECT CASE WHEN length(c) > ${maxChars} THEN to_jsonb(left(c, ${keep}) || '${ending.replace(/'/g, "''")}') ELSE ${column} END
            FROM left(${text}, ${maxChars + 1}) AS c)`;
}
