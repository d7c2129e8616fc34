// Which of the logs table's later columns the viewer's schema has: migration 8's
// scope_attributes may be missing, where the viewer is pointed at a schema its users may
// not migrate (the exporter writes to it without the column too). Naming it there failed
// every span's details and the lines outside spans with a 500 (42703).
import type { QuotedSchema } from '../postgres/schemaName.js';
import { hasScopeAttributesColumn, lacksScopeAttributes, type CatalogReader } from '../postgres/scopeAttributesColumn.js';

/** What a query of log lines may name (viewerQueries.ts, logsOutsideSpans.ts). */
export interface LogColumnsPresent {
  /** logs.scope_attributes (migration 8). */
  scopeAttributes: boolean;
}

/**
 * A schema found without the column is looked at again after this long: its owner may
 * migrate while the viewer runs. One catalog query a minute at most, not one per request.
 */
const LOOK_AGAIN_MILLIS = 60_000;

export class LogColumns {
  readonly #db: CatalogReader;
  readonly #schema: QuotedSchema;
  #present: Promise<LogColumnsPresent> | undefined;
  #lookAgainAt = Infinity;

  constructor(db: CatalogReader, schema: QuotedSchema) {
    this.#db = db;
    this.#schema = schema;
  }

  /**
   * `query` run with the columns the schema has, asked of the catalog once (requests at
   * the same time share the answer). A column gone since (a schema restored from an older
   * dump) is known again from the failure, and the query run once more without it.
   */
  async read<T>(query: (columns: LogColumnsPresent) => Promise<T>): Promise<T> {
    const columns = await this.#known();
    try {
      return await query(columns);
    } catch (error) {
      if (!columns.scopeAttributes || !lacksScopeAttributes(error)) throw error;
      this.#settle({ scopeAttributes: false });
      return query({ scopeAttributes: false });
    }
  }

  #known(): Promise<LogColumnsPresent> {
    if (performance.now() >= this.#lookAgainAt) this.#present = undefined;
    if (this.#present === undefined) {
      this.#lookAgainAt = Infinity;
      const asked = hasScopeAttributesColumn(this.#db, this.#schema).then((scopeAttributes) => this.#settle({ scopeAttributes }));
      // A failed look (the database away a moment) is not kept: the next request asks again.
      asked.catch(() => {
        if (this.#present === asked) this.#present = undefined;
      });
      this.#present = asked;
    }
    return this.#present;
  }

  #settle(columns: LogColumnsPresent): LogColumnsPresent {
    this.#present = Promise.resolve(columns);
    this.#lookAgainAt = columns.scopeAttributes ? Infinity : performance.now() + LOOK_AGAIN_MILLIS;
    return columns;
  }
}
