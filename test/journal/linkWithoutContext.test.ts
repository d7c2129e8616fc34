// The SDK takes a link whose context is undefined (`{ context: trace.getSpanContext(ctx) }`
// with no span active). Reading its ids threw in onStart and onEnd: such a span was never
// journaled, so it had no row when it ended and no crash record when its process died
// (found by a review). It is journaled now, its link as one to the invalid context.
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { JournalSpanProcessor } from '../../src/index.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { segmentNames } from '../helpers/journalFiles.js';
import { JOURNAL_IO_PATHS, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();

describe.each(JOURNAL_IO_PATHS)('a span linked to an undefined context (%s)', (io) => {
  useJournalIo(io);

  test('is journaled at its start and exported at its end', async () => {
    const exporter = new CollectingExporter();
    const journalDir = join(tempDir(), 'journal');
    const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false });
    const provider = providerWith(processor);
    const tracer = provider.getTracer('links');
    const links = [{ context: trace.getSpanContext(ROOT_CONTEXT)! }];
    const open = tracer.startSpan('still open', { links });
    const [writerDir] = readdirSync(journalDir).map((name) => join(journalDir, name));
    const records = segmentNames(writerDir!).flatMap((name) => readSegment(readFileSync(join(writerDir!, name))).records);
    expect(records.filter((record) => record.type === RecordType.SpanStart).map((record) => (record.payload as { n: string }).n)).toEqual(['still open']);

    tracer.startSpan('ended', { links }).end();
    await processor.forceFlush();
    expect(processor.stats().hotPathErrors).toBe(0);
    expect(exporter.spans.map((span) => span.name)).toEqual(['ended']);
    expect(exporter.spans[0]!.links).toHaveLength(1);
    open.end();
    await provider.shutdown();
  });
});

describe.each(JOURNAL_IO_PATHS)('a span context whose trace state is not a TraceState (%s)', (io) => {
  useJournalIo(io);

  test('a remote parent or a link holding the text "k=v" as trace state: the span is journaled and exported (it threw, and was neither)', async () => {
    const exporter = new CollectingExporter();
    const processor = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'journal'), recover: false });
    const provider = providerWith(processor);
    const tracer = provider.getTracer('trace-state');
    const odd = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true, traceState: 'k=v' as never };
    tracer.startSpan('child of a hand-made parent', {}, trace.setSpanContext(ROOT_CONTEXT, odd)).end();
    tracer.startSpan('linked to a hand-made context', { links: [{ context: odd }] }).end();
    await processor.forceFlush();
    expect(processor.stats().hotPathErrors).toBe(0);
    expect(exporter.spans.map((span) => span.name).sort()).toEqual(['child of a hand-made parent', 'linked to a hand-made context']);
    await provider.shutdown();
  });
});
