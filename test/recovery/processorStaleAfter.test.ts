// Where a dead writer can be judged by its silence alone (another host on a shared volume;
// a host without /proc, as macOS and some sandboxes are, where every journal is judged so),
// the processor's own recovery waited the fixed 5 minutes: `staleAfterMillis`, which
// recoverJournals and the CLI take, was not a processor option, and passing it was ignored.
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { InvalidOptionError, JournalSpanProcessor } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { silentSince, writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();

test("the processor's recovery takes a journal silent for its staleAfterMillis", async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 10, { hostname: 'another-host', openEvery: 5 });
  await silentSince(dead.writerDir, Date.now() - 10_000);

  const exporter = new CollectingExporter();
  const processor = new JournalSpanProcessor({ exporter, journalDir, staleAfterMillis: 5_000 });
  const provider = providerWith(processor, 'stale-after');
  try {
    // Counted once the journal is done, after its last export.
    for (let waited = 0; processor.stats().spansRecovered < dead.ended && waited < 20_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(processor.stats()).toMatchObject({ spansRecovered: dead.ended });
    expect(exporter.spans).toHaveLength(10);
  } finally {
    await provider.shutdown();
  }
});

test('staleAfterMillis is checked like the other options', () => {
  expect(() => new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: tempDir(), staleAfterMillis: 0 })).toThrow(InvalidOptionError);
  expect(() => new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: tempDir(), staleAfterMillis: 0 })).toThrow(/staleAfterMillis/);
});
