// The traced workload a torture run kills: a child process that produces span trees
// without pause until it dies the way TORTURE_MODE says. Next to the journal under test
// it keeps its own ledger (see ledger.mjs) of every span it started and ended.
//
// Kills must land anywhere: inside a synchronous burst of spans (END records still
// waiting for the end of the turn), across awaits with spans open at every depth, while
// an export is in flight, while a segment rotates. Hence several concurrent request loops,
// gaps of every kind (none, microtask, setImmediate, short timer), bursts, span events,
// large attributes, and values PostgreSQL refuses unless they are sanitised.
//
// Environment (set by runTorture.mjs): DATABASE_URL, TORTURE_SCHEMA, TORTURE_JOURNAL_DIR,
// TORTURE_LEDGER, TORTURE_SERVICE, TORTURE_MODE (sigkill | uncaught | abort | oom | shutdown),
// TORTURE_DIE_AFTER_MS, TORTURE_SEED, TORTURE_LIBRARY, and the processor settings
// TORTURE_BATCH_SIZE, TORTURE_DELAY_MS, TORTURE_CONCURRENT_EXPORTS, TORTURE_SEGMENT_BYTES,
// TORTURE_WORKERS, TORTURE_DURABILITY, TORTURE_SPAN_IDS ('counting': span ids 1, 2, 3, ... in
// every run, so runs share span ids across their traces, as the specification allows).
import { DiagConsoleLogger, DiagLogLevel, ROOT_CONTEXT, SpanStatusCode, diag, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider as BasicTracerProvider, SamplingDecision } from '@opentelemetry/sdk-trace';
import { randomBytes } from 'node:crypto';
import { writeSync } from 'node:fs';
import { setImmediate as nextTurn, setTimeout as after } from 'node:timers/promises';
import { LedgerWriter } from './ledger.mjs';
import { seededRandom } from './seededRandom.mjs';

const env = process.env;
// The torture run passes its snapshot of the build (see snapshotLibrary.mjs).
const { JournalSpanProcessor, PostgresSpanExporter } = await import(env.TORTURE_LIBRARY ?? '../dist/esm/index.js');
const mode = env.TORTURE_MODE;
const service = env.TORTURE_SERVICE;
const dieAfterMillis = Number(env.TORTURE_DIE_AFTER_MS ?? 0);
const random = seededRandom(Number(env.TORTURE_SEED ?? 1));

// Whatever the library reports (an export failure, a hot-path error) ends up in the
// child's stderr, which the torture run keeps for a failing run.
diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

const ledger = new LedgerWriter(env.TORTURE_LEDGER);
const processor = new JournalSpanProcessor({
  exporter: new PostgresSpanExporter({ connectionString: env.DATABASE_URL, schema: env.TORTURE_SCHEMA }),
  journalDir: env.TORTURE_JOURNAL_DIR,
  recover: false,
  heartbeatIntervalMillis: 200,
  scheduledDelayMillis: Number(env.TORTURE_DELAY_MS ?? 10),
  maxExportBatchSize: Number(env.TORTURE_BATCH_SIZE ?? 128),
  maxConcurrentExports: Number(env.TORTURE_CONCURRENT_EXPORTS ?? 2),
  maxSegmentBytes: Number(env.TORTURE_SEGMENT_BYTES ?? 8 * 1024 * 1024),
  durability: env.TORTURE_DURABILITY ?? 'process',
});

// Some trees are recorded but not sampled: they reach onStart too, and must never show
// up in PostgreSQL, not even as crash records.
const RECORD_ONLY = 'torture.record_only';
const sampler = {
  shouldSample: (_context, _traceId, _name, _kind, attributes) => ({
    decision: attributes?.[RECORD_ONLY] ? SamplingDecision.RECORD : SamplingDecision.RECORD_AND_SAMPLED,
  }),
  toString: () => 'TortureSampler',
};
// A span id need only be unique within its trace: counting ids repeat every earlier run's
// (other traces) in the same schema, and recovery and the checker must keep them apart.
let spanIds = 0;
const countingIds = {
  generateTraceId: () => randomBytes(16).toString('hex'),
  generateSpanId: () => (++spanIds).toString(16).padStart(16, '0'),
};
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': service, 'torture.mode': mode }),
  sampler,
  ...(env.TORTURE_SPAN_IDS === 'counting' ? { idGenerator: countingIds } : {}),
  spanProcessors: [processor],
});
const tracer = provider.getTracer('otel-blackbox-torture', '1.0.0');

/** A span and the number of events added to it, which the ledger records at its end. */
function start(name, parent, attributes) {
  const context = parent ? trace.setSpan(ROOT_CONTEXT, parent.span) : ROOT_CONTEXT;
  const span = tracer.startSpan(name, { attributes }, context);
  ledger.started(span, parent?.span);
  const traced = { span, events: 0 };
  open.add(traced);
  return traced;
}

function addEvent(traced, name, attributes) {
  traced.span.addEvent(name, attributes);
  traced.events += 1;
}

function end(traced) {
  traced.span.end();
  open.delete(traced);
  // In a clean shutdown: whether the processor had shut down when this end came (its stats
  // say so at once), the one case where an end may go unrecorded.
  ledger.ended(traced.span, traced.events, shuttingDown && processor.stats().journalWritePath === 'none');
}

function attributes() {
  const roll = random.next();
  if (roll < 0.02) return { 'torture.text': `nul \u0000 and lone surrogate \ud800 in ${service}` };
  if (roll < 0.05) return { 'torture.payload': 'x'.repeat(random.int(1_000, 20_000)) };
  // Larger than the journal's 64 KiB write buffer: such a frame is written on its own.
  if (roll < 0.052) return { 'torture.payload': 'y'.repeat(70_000) };
  return { 'torture.step': random.int(0, 1000), 'torture.flag': random.chance(0.5) };
}

/** A pause of a random kind; `undefined` keeps the caller in the same event-loop turn. */
function gap() {
  const roll = random.next();
  if (roll < 0.35) return undefined;
  if (roll < 0.55) return Promise.resolve();
  if (roll < 0.85) return nextTurn();
  return after(random.int(0, 3));
}

// Deaths that happen inside the workload rather than in a timer of their own: set by
// the mode's timer, acted on by the next request step that sees it (awaited: a clean
// shutdown holds the step there for good).
let dieInside;

async function children(parent, depth, base) {
  if (depth <= 0) return;
  const count = random.int(1, 3);
  const one = async (index) => {
    const child = start(`step ${depth}.${index}`, parent, { ...base, ...attributes() });
    if (random.chance(0.3)) addEvent(child, 'checkpoint', { depth, index });
    await gap();
    if (dieInside) await dieInside();
    await children(child, depth - random.int(1, 2), base);
    if (random.chance(0.3)) addEvent(child, 'done', { 'torture.rows': random.int(0, 50) });
    if (random.chance(0.1)) child.span.setStatus({ code: SpanStatusCode.ERROR, message: 'torture step failed' });
    end(child);
  };
  if (random.chance(0.3)) {
    await Promise.all(Array.from({ length: count }, (_, index) => one(index)));
  } else {
    for (let index = 0; index < count; index++) await one(index);
  }
}

let requests = 0;
async function request(worker) {
  const base = random.chance(0.05) ? { [RECORD_ONLY]: true } : {};
  const root = start(random.pick(['GET /orders', 'POST /checkout', 'GET /search', 'PUT /cart']), undefined, {
    ...base,
    'torture.worker': worker,
    'torture.request': requests++,
  });
  await children(root, random.int(0, 4), base);
  end(root);
}

/** Many spans in one turn: their END records all wait for the same write. */
function burst() {
  const root = start('burst', undefined, { 'torture.burst': true });
  const size = random.int(20, 200);
  for (let i = 0; i < size; i++) {
    const child = start('burst step', root, attributes());
    if (random.chance(0.2)) addEvent(child, 'burst event', { i });
    end(child);
  }
  return root;
}

async function serve(worker) {
  for (;;) {
    if (shuttingDown) await FOREVER;
    if (random.chance(0.02)) end(burst());
    await request(worker);
    // Paces the workload so a run stays a few thousand spans, and lets exports and
    // heartbeats interleave with span work.
    await after(random.int(0, 2));
  }
}

function hoardMemory() {
  // Left open until the heap runs out: on a loaded machine the request loops can be
  // between spans at the moment V8 aborts, and a run with no open span proves nothing.
  start('hoard memory', undefined, { 'torture.hoard': true });
  const hoard = [];
  const chunk = random.int(20_000, 200_000);
  // A timer, not a loop: span work and exports go on while the heap fills up.
  setInterval(() => hoard.push(new Array(chunk).fill(hoard.length + 0.5)), 1);
  dieInside = () => hoard.push(new Array(chunk).fill(0.25));
}

// A clean shutdown, as a SIGTERM handler does it: from that moment no span starts (every
// request loop and step that comes to it waits for good, holding its spans open), then
// provider.shutdown(), then exit 0. While it runs, the application ends some of the spans
// still open, as requests finishing would: those ENDs must be recorded. The processor itself
// exports the crash records of the spans left open and removes its journal: recovery must
// find nothing.
const FOREVER = new Promise(() => {});
let shuttingDown = false;
/** Spans started and not yet ended. */
const open = new Set();

async function shutDown() {
  if (shuttingDown) return;
  shuttingDown = true;
  // Only the exit below is a clean one: a shutdown that never settles lets the event loop
  // drain (nothing holds it), and the process would end with code 0 all the same.
  process.exitCode = 3;
  dieInside = () => FOREVER;
  ledger.shutdownStarted();
  const done = provider.shutdown();
  // Never the newest open span (where the death was armed: the step that froze, or the burst
  // left open): every run keeps one span open through the shutdown, for its crash record.
  const newest = [...open].at(-1);
  for (const traced of open) {
    if (traced === newest || !random.chance(0.3)) continue;
    const later = random.int(0, 3);
    const finish = () => open.has(traced) && end(traced);
    if (later === 0) setImmediate(finish);
    else setTimeout(finish, later);
  }
  await done;
  process.exit(0);
}

/** Arms the death the mode asks for, dieAfterMillis from now. */
function dieLater() {
  // 'timer': right after a burst whose END records still wait for the end of the turn.
  // 'inside': in a request step after an await, with spans open at every depth; an
  // exception there surfaces as an unhandled rejection.
  const inside = random.chance(0.5);
  const where = inside ? 'inside' : 'timer';
  let kill;
  switch (mode) {
    case 'sigkill':
      return; // the parent sends SIGKILL
    case 'uncaught':
      kill = () => {
        throw new Error(`torture: uncaught exception (${where}) in ${service}`);
      };
      break;
    case 'abort':
      kill = () => process.abort();
      break;
    case 'oom':
      setTimeout(hoardMemory, dieAfterMillis);
      return;
    case 'shutdown':
      // A request step that runs it waits for good, as every later one does.
      kill = () => {
        void shutDown();
        return FOREVER;
      };
      break;
    default:
      throw new Error(`unknown TORTURE_MODE ${JSON.stringify(mode)}`);
  }
  setTimeout(() => {
    if (inside) {
      dieInside = kill;
      return;
    }
    end(burst());
    burst(); // left open: its root dies with the process
    kill();
  }, dieAfterMillis);
}

for (let worker = 0; worker < Number(env.TORTURE_WORKERS ?? 3); worker++) void serve(worker);
dieLater();
// Spans are flowing (each worker started its first root span synchronously): the
// parent's clock for a SIGKILL starts now.
writeSync(1, 'READY\n');
