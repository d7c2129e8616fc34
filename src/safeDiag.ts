// Everything we say goes through OpenTelemetry's diag logger, which is the application's.
// A logger that throws must not make a span call throw into the application, nor reject the
// promise of an export (unhandled, that ends the process), nor throw from a microtask: so
// everything we say is said here, and what the logger throws is swallowed. There is
// nowhere left to report it.
import { diag } from '@opentelemetry/api';

type Level = 'error' | 'warn' | 'info' | 'debug' | 'verbose';

function safely(level: Level): (message: string, ...args: unknown[]) => void {
  return (message, ...args) => {
    try {
      diag[level](message, ...args);
    } catch {
      // The application's logger failed; telling it so would fail the same way.
    }
  };
}

export const safeDiag = {
  error: safely('error'),
  warn: safely('warn'),
  info: safely('info'),
  debug: safely('debug'),
  verbose: safely('verbose'),
};
