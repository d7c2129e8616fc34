// The exporter's own queries run with tracing suppressed, so pg instrumentation (which
// checks the active context when a query is issued) never turns them into spans that
// would be exported by this same exporter.
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, ROOT_CONTEXT, type Context, type ContextManager } from '@opentelemetry/api';
import { ExportResultCode, isTracingSuppressed } from '@opentelemetry/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { TestDatabase } from '../helpers/database.js';
import { exportSpans, traceOf } from './spanFixtures.js';

/** The essence of @opentelemetry/context-async-hooks, which is not a dependency here. */
class AsyncLocalStorageContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#storage.disable();
    return this;
  }
}

/** Records, for every query issued, whether tracing was suppressed at that moment. */
const suppressedAtQuery: boolean[] = [];
class RecordingClient extends pg.Client {
  constructor(config?: pg.ClientConfig) {
    super(config);
    const query = this.query.bind(this) as (...args: unknown[]) => unknown;
    this.query = ((...args: unknown[]) => {
      suppressedAtQuery.push(isTracingSuppressed(context.active()));
      return query(...args);
    }) as pg.Client['query'];
  }
}

const db = new TestDatabase();
let schema: string;

beforeAll(async () => {
  schema = await db.freshSchema('tracing_suppressed');
  context.setGlobalContextManager(new AsyncLocalStorageContextManager());
});

afterAll(async () => {
  context.disable();
  await db.close();
});

describe('tracing suppression', () => {
  it('covers every query of an export, migrations included', async () => {
    const pool = new pg.Pool({ connectionString: db.url, Client: RecordingClient });
    const exporter = new PostgresSpanExporter({ pool, schema });

    expect((await exportSpans(exporter, await traceOf(3))).code).toBe(ExportResultCode.SUCCESS);
    await exporter.shutdown();
    await pool.end();

    expect(suppressedAtQuery.length).toBeGreaterThan(5);
    expect(suppressedAtQuery.every(Boolean)).toBe(true);
  });
});
