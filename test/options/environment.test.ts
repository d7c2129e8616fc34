// Environment variables are read in one place (src/options/defaults.ts names them): the
// processor, recoverJournals() and the CLI agree on them, and a bad value warns through
// diag instead of being ignored silently.
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { JournalSpanProcessor, recoverJournals } from '../../src/index.js';
import { resolveExporterOptions } from '../../src/postgres/exporterOptions.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { exitedProcessJournal } from '../helpers/exitedProcessJournal.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { collectDiag } from '../helpers/diagLines.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();

afterEach(() => {
  vi.unstubAllEnvs();
  diag.disable();
});

describe('OTEL_BLACKBOX_DURABILITY', () => {
  it.each(['disk', 'proc', 'fsync'])('warns through diag about %j and falls back to the default', async (value) => {
    const warnings = collectDiag();
    vi.stubEnv('OTEL_BLACKBOX_DURABILITY', value);
    const exporter = new CollectingExporter();
    const journalDir = join(tempDir(), 'journal');
    const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false });
    await processor.shutdown();
    expect(warnings.filter((line) => line.includes('OTEL_BLACKBOX_DURABILITY'))).toEqual([
      `otel-blackbox: ignoring OTEL_BLACKBOX_DURABILITY=${JSON.stringify(value)}: expected one of 'process', 'host', 'none'.`,
    ]);
  });

  it("'none' from the environment is said, as a warning: a crash would leave no crash records (it was said nowhere)", async () => {
    const warnings = collectDiag();
    vi.stubEnv('OTEL_BLACKBOX_DURABILITY', 'none');
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false });
    await processor.shutdown();
    expect(warnings.filter((line) => line.includes("durability 'none'"))).toEqual([
      "otel-blackbox: durability 'none': spans are batched in memory only, without a journal; a crash loses them and leaves no crash records (from OTEL_BLACKBOX_DURABILITY)",
    ]);
  });

  it.each(['host', 'HOST', ' Host '])('takes a valid level (%j: case and spaces aside, as OpenTelemetry reads its enum values) without a warning', async (value) => {
    const warnings = collectDiag();
    vi.stubEnv('OTEL_BLACKBOX_DURABILITY', value);
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false });
    await processor.shutdown();
    expect(warnings.filter((line) => line.includes('OTEL_BLACKBOX_DURABILITY'))).toEqual([]);
    expect(processor.stats().journalBytesWritten).toBeGreaterThan(0);
  });
});

describe('numbers from the environment', () => {
  it.each(['0x10', '1e3', '2.0', '99999999999999999999', '-5', '12abc'])('%j is ignored with a warning naming the variable: decimal digits only, at most 2^53 - 1', async (value) => {
    const warnings = collectDiag();
    vi.stubEnv('OTEL_BSP_MAX_QUEUE_SIZE', value);
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false });
    await processor.shutdown();
    expect(warnings.filter((line) => line.includes('OTEL_BSP_MAX_QUEUE_SIZE'))).toEqual([
      `otel-blackbox: ignoring OTEL_BSP_MAX_QUEUE_SIZE=${JSON.stringify(value)}: expected a non-negative integer in decimal digits, at most 9007199254740991.`,
    ]);
  });

  it('takes digits with spaces around them', async () => {
    const warnings = collectDiag();
    vi.stubEnv('OTEL_BSP_MAX_QUEUE_SIZE', ' 4096 ');
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false });
    await processor.shutdown();
    expect(warnings).toEqual([]);
  });

  it('an option in code past 2^53 is refused, naming it', () => {
    expect(() => new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false, maxQueueSize: 1e20 })).toThrow(
      /^Invalid option maxQueueSize: expected a positive integer, at most 9007199254740991, got 100000000000000000000\.$/,
    );
  });
});

describe('OTEL_BLACKBOX_JOURNAL_DIR', () => {
  it('is where recoverJournals() looks when no journalDir is given, as the processor writes there', async () => {
    const journalDir = await exitedProcessJournal(tempDir());

    vi.stubEnv('OTEL_BLACKBOX_JOURNAL_DIR', journalDir);
    const exporter = new CollectingExporter();
    // Its writer exported to an unreachable database: its journal names that destination.
    const report = await recoverJournals({ exporter, recoverAnyDestination: true });
    expect(report.journals).toBe(1);
    // The fixture leaves three spans open (request, payment, gateway) and one ended.
    expect(report.spansCrashed).toBe(3);
    expect(exporter.spans.map((span) => span.name).sort()).toEqual(['POST /checkout', 'call payment gateway', 'charge card', 'validate cart']);
  });
});

describe('durations from the environment', () => {
  it('warns about a timeout longer than Node timers can wait and falls back to the default', async () => {
    const warnings = collectDiag();
    vi.stubEnv('OTEL_BSP_EXPORT_TIMEOUT', '10000000000');
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false });
    await processor.shutdown();
    expect(warnings.filter((line) => line.includes('OTEL_BSP_EXPORT_TIMEOUT'))).toEqual([
      "otel-blackbox: ignoring OTEL_BSP_EXPORT_TIMEOUT=10000000000: at most 2147000000 ms (about 24 days), what Node's timers can wait.",
    ]);
  });

  it("OTEL_BSP_EXPORT_TIMEOUT is PostgresSpanExporter's default too, read without a second warning: lowered there alone, the exporter outlived the processor's wait", () => {
    const warnings = collectDiag();
    vi.stubEnv('OTEL_BSP_EXPORT_TIMEOUT', '5000');
    expect(resolveExporterOptions({}).exportTimeoutMillis).toBe(5000);
    expect(resolveExporterOptions({ exportTimeoutMillis: 7000 }).exportTimeoutMillis).toBe(7000);
    vi.stubEnv('OTEL_BSP_EXPORT_TIMEOUT', '0x10');
    expect(resolveExporterOptions({}).exportTimeoutMillis).toBe(30_000);
    expect(warnings).toEqual([]);
  });

  it('recoverJournals() waits OTEL_BSP_EXPORT_TIMEOUT for an export too, as the exporter does: it stopped waiting at 30 s while the exporter held on', async () => {
    vi.stubEnv('OTEL_BSP_EXPORT_TIMEOUT', '200');
    const journalDir = tempDir();
    writeDeadJournal(journalDir, 3);
    const never = { export: () => {}, shutdown: async () => {} };
    const report = await recoverJournals({ journalDir, exporter: never as never, maxAttempts: 1, recoverAnyDestination: true });
    expect(report.failures.map((failure) => failure.error).join('\n')).toContain('timed out after 200 ms');
  });

  it('recoverJournals() refuses one in code, naming the option', async () => {
    await expect(recoverJournals({ journalDir: tempDir(), exporter: new CollectingExporter(), exportTimeoutMillis: 2 ** 31 })).rejects.toThrow(/^Invalid option exportTimeoutMillis/);
  });
});

describe('sizes from the environment', () => {
  it.each(['OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'OTEL_BSP_MAX_QUEUE_SIZE', 'OTEL_BLACKBOX_MAX_JOURNAL_BYTES', 'OTEL_BSP_EXPORT_TIMEOUT'])(
    'says through diag that %s=0 leaves the default (before: silently)',
    async (name) => {
      const warnings = collectDiag();
      vi.stubEnv(name, '0');
      const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false });
      await processor.shutdown();
      expect(warnings.filter((line) => line.includes(name))).toEqual([`otel-blackbox: ignoring ${name}=0: the default applies.`]);
    },
  );

  it('holds a batch size from the environment to the queue size, and says so', async () => {
    const warnings = collectDiag();
    vi.stubEnv('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', '5000');
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false });
    await processor.shutdown();
    expect(warnings.filter((line) => line.includes('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'))).toEqual([
      'otel-blackbox: OTEL_BSP_MAX_EXPORT_BATCH_SIZE=5000 is more than maxQueueSize (2048): batches of 2048 are exported.',
    ]);
  });

  it('holds a batch size from code to a queue size from the environment, and says so: the environment never takes the application down', async () => {
    const warnings = collectDiag();
    vi.stubEnv('OTEL_BSP_MAX_QUEUE_SIZE', '100');
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false, maxExportBatchSize: 512 });
    await processor.shutdown();
    expect(warnings.filter((line) => line.includes('maxQueueSize'))).toEqual([
      'otel-blackbox: maxExportBatchSize=512 is more than maxQueueSize (100, from OTEL_BSP_MAX_QUEUE_SIZE): batches of 100 are exported.',
    ]);
  });

  it.each([
    ['a queue size in code', {}, { maxQueueSize: 100 }, 'maxQueueSize (100)'],
    ['a queue size from the environment', { OTEL_BSP_MAX_QUEUE_SIZE: '100' }, {}, 'maxQueueSize (100, from OTEL_BSP_MAX_QUEUE_SIZE)'],
  ])('holds the default batch size to %s, and says it is the default (it named OTEL_BSP_MAX_EXPORT_BATCH_SIZE, which nobody had set)', async (_label, env, options, queue) => {
    const warnings = collectDiag();
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false, ...options });
    await processor.shutdown();
    expect(warnings.filter((line) => line.includes('maxQueueSize'))).toEqual([
      `otel-blackbox: the default maxExportBatchSize (512) is more than ${queue}: batches of 100 are exported.`,
    ]);
  });

  it('refuses a batch size in code above the queue size in code or by default, naming the option', () => {
    expect(() => new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false, maxExportBatchSize: 4096 })).toThrow(
      /^Invalid option maxExportBatchSize/,
    );
  });
});

describe('OTEL_SDK_DISABLED', () => {
  // A disabled NodeSDK neither starts nor shuts down the processors it is given: this one
  // made its journal, recovered dead journals into the database and kept its timers.
  it.each(['true', ' TRUE '])('%j: the processor does nothing, neither journal nor export, and warns once', async (value) => {
    const lines: string[] = [];
    diag.setLogger({ error: () => {}, warn: (line) => lines.push(line), info: () => {}, debug: () => {}, verbose: () => {} }, { logLevel: DiagLogLevel.INFO, suppressOverrideMessage: true });
    vi.stubEnv('OTEL_SDK_DISABLED', value);
    const journalDir = join(tempDir(), 'journal');
    const exporter = new CollectingExporter();
    const processor = new JournalSpanProcessor({ exporter, journalDir, scheduledDelayMillis: 10 });
    providerWith(processor).getTracer('t').startSpan('while disabled').end();
    await processor.forceFlush();
    await processor.shutdown();
    expect(existsSync(journalDir)).toBe(false);
    expect(exporter.spans).toEqual([]);
    expect(processor.stats()).toMatchObject({ journalWritePath: 'none', spansDropped: 0, spansExported: 0 });
    expect(lines.filter((line) => line.includes('OTEL_SDK_DISABLED'))).toEqual(['otel-blackbox: OTEL_SDK_DISABLED=true: JournalSpanProcessor does nothing (no journal, no recovery, no export)']);
  });

  it('"false": the processor journals and exports as ever', async () => {
    vi.stubEnv('OTEL_SDK_DISABLED', 'false');
    const exporter = new CollectingExporter();
    const processor = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'journal'), recover: false, scheduledDelayMillis: 10 });
    providerWith(processor).getTracer('t').startSpan('enabled').end();
    await processor.shutdown();
    expect(exporter.spans.map((span) => span.name)).toEqual(['enabled']);
  });
});
