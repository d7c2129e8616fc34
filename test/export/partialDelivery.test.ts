// A batch of spans and log records behind an exporter that cannot take log records: the
// spans go to it, the log records to the logExporter, and the part one of them accepted is
// not sent again when the other fails (review, repro 08: a log exporter failing once had
// every span of the batch sent twice). Real journal files, real providers.
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { describe, expect, it } from 'vitest';
import { JournalLogRecordProcessor, JournalSpanProcessor } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { CollectingLogExporter } from '../helpers/CollectingLogExporter.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();

describe.each(['logExporter', 'span exporter'] as const)('the %s failing once', (failingOne) => {
  it('the other receives its part exactly once, and the failed part is sent again until accepted', async () => {
    const spanExporter = new CollectingExporter();
    const logExporter = new CollectingLogExporter();
    const failing = failingOne === 'logExporter' ? logExporter : spanExporter;
    failing.failing = true;
    const calledBefore = (): number => failing.calls;
    const processor = new JournalSpanProcessor({ exporter: spanExporter, logExporter, journalDir: tempDir(), recover: false });
    const tracerProvider = providerWith(processor, 'partial-delivery');
    const loggerProvider = new LoggerProvider({ processors: [new JournalLogRecordProcessor({ spanProcessor: processor })] });
    const checkout = tracerProvider.getTracer('t').startSpan('checkout');
    checkout.end();
    loggerProvider.getLogger('l').emit({ body: 'hello' });
    const flushed = processor.forceFlush();
    // Refused once, then accepted.
    const waitForFirstCall = async (): Promise<void> => {
      while (calledBefore() === 0) await new Promise((resolve) => setImmediate(resolve));
    };
    await waitForFirstCall();
    await new Promise((resolve) => setImmediate(resolve));
    failing.failing = false;
    await flushed;
    expect(spanExporter.spanIds()).toEqual([checkout.spanContext().spanId]);
    expect(logExporter.records.map((record) => record.body)).toEqual(['hello']);
    expect(processor.stats()).toMatchObject({ spansExported: 1, logRecordsExported: 1, exportFailures: 1, journalBacklog: 0 });
    await loggerProvider.shutdown();
    await tracerProvider.shutdown();
  });
});
