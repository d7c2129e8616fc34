// A segment holds the RESOURCE records of the resources its records name, and no others:
// written into every head, every resource the process had used (5,000 providers, one per
// tenant) made each rotation write 2.9 MB and stall the span call that crossed it 78 ms,
// and a provider made per job grew the journal's writes with the square of the run (an
// attack). Each segment still reads on its own: a record naming a resource follows that
// resource's RESOURCE in the same segment, so deleting the segments before it loses nothing.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider as BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, test } from 'vitest';
import { readSegment } from '../../src/journal/readSegment.js';
import { encodeFrame } from '../../src/journal/frame.js';
import { JournalResources } from '../../src/journal/JournalResources.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import { recoverJournals } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { segmentNames } from '../helpers/journalFiles.js';
import { JOURNAL_IO_PATHS, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { journalWriterIn, testJournalWriter } from '../helpers/testJournalWriter.js';
import type { JournalWriter } from '../../src/journal/JournalWriter.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';

const tempDir = useTempDirs();

/** `count` ended spans of each of `tenants` resources, tenant after tenant in turn. */
function spansOfTenants(tenants: number, count: number): ReadableSpan[][] {
  return Array.from({ length: tenants }, (_, tenant) => {
    const exporter = new InMemorySpanExporter();
    const resource = resourceFromAttributes({ 'service.name': `tenant-${tenant}`, 'tenant.id': tenant, pad: 'r'.repeat(400) });
    const provider = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const tracer = provider.getTracer('tenants');
    for (let i = 0; i < count; i++) tracer.startSpan(`work-${tenant}-${i}`, { attributes: { i, pad: 'x'.repeat(200) } }).end();
    return exporter.getFinishedSpans();
  });
}

interface SegmentRecords {
  resources: number[];
  /** A record naming a resource whose RESOURCE the segment does not hold before it. */
  unnamed: number;
  named: Set<number>;
}

function segmentsOf(writerDir: string): SegmentRecords[] {
  return segmentNames(writerDir)
    .sort()
    .map((name) => {
      const contents: SegmentRecords = { resources: [], unnamed: 0, named: new Set() };
      for (const record of readSegment(readFileSync(join(writerDir, name))).records) {
        const payload = record.payload as { id?: number; r?: number };
        if (record.type === RecordType.Resource) contents.resources.push(payload.id!);
        else if (typeof payload.r === 'number') {
          contents.named.add(payload.r);
          if (!contents.resources.includes(payload.r)) contents.unnamed += 1;
        }
      }
      return contents;
    });
}

describe.each(JOURNAL_IO_PATHS)('on the %s path', (io) => {
  useJournalIo(io);

  test("a segment holds the RESOURCE of each resource its records name, before the first such record, and no other's", () => {
    const writer = journalWriterIn(tempDir(), { maxSegmentBytes: 16 * 1024 });
    const [first, ...others] = spansOfTenants(50, 20);
    // Fifty tenants a span each in turn, then one tenant alone for many segments.
    for (let i = 0; i < 20; i++) {
      for (const spans of others) {
        writer.appendStart(spans[i]!);
        writer.appendEnd(spans[i]!);
      }
    }
    const [alone] = spansOfTenants(1, 400);
    for (const span of alone!) {
      writer.appendStart(span);
      writer.appendEnd(span);
    }
    writer.appendStart(first![0]!);
    writer.appendEnd(first![0]!);
    const segments = segmentsOf(writer.writerDir);
    writer.close({ removeIfDone: false });

    expect(segments.length).toBeGreaterThan(10);
    expect(segments.map((s) => s.unnamed)).toEqual(segments.map(() => 0));
    for (const segment of segments) expect(segment.resources.sort()).toEqual([...segment.named].sort());
    // The one tenant's segments hold its RESOURCE alone, not the fifty.
    expect(segments.filter((s) => s.named.size === 1 && s.resources.length === 1).length).toBeGreaterThan(5);
  });
});

test('a dead journal whose first segments were deleted recovers every span with its own resource', async () => {
  const journalDir = join(tempDir(), 'journal');
  const writer = journalWriterIn(tempDir(), { journalDir, maxSegmentBytes: 16 * 1024, lock: false, identity: { ...currentWriterIdentity(), ...deadIdentity() } });
  const tenants = spansOfTenants(5, 40);
  for (let i = 0; i < 40; i++) {
    for (const spans of tenants) {
      writer.appendStart(spans[i]!);
      writer.appendEnd(spans[i]!);
    }
  }
  // The first half committed: its segments go.
  const segments = segmentNames(writer.writerDir).length;
  writer.appendCommit({ segment: Math.floor(segments / 2), offset: 0 });
  writer.deleteSegmentsBefore(Math.floor(segments / 2));
  await expect.poll(() => segmentNames(writer.writerDir).length).toBeLessThan(segments);

  const exporter = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter });
  expect(report.failures).toEqual([]);
  expect(exporter.spans.length).toBeGreaterThan(0);
  for (const span of exporter.spans) {
    const tenant = /^work-(\d+)-/.exec(span.name)![1];
    expect(span.resource.attributes['service.name']).toBe(`tenant-${tenant}`);
  }
});

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** One span of a provider of its own, made and let go of: only the writer could keep its resource. */
function oneSpanOfTenant(writer: JournalWriter, tenant: number): void {
  const resource = resourceFromAttributes({ 'service.name': `tenant-${tenant}`, pad: 'r'.repeat(400) });
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [{ onStart: (span) => void writer.appendStart(span), onEnd: (span) => void writer.appendEnd(span), forceFlush: async () => {}, shutdown: async () => {} }],
  });
  provider.getTracer('tenants').startSpan(`work-${tenant}`).end();
}

test('resources the application let go of are forgotten once no segment on disk holds their records; until then, one read back is made again', async () => {
  // Ends kept in memory for the tail: one, so that only the writer's bookkeeping holds resources.
  const writer = testJournalWriter(tempDir(), 16 * 1024, 1);
  for (let tenant = 0; tenant < 300; tenant++) oneSpanOfTenant(writer, tenant);
  const [firstSegment] = segmentNames(writer.writerDir).sort();
  const named = readSegment(readFileSync(join(writer.writerDir, firstSegment!))).records.find((r) => r.type === RecordType.SpanEnd)!.payload as { r: number; n: string };
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    gc();
  }
  // Collected, still named on disk: made again from its record.
  expect(writer.resourceById(named.r).attributes['service.name']).toBe(named.n.replace('work-', 'tenant-'));
  expect(writer.resourcesKnown).toBe(300);

  writer.appendCommit(writer.position());
  writer.deleteSegmentsBefore(writer.position().segment);
  await expect.poll(() => segmentNames(writer.writerDir).length).toBeLessThanOrEqual(2);
  writer.maintain();
  // Those in the live segment stay, with the few of a segment not yet unlinked.
  expect(writer.resourcesKnown).toBeLessThan(60);
  writer.close({ removeIfDone: false });
});

// An attack: with the database away and a resource per job, the heap grew by one resource's
// text a span (27 to 131 MB in 45 s): every text was kept until its segments were deleted,
// which no commit came to do.
test('the text of a resource the application let go of is not kept while segments on disk hold it: a record read back gets it from its RESOURCE record', async () => {
  const writer = testJournalWriter(tempDir(), 16 * 1024, 1);
  for (let tenant = 0; tenant < 300; tenant++) oneSpanOfTenant(writer, tenant);
  expect(writer.resourceTextsKept).toBe(300);
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    gc();
  }
  await new Promise((resolve) => setTimeout(resolve, 10));
  // Nothing was committed: every resource is still named on disk, none of their texts kept.
  expect(writer.resourcesKnown).toBe(300);
  expect(writer.resourceTextsKept).toBeLessThan(5);
  for (const name of segmentNames(writer.writerDir)) {
    for (const record of readSegment(readFileSync(join(writer.writerDir, name))).records) {
      if (record.type !== RecordType.SpanEnd) continue;
      const { r, n } = record.payload as { r: number; n: string };
      expect(writer.resourceById(r).attributes).toEqual({ 'service.name': n.replace('work-', 'tenant-'), pad: 'r'.repeat(400) });
    }
  }
  writer.close({ removeIfDone: false });
});

// The text is read back from where its RESOURCE record was last written. That segment can be
// deleted before an older one kept for open STARTs that name the resource: read back first.
test('a resource text kept only in a segment about to be deleted is read back before it goes', async () => {
  const dir = tempDir();
  const segmentFile = (segment: number) => join(dir, `${segment}.seg`);
  const resources = new JournalResources(segmentFile);
  const makeResource = (): number => {
    const resource = resourceFromAttributes({ 'service.name': 'job-7', pad: 'p'.repeat(300) });
    const id = resources.idFor(resource, () => {});
    const frame = encodeFrame(RecordType.Resource, resources.recordFor(id, 2)!);
    writeFileSync(segmentFile(2), Buffer.concat([Buffer.alloc(100), frame]));
    resources.writtenIn(id, 2, { segment: 2, offset: 100, end: 100 + frame.length });
    return id;
  };
  const id = makeResource();
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    gc();
  }
  await new Promise((resolve) => setTimeout(resolve, 10));
  expect(resources.textsKept).toBe(0);
  resources.segmentsLeaving([2]);
  expect(resources.textsKept).toBe(1);
  rmSync(segmentFile(2));
  expect(resources.byId(id).attributes['service.name']).toBe('job-7');
});

/** A writer identity that no process has: recovery judges it dead. */
function deadIdentity() {
  return { pid: 2 ** 22 + 17, procStartTicks: '1', writerId: `w000000000-${2 ** 22 + 17}-1-${'cd'.repeat(8)}` };
}
