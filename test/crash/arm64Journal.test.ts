// The linux-arm64 prebuilt addon, cross-compiled by npm run build, run where it will run:
// Node for arm64 (under qemu's user-mode emulation on this x64 machine) loads it and writes
// its journal into memory-mapped segments, is SIGKILLed, and this machine reads the
// journal back: the same format on both architectures (byte order, checksums), a kill
// leaving the live segment's records and its zero tail, every START and END in PostgreSQL
// once; and its frames' checksums, by the CPU's CRC32 instructions, are zlib's. Where no
// arm64 binary was built (no cross compiler) there is nothing to test.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { arm64Node } from '../helpers/arm64Node.js';
import { runFixture } from '../helpers/childProcess.js';
import { expectEveryStartedSpanOnce, expectKilledJournalIntact, killed, recoverInto } from '../helpers/crashAssertions.js';
import { TestDatabase } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';

const binary = join(import.meta.dirname, '../../prebuilds/linux-arm64/node.napi.glibc.node');
const fixture = join(import.meta.dirname, '../fixtures/crashingService.mjs');
const frameCheck = join(import.meta.dirname, '../fixtures/frameEncodingCheck.mjs');
const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;

// Emulated, Node runs several times slower: fewer requests than the x64 kill test.
const REQUESTS = 600;

describe.runIf(process.platform === 'linux' && process.arch === 'x64' && existsSync(binary))('the linux-arm64 addon, in Node for arm64', () => {
  beforeAll(async () => {
    schema = await db.freshSchema('arm64_journal');
  });
  afterAll(async () => {
    await db.close();
  });

  test('its encodeFrame writes the bytes frame.ts writes (zlib.crc32), by the CRC32 instructions of the CPU', { timeout: 120_000 }, () => {
    const node = arm64Node();
    const ran = spawnSync(node.command, [...node.args, frameCheck], { env: { ...process.env, DIR: tempDir() }, encoding: 'utf8' });
    expect(ran.stderr).toBe('');
    const result = JSON.parse(ran.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    // The emulator offers the instructions (its default CPU is 'max'): the addon's fast path is the one checked.
    expect(result).toEqual({ arch: 'arm64', crcInstructions: true, checked: 606, mismatches: [] });
  });

  test('a SIGKILLed arm64 child journals into mapped segments; read back here, every START and END reaches PostgreSQL once', { timeout: 240_000 }, async () => {
    const dir = tempDir();
    const journalDir = join(dir, 'journal');
    const ledger = join(dir, 'ledger.jsonl');
    const child = runFixture(
      fixture,
      {
        // Nothing is exported live: what reaches the database comes from the journal.
        DATABASE_URL: 'postgres://postgres@127.0.0.1:1/unreachable',
        SCHEMA: schema,
        JOURNAL_DIR: journalDir,
        LEDGER: ledger,
        CRASH_MODE: 'sigkill',
        ENDED: String(REQUESTS),
        MAX_SEGMENT_BYTES: String(32 * 1024),
        SERVICE: 'kill-arm64',
        OTEL_BLACKBOX_JOURNAL_IO: 'auto',
      },
      [],
      { node: arm64Node() },
    );
    const ready = await child.ready;
    expect(ready).toMatchObject({ arch: 'arm64', writePath: 'mmap' });
    await killed(child);

    expectKilledJournalIntact(journalDir, true);
    const report = await recoverInto(db, schema, journalDir, true);
    expect(report).toMatchObject({ journals: 1, spansEnded: REQUESTS * 2 + 1, spansCrashed: 3, corruptBytes: 0, failures: [] });
    const rows = await expectEveryStartedSpanOnce(db, schema, ledger);
    expect(rows).toHaveLength(REQUESTS * 2 + 4);
  });
});
