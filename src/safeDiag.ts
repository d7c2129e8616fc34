// Everything we say goes through OpenTelemetry's diag logger, which is the application's.
// A logger that throws must not make a span call throw into the application, nor reject the
// promise of an export (unhandled, that ends the process), nor throw from a microtask: so
// everything we say is said here, and what the logger throws is swallowed. There is
// nowhere left to report it.
import { diag } from '@opentelemetry/api';

type Level = 'error' | 'warn' | 'info' | 'debug' | 'verbose';

/** What was said while a constructor held it back (holdDiag), in order, until it is said. */
let held: { level: Level; message: string; args: unknown[] }[] | undefined;
/** Constructors of ours running now (one may build another): what is said while any runs is held. */
let holding = 0;

function say(level: Level, message: string, args: unknown[]): void {
  try {
    diag[level](message, ...args);
  } catch {
    // The application's logger failed; telling it so would fail the same way.
  }
}

function safely(level: Level): (message: string, ...args: unknown[]) => void {
  return (message, ...args) => {
    if (holding > 0 && held !== undefined) held.push({ level, message, args });
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
 * Called when our constructors begin (`stopHoldingDiag` when they end): what they say is
 * said once the application's turn of the event loop is done. The README's setup builds
 * the processor and the exporter inside `new NodeSDK({ spanProcessors: [...] })`, before the
 * SDK's constructor installs the logger OTEL_LOG_LEVEL asks for: what they said while being
 * built (an environment variable ignored, the journal's write path, a missing native addon)
 * went to no logger at all (a review). Only construction is held: the span path never
 * looks at this.
 */
export function holdDiag(): void {
  holding += 1;
  if (held !== undefined) return;
  held = [];
  setImmediate(sayHeld);
  // A process that ends in this turn (process.exit(), an uncaught throw) says it then.
  process.once('exit', sayHeld);
}

export function stopHoldingDiag(): void {
  holding = Math.max(0, holding - 1);
}

/**
 * Says what construction held back, now: at the end of the turn, or sooner at a flush or
 * shutdown in the same turn (a short script), or when a constructor throws.
 */
export function sayHeld(): void {
  if (held === undefined) return;
  const said = held;
  held = undefined;
  process.removeListener('exit', sayHeld);
  for (const { level, message, args } of said) say(level, message, args);
}

/** `work`'s result (a constructor's first step); if it throws (an invalid option), the hold ends and what was held is said, before the application sees the throw. */
export function sayingHeldIfThrown<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    stopHoldingDiag();
    sayHeld();
    throw error;
  }
}
