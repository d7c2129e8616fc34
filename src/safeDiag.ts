// Everything we say goes through OpenTelemetry's diag logger, which is the application's.
// A logger that throws must not make a span call throw into the application, nor reject the
// promise of an export (unhandled, that ends the process), nor throw from a microtask: so
// everything we say is said here, and what the logger throws is swallowed. There is
// nowhere left to report it.
import { diag } from '@opentelemetry/api';

type Level = 'error' | 'warn' | 'info' | 'debug' | 'verbose';

/** What is said while construction holds it back (holdDiagUntilNextTurn), in order. */
let held: { level: Level; message: string; args: unknown[] }[] | undefined;

function say(level: Level, message: string, args: unknown[]): void {
  try {
    diag[level](message, ...args);
  } catch {
    // The application's logger failed; telling it so would fail the same way.
  }
}

function safely(level: Level): (message: string, ...args: unknown[]) => void {
  return (message, ...args) => {
    if (held !== undefined) held.push({ level, message, args });
    else say(level, message, args);
  };
}

export const safeDiag = {
  error: safely('error'),
  warn: safely('warn'),
  info: safely('info'),
  debug: safely('debug'),
  verbose: safely('verbose'),
};

/**
 * Called by our constructors: what is said from now until the application's current turn
 * of the event loop is done is said then. The README's setup builds the processor and the
 * exporter inside `new NodeSDK({ spanProcessors: [...] })`, before the SDK's constructor
 * installs the logger OTEL_LOG_LEVEL asks for: what they said while being built (an
 * environment variable ignored, the journal's write path, a missing native addon) went
 * to no logger at all (a review).
 */
export function holdDiagUntilNextTurn(): void {
  if (held !== undefined) return;
  held = [];
  setImmediate(sayHeld);
  // A process that ends in this turn (process.exit(), an uncaught throw) says it then.
  process.once('exit', sayHeld);
}

/**
 * Says what construction held back, now: at the first span, log record, flush or shutdown,
 * if that comes in the same turn (NodeSDK's start() has installed its logger by then), so
 * what is said is said in order and a short script that ends in that turn says it too.
 */
export function sayHeld(): void {
  if (held === undefined) return;
  const said = held;
  held = undefined;
  process.removeListener('exit', sayHeld);
  for (const { level, message, args } of said) say(level, message, args);
}

/** `work`'s result; if it throws (an invalid option), what was held is said first, before the application sees the throw. */
export function sayingHeldIfThrown<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    sayHeld();
    throw error;
  }
}
