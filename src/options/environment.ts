// Environment values are the fallback between code and defaults. A bad value warns
// through diag and falls back to the default: a typo in a deployment's environment must
// not take the application down.
import { diag } from '@opentelemetry/api';

export function envNonNegativeInteger(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    diag.warn(`otel-blackbox: ignoring ${name}=${JSON.stringify(raw)}: expected a non-negative integer.`);
    return undefined;
  }
  return value;
}

export function envString(name: string): string | undefined {
  const raw = process.env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw;
}
