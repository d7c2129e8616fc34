// Passwords never reach a log line or an error message. node-postgres hides the pool's
// `password` option but not a password inside `connectionString`, and Node's URL errors
// carry the whole input, so every message and error we pass on is checked against the
// secrets we know of.

export interface ConnectionFacts {
  connectionString?: string;
  password?: unknown;
}

/** The password forms that may appear in text: as given, and percent-decoded. */
export function secretsOf(facts: ConnectionFacts): string[] {
  const secrets = new Set<string>();
  const add = (value: unknown) => {
    if (typeof value === 'string' && value.length > 0) secrets.add(value);
  };
  add(facts.password);
  add(process.env.PGPASSWORD);
  const match = facts.connectionString?.match(/^[a-z][a-z0-9+.-]*:\/\/[^:@/]*:([^@/]*)@/i);
  if (match) {
    add(match[1]);
    try {
      add(decodeURIComponent(match[1]!));
    } catch {
      // A malformed escape: the raw form above is what can appear in text.
    }
  }
  return [...secrets];
}

export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) result = result.split(secret).join('****');
  return result;
}

export interface TargetFacts {
  connectionString?: string;
  host?: unknown;
  port?: unknown;
  database?: unknown;
}

/** `PostgreSQL at host:port/database` for messages; never the user's password. */
export function describeTarget(target: string | undefined | TargetFacts): string {
  const { connectionString, host, port, database }: TargetFacts = typeof target === 'object' ? target : { connectionString: target };
  if (connectionString !== undefined) {
    try {
      const url = new URL(connectionString);
      return `PostgreSQL at ${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname}`;
    } catch {
      return 'PostgreSQL (from the configured connection string)';
    }
  }
  if (typeof host === 'string') {
    return `PostgreSQL at ${host}${port === undefined ? '' : `:${String(port)}`}${typeof database === 'string' ? `/${database}` : ''}`;
  }
  return 'PostgreSQL (from the PG* environment variables)';
}

/**
 * The error itself when no secret appears in it or its causes; otherwise a copy with the
 * secrets replaced in message, stack and every string property (name and code kept).
 */
export function withoutSecrets(error: unknown, secrets: readonly string[], depth = 0): unknown {
  if (secrets.length === 0 || typeof error !== 'object' || error === null || depth > 4) return error;
  const source = error as Record<string, unknown>;
  const cause = withoutSecrets(source.cause, secrets, depth + 1);
  const strings = ownStrings(error);
  const leaks = Object.values(strings).some((text) => secrets.some((secret) => text.includes(secret)));
  if (!leaks && cause === source.cause) return error;
  const copy = new Error(redact(String(source.message ?? ''), secrets), cause === undefined ? undefined : { cause });
  for (const [key, text] of Object.entries(strings)) {
    if (key !== 'message') Object.defineProperty(copy, key, { value: redact(text, secrets), enumerable: key !== 'stack', writable: true, configurable: true });
  }
  return copy;
}

function ownStrings(error: object): Record<string, string> {
  const strings: Record<string, string> = {};
  for (const key of Object.getOwnPropertyNames(error)) {
    try {
      const value = (error as Record<string, unknown>)[key];
      if (typeof value === 'string') strings[key] = value;
    } catch {
      // A throwing getter holds nothing we could print anyway.
    }
  }
  // `name` usually lives on the prototype.
  if (!('name' in strings) && typeof (error as Error).name === 'string') strings.name = (error as Error).name;
  return strings;
}
