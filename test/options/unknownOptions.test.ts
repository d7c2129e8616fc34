// A mistyped option name throws, naming it and the option it most likely meant, at every
// public entry point. It was ignored: `durabilty: 'host'` ran at 'process' without a word.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { describe, expect, test } from 'vitest';
import { InvalidOptionError, JournalLogRecordProcessor, JournalSpanProcessor, PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();

function thrownBy(make: () => unknown): InvalidOptionError {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected it to throw');
}

describe('an option name its owner does not have', () => {
  test('JournalSpanProcessor: a typo names the option it meant', () => {
    const journalDir = join(tempDir(), 'journal');
    const options = { exporter: new CollectingExporter(), journalDir, recover: false, durabilty: 'host' };
    const error = thrownBy(() => new JournalSpanProcessor(options as never));
    expect(error.message).toBe(
      'Invalid option durabilty: JournalSpanProcessor has no option of that name (did you mean durability?); its options are exporter, journalDir, durability, ' +
        'maxExportBatchSize, maxConcurrentExports, scheduledDelayMillis, exportTimeoutMillis, maxQueueSize, maxJournalBytes, maxSegmentBytes, groupCommitMillis, ' +
        'heartbeatIntervalMillis, flushTimeoutMillis, recover, staleAfterMillis, pendingSpanMillis, logExporter.',
    );
  });

  test('a difference of case only is a typo too; a name far from every option gets no guess', () => {
    const exporter = new CollectingExporter();
    expect(thrownBy(() => new JournalSpanProcessor({ exporter, maxexportbatchsize: 64 } as never)).message).toMatch(/^Invalid option maxexportbatchsize: .* \(did you mean maxExportBatchSize\?\);/);
    expect(thrownBy(() => new JournalSpanProcessor({ exporter, scheduleDelayMillis: 5 } as never)).message).toMatch(/\(did you mean scheduledDelayMillis\?\)/);
    expect(thrownBy(() => new JournalSpanProcessor({ exporter, compression: 'gzip' } as never)).message).toMatch(/^Invalid option compression: JournalSpanProcessor has no option of that name; its options are /);
  });

  test('a name that is not a plain identifier is quoted and cut, so it cannot forge lines', () => {
    const exporter = new CollectingExporter();
    expect(thrownBy(() => new JournalSpanProcessor({ exporter, ['bad\nInvalid option forged']: 1 } as never)).message).toMatch(/^Invalid option "bad\\nInvalid option forged": /);
    expect(thrownBy(() => new JournalSpanProcessor({ exporter, ['x'.repeat(100)]: 1 } as never)).message).toMatch(new RegExp(`^Invalid option "${'x'.repeat(64)}"\\.\\.\\.: `));
  });

  test('PostgresSpanExporter: the value is never echoed (a connection string holds a password)', () => {
    const error = thrownBy(() => new PostgresSpanExporter({ connectionStrng: 'postgres://app:s3cret@db/otel' } as never));
    expect(error.message).toMatch(/^Invalid option connectionStrng: PostgresSpanExporter has no option of that name \(did you mean connectionString\?\); its options are connectionString, pool, /);
    expect(error.message).not.toContain('s3cret');
  });

  test('recoverJournals rejects before it reads the directory', async () => {
    const journalDir = tempDir();
    await expect(recoverJournals({ exporter: new CollectingExporter(), journalDir, staleAfterMilis: 1000 } as never)).rejects.toThrow(
      /^Invalid option staleAfterMilis: recoverJournals has no option of that name \(did you mean staleAfterMillis\?\)/,
    );
    await expect(recoverJournals(undefined as never)).rejects.toThrow(/^Invalid option options: expected an object with at least `exporter`, got undefined\.$/);
  });

  test('recoverJournals refuses a signal that is not an AbortSignal and a logExporter without export(), naming them (they were taken, and recovery failed later in its report)', async () => {
    const journalDir = tempDir();
    const exporter = new CollectingExporter();
    await expect(recoverJournals({ exporter, journalDir, signal: 5 } as never)).rejects.toThrow(/^Invalid option signal: expected an AbortSignal, got 5\.$/);
    await expect(recoverJournals({ exporter, journalDir, signal: { aborted: false } } as never)).rejects.toThrow(/^Invalid option signal: expected an AbortSignal/);
    await expect(recoverJournals({ exporter, journalDir, logExporter: 5 } as never)).rejects.toThrow(/^Invalid option logExporter: expected a LogRecordExporter \(an object with export\(\)\), got 5\.$/);
    // The processor says the same of its logExporter.
    expect(thrownBy(() => new JournalSpanProcessor({ exporter, logExporter: {} } as never)).message).toMatch(/^Invalid option logExporter: expected a LogRecordExporter \(an object with export\(\)\)/);
    // What is right is taken.
    const report = await recoverJournals({ exporter, journalDir, signal: new AbortController().signal, logExporter: { export: (_records, done) => done({ code: 0 }), forceFlush: async () => {}, shutdown: async () => {} } });
    expect(report.journals).toBe(0);
  });

  test('JournalLogRecordProcessor: an unknown name, and the span processor passed where its options go', async () => {
    const spanProcessor = new JournalSpanProcessor({ exporter: new CollectingExporter(), durability: 'none', logExporter: { export: (_records, done) => done({ code: 0 }), forceFlush: async () => {}, shutdown: async () => {} } });
    try {
      expect(thrownBy(() => new JournalLogRecordProcessor({ spanProcessor, maxQueueSize: 10 } as never)).message).toMatch(
        /^Invalid option maxQueueSize: JournalLogRecordProcessor has no option of that name; its options are spanProcessor\.$/,
      );
      // A mistyped spanProcessor: the name and what it meant, not "got undefined".
      expect(thrownBy(() => new JournalLogRecordProcessor({ spanProcesor: spanProcessor } as never)).message).toMatch(
        /^Invalid option spanProcesor: JournalLogRecordProcessor has no option of that name \(did you mean spanProcessor\?\)/,
      );
      expect(thrownBy(() => new JournalLogRecordProcessor(spanProcessor as never)).message).toBe(
        'Invalid option options: expected { spanProcessor }, an object holding the JournalSpanProcessor, got a JournalSpanProcessor.',
      );
    } finally {
      await spanProcessor.shutdown();
    }
  });
});

test('JournalLogRecordProcessor of the other build (CommonJS beside ESM) takes the span processor of this one: its records are journaled and exported', async () => {
  const cjs = createRequire(import.meta.url)('../../dist/cjs/index.js') as typeof import('../../src/index.js');
  const bodies: unknown[] = [];
  const logExporter = {
    export: (records: { body?: unknown }[], done: (result: { code: number }) => void) => {
      bodies.push(...records.map((record) => record.body));
      done({ code: 0 });
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const spanProcessor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: tempDir(), recover: false, logExporter });
  try {
    const provider = new LoggerProvider({ processors: [new cjs.JournalLogRecordProcessor({ spanProcessor: spanProcessor as never })] });
    provider.getLogger('app').emit({ body: 'across builds' });
    await spanProcessor.forceFlush();
    expect(bodies).toEqual(['across builds']);
    // Passed where the options go: said as that, not as an unknown option named after one of its fields.
    expect(() => new cjs.JournalLogRecordProcessor(spanProcessor as never)).toThrow(
      /^Invalid option options: expected \{ spanProcessor \}, an object holding the JournalSpanProcessor, got a JournalSpanProcessor\.$/,
    );
  } finally {
    await spanProcessor.shutdown();
  }
});

test("JournalLogRecordProcessor given the span processor of another installed version says so, not 'expected a JournalSpanProcessor, got a JournalSpanProcessor'", () => {
  const another = new (class JournalSpanProcessor {})();
  expect(() => new JournalLogRecordProcessor({ spanProcessor: another as never })).toThrow(
    /^Invalid option spanProcessor: expected a JournalSpanProcessor of this version of otel-blackbox \(one from another installed version is another class: install one version\), got a JournalSpanProcessor\.$/,
  );
});

// The option types say `?: T | undefined`, so a project with exactOptionalPropertyTypes can
// pass `process.env.X` (a new user's attack: the docs' own `connectionString:
// process.env.DATABASE_URL` did not compile there). Each option given as undefined must then
// be taken as unset, not refused: every name the owner lists is given so.
describe('every option given as undefined is unset', () => {
  const namesOf = (error: InvalidOptionError): string[] => /its options are (.*)\.$/.exec(error.message)![1]!.split(', ');
  const undefinedFor = (names: string[], given: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(names.map((name) => [name, name in given ? given[name] : undefined]));

  test('JournalSpanProcessor', async () => {
    const exporter = new CollectingExporter();
    const names = namesOf(thrownBy(() => new JournalSpanProcessor({ exporter, unknown: 1 } as never)));
    expect(names).toHaveLength(17);
    const processor = new JournalSpanProcessor(undefinedFor(names, { exporter, journalDir: join(tempDir(), 'journal'), recover: false }) as never);
    expect(processor.stats().journalHealthy).toBe(true);
    await processor.shutdown();
  });

  test('PostgresSpanExporter', async () => {
    const names = namesOf(thrownBy(() => new PostgresSpanExporter({ unknown: 1 } as never)));
    const exporter = new PostgresSpanExporter(undefinedFor(names, {}) as never);
    await exporter.shutdown();
  });

  test('recoverJournals', async () => {
    const exporter = new CollectingExporter();
    const error = await recoverJournals({ exporter, unknown: 1 } as never).catch((caught: InvalidOptionError) => caught);
    const report = await recoverJournals(undefinedFor(namesOf(error as InvalidOptionError), { exporter, journalDir: tempDir() }) as never);
    expect(report.journals).toBe(0);
  });
});
