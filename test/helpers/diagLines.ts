// What the library reports through diag at WARN and above, as lines. Call diag.disable()
// after the test.
import { diag, DiagLogLevel } from '@opentelemetry/api';
import type { DiagLogger } from '@opentelemetry/api';

export function collectDiag(): string[] {
  const lines: string[] = [];
  const note = (message: string, ...args: unknown[]) => lines.push([message, ...args].join(' '));
  const logger: DiagLogger = { error: note, warn: note, info: () => {}, debug: () => {}, verbose: () => {} };
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  return lines;
}
