// Environment variables are read in one place (src/options/defaults.ts names them): the
// processor, recoverJournals() and the CLI agree on them, and a bad value warns through
// diag instead of being ignored silently.
import { diag } from '@opentelemetry/api';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { JournalSpanProcessor, recoverJournals } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { exitedProcessJournal } from '../helpers/exitedProcessJournal.js';
import { collectDiag } from '../helpers/diagLines.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();

afterEach(() => {
  vi.unstubAllEnvs();
  diag.disable();
});

describe('OTEL_BLACKBOX_DURABILITY', () => {
  it.each(['disk', 'PROCESS', 'fsync'])('warns through diag about %j and falls back to the default', async (value) => {
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

  it('takes a valid level without a warning', async () => {
    const warnings = collectDiag();
    vi.stubEnv('OTEL_BLACKBOX_DURABILITY', 'host');
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false });
    await processor.shutdown();
    expect(warnings.filter((line) => line.includes('OTEL_BLACKBOX_DURABILITY'))).toEqual([]);
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
