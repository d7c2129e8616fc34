// Nanoseconds a span costs the application (startSpan + end) with JournalSpanProcessor,
// against the stock BatchSpanProcessor with the same no-op exporter, in the same run.
// Spans are produced in chunks with a yield between them, so both processors run in their
// steady state (exporting) rather than the stock one's cheaper drop-when-full path. Only
// the synchronous time inside the chunks is the application's cost; background export
// work is reported separately as wall time.
import { mkdirSync, mkdtempSync, rmSync, writeSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TracerProvider as BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { JournalSpanProcessor } from '../dist/esm/index.js';
import { encodeFrame } from '../dist/esm/journal/frame.js';
import { openSegmentFile } from '../dist/esm/journal/segmentFile/openSegmentFile.js';
import { endRecord, recordJson, startRecord } from '../dist/esm/journal/spanRecords.js';
import { endRecordJson, startRecordJson, StartText } from '../dist/esm/journal/spanRecordJson.js';
import { fmt, httpSpanAttributes as attributes, NoopExporter, summary, yieldToEventLoop } from './benchSupport.mjs';

const SPANS = Number(process.env.BENCH_SPANS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
// Spans per synchronous run of the application: ENDs are written when a run completes.
const CHUNK = 64;
const resource = resourceFromAttributes({ 'service.name': 'bench', 'service.version': '1.0.0', 'host.name': 'bench-host' });

async function measure(makeProcessor, journalIo) {
  // The journal's write path is chosen per segment from OTEL_BLACKBOX_JOURNAL_IO: set for
  // the whole run (rotations included), so both paths run side by side in one process.
  if (journalIo) process.env.OTEL_BLACKBOX_JOURNAL_IO = journalIo;
  else delete process.env.OTEL_BLACKBOX_JOURNAL_IO;
  const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-bench-'));
  const processor = makeProcessor(join(dir, 'journal'));
  const writePath = processor.stats?.().journalWritePath;
  const provider = new BasicTracerProvider({ resource, spanProcessors: [processor] });
  const tracer = provider.getTracer('bench', '1.0.0');
  let callerNs = 0n;
  const wallStart = process.hrtime.bigint();
  for (let done = 0; done < SPANS; done += CHUNK) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CHUNK; i++) {
      const span = tracer.startSpan('GET /orders/:id', { attributes });
      span.end();
    }
    callerNs += process.hrtime.bigint() - start;
    await yieldToEventLoop();
  }
  await provider.forceFlush();
  const wallNs = process.hrtime.bigint() - wallStart;
  await provider.shutdown();
  rmSync(dir, { recursive: true, force: true });
  return { callerNsPerSpan: Number(callerNs) / SPANS, wallNsPerSpan: Number(wallNs) / SPANS, writePath };
}

/** The bench span, ended, as the stock SDK makes it. */
async function finishedSpans(count) {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter: memory })] });
  const tracer = provider.getTracer('bench', '1.0.0');
  for (let i = 0; i < count; i++) {
    const span = tracer.startSpan('GET /orders/:id', { attributes });
    span.end();
  }
  const spans = memory.getFinishedSpans();
  await provider.shutdown();
  return spans;
}

/** The journal's START and END frames of the bench span. */
const [benchSpan] = await finishedSpans(1);
const benchFrames = { start: encodeFrame(3, startRecordJson(benchSpan, 1)), end: encodeFrame(4, endRecordJson(benchSpan, 1)) };

/**
 * The stock processor behind two write(2) calls per span, of the sizes of the journal's START
 * and END frames of the bench span, to a file in the run's directory: the floor of any
 * journal that gives each record its own write(2). A write(2) costs more inside the
 * application's work than in a loop of its own (the breakdown's writeSync lines): where the
 * kernel flushes the TLB at every system call (PTI without PCID), the application's code
 * and heap are looked up afresh after each one.
 */
function twoWritesPerSpan(journalDir) {
  const stock = new BatchSpanProcessor({ exporter: new NoopExporter() });
  mkdirSync(journalDir);
  const fd = openSync(join(journalDir, 'floor'), 'w');
  const startFrame = Buffer.alloc(benchFrames.start.length, 0x61);
  const endFrame = Buffer.alloc(benchFrames.end.length, 0x61);
  return {
    onStart(span, context) {
      writeSync(fd, startFrame);
      stock.onStart(span, context);
    },
    onEnd(span) {
      writeSync(fd, endFrame);
      stock.onEnd(span);
    },
    forceFlush: () => stock.forceFlush(),
    shutdown: () => stock.shutdown().finally(() => closeSync(fd)),
  };
}

const journal = (durability) => (journalDir) => new JournalSpanProcessor({ exporter: new NoopExporter(), journalDir, durability, recover: false });

const BASELINE = 'stock BatchSpanProcessor';
const TWO_WRITES = 'stock + two write(2) a span, no journal';
const contenders = {
  [BASELINE]: () => new BatchSpanProcessor({ exporter: new NoopExporter() }),
  "JournalSpanProcessor 'process' mmap": journal('process'),
  "JournalSpanProcessor 'process' write(2)": journal('process'),
  [TWO_WRITES]: twoWritesPerSpan,
  "JournalSpanProcessor 'host' mmap": journal('host'),
  "JournalSpanProcessor 'host' write(2)": journal('host'),
  "JournalSpanProcessor 'none'": (journalDir) => new JournalSpanProcessor({ exporter: new NoopExporter(), journalDir, durability: 'none', recover: false }),
};

/** Where the time of one span goes: the pieces of onStart and onEnd measured alone. */
async function breakdown() {
  const spans = await finishedSpans(1000);
  const time = (label, fn, n = 200_000) => {
    for (let i = 0; i < 10_000; i++) fn(i);
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    return [label, Number(process.hrtime.bigint() - start) / n];
  };
  const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-bench-'));
  const fd = openSync(join(dir, 'probe'), 'w');
  const startJson = startRecordJson(spans[0], 1);
  const { start: frame, end: endFrame } = benchFrames;
  // What the writer keeps of each START for its END.
  const starts = spans.map((span) => new StartText(span));
  const rows = [
    time('START payload: JSON text (the writer)', (i) => startRecordJson(spans[i % 1000], 1)),
    time("END payload: JSON text, reusing its START's (the writer)", (i) => endRecordJson(spans[i % 1000], 1, starts[i % 1000])),
    time('START payload: object + JSON.stringify (fallback)', (i) => recordJson(startRecord(spans[i % 1000], 1))),
    time('END payload: object + JSON.stringify (fallback)', (i) => recordJson(endRecord(spans[i % 1000], 1))),
    time('frame in JavaScript: length + crc32 + copy (write(2) path)', () => encodeFrame(3, '{"t":"0af7651916cd43dd8448eb211c80319c","s":"b7ad6b7169203331"}')),
    time(`writeSync of one start frame (${frame.length} B)`, () => writeSync(fd, frame), 100_000),
    time(`writeSync of one end frame (${endFrame.length} B)`, () => writeSync(fd, endFrame), 100_000),
  ];
  closeSync(fd);
  delete process.env.OTEL_BLACKBOX_JOURNAL_IO;
  const segment = openSegmentFile(join(dir, 'mapped'), { preallocateBytes: 64 * 1024 * 1024 });
  if (segment.kind === 'mmap') {
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the first window of pages be faulted in
    // Within the first window of pages the populate job faulted in (1 MiB): the writer's steady state.
    const start = process.hrtime.bigint();
    for (let i = 0; i < 2000; i++) segment.appendFrame(3, startJson);
    rows.push(['START frame encoded into a mapped segment', Number(process.hrtime.bigint() - start) / 2000]);
  }
  segment.close();
  rmSync(dir, { recursive: true, force: true });
  return rows;
}

const results = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, make] of Object.entries(contenders)) results[name].push(await measure(make, name.endsWith('write(2)') ? 'write' : 'mmap'));
}
const median = (name) => summary(results[name].map((r) => r.callerNsPerSpan)).median;
const baseline = summary(results[BASELINE].map((r) => r.callerNsPerSpan));
console.log(`processor overhead: ${fmt(SPANS)} spans x ${ROUNDS} rounds, start+end per span, same no-op exporter (node ${process.version})`);
for (const [name, rounds] of Object.entries(results)) {
  const caller = summary(rounds.map((r) => r.callerNsPerSpan));
  const wall = summary(rounds.map((r) => r.wallNsPerSpan));
  const added = caller.median - baseline.median;
  // Where the addon is not built, the 'mmap' rows ran on write(2): the row says so.
  const path = rounds[0].writePath;
  const label = name.endsWith('mmap') && path !== 'mmap' ? `${name} (ran on ${path}: no addon)` : name;
  console.log(
    `  ${label.padEnd(40)} caller ${fmt(caller.median)} ns/span (min ${fmt(caller.min)}, max ${fmt(caller.max)})` +
      `${name === BASELINE ? '  [baseline]' : `  added ${fmt(added)} ns = ${fmt(caller.median / baseline.median, 2)}x`}` +
      `  | wall incl. export ${fmt(wall.median)} ns/span`,
  );
}
const twoWrites = median(TWO_WRITES) - baseline.median;
console.log(
  `  two write(2) calls a span cost the application ${fmt(twoWrites)} ns (${fmt(twoWrites / 2)} each, inside its work; alone in a loop: the writeSync lines below);` +
    ` the 'process' write(2) path adds ${fmt(median("JournalSpanProcessor 'process' write(2)") - median(TWO_WRITES))} ns over them, the mmap path ${fmt(median("JournalSpanProcessor 'process' mmap") - baseline.median)} ns over stock`,
);
console.log('  where the time goes (each piece alone, ns per call):');
for (const [label, ns] of await breakdown()) console.log(`    ${label.padEnd(48)} ${fmt(ns)} ns`);
