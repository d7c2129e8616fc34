// Live processors share one 'exit' and one 'uncaughtExceptionMonitor' listener. One each
// per processor made Node print a MaxListenersExceededWarning on the application's stderr
// from the eleventh live processor on (a library per tenant, a test suite).
import { expect, test } from 'vitest';
import { JournalSpanProcessor } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();

test('twelve live processors add one listener of each kind to process, and shutting them down removes it', async () => {
  const before = { exit: process.listenerCount('exit'), monitor: process.listenerCount('uncaughtExceptionMonitor') };
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on('warning', onWarning);
  try {
    const processors = Array.from({ length: 12 }, () => new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: tempDir(), recover: false }));
    // Until the turn ends, construction's diag lines wait, with an 'exit' listener of their own (safeDiag.ts).
    expect(process.listenerCount('exit')).toBe(before.exit + 2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(process.listenerCount('exit')).toBe(before.exit + 1);
    expect(process.listenerCount('uncaughtExceptionMonitor')).toBe(before.monitor + 1);
    await processors[0]!.shutdown();
    expect(process.listenerCount('exit')).toBe(before.exit + 1);
    await Promise.all(processors.map((processor) => processor.shutdown()));
    expect(process.listenerCount('exit')).toBe(before.exit);
    expect(process.listenerCount('uncaughtExceptionMonitor')).toBe(before.monitor);
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
  } finally {
    process.off('warning', onWarning);
  }
});
