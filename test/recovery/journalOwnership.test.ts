// A journal directory other users can write into, and journals another user owns: warn
// once, and leave foreign journals alone unless recoverForeignJournals says otherwise.
// Needs root to chown to `nobody`; CI runs as root, so these run there.
import { diag } from '@opentelemetry/api';
import { chmodSync, chownSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { exitedProcessJournal } from '../helpers/exitedProcessJournal.js';
import { collectDiag as collectWarnings } from '../helpers/diagLines.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

afterEach(() => diag.disable());

const deadJournal = () => exitedProcessJournal(tempDir());
// Its writer exported to an unreachable database: its journal names that destination, and
// the collecting exporter here names none.
const anyDestination = { recoverAnyDestination: true };

function chownTree(dir: string, uid: number): void {
  chownSync(dir, uid, uid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) chownTree(path, uid);
    else chownSync(path, uid, uid);
  }
}

describe.skipIf(!isRoot)('journals of another user (needs root to chown to nobody; skipped otherwise)', () => {
  it('are left alone, counted and warned about once; recoverForeignJournals recovers them', async () => {
    const journalDir = await deadJournal();
    for (const writerDir of readdirSync(journalDir)) chownTree(join(journalDir, writerDir), NOBODY);
    const warnings = collectWarnings();

    const exporter = new CollectingExporter();
    const refused = await recoverJournals({ journalDir, exporter, ...anyDestination });
    const again = await recoverJournals({ journalDir, exporter, ...anyDestination });
    expect(refused).toMatchObject({ journals: 0, foreignJournals: 1, spansCrashed: 0 });
    expect(again).toMatchObject({ journals: 0, foreignJournals: 1 });
    expect(exporter.spans).toEqual([]);
    expect(warnings.filter((line) => line.includes('owned by uid 65534'))).toHaveLength(1);
    expect(readdirSync(journalDir)).toHaveLength(1);

    const allowed = await recoverJournals({ journalDir, exporter, recoverForeignJournals: true, ...anyDestination });
    expect(allowed).toMatchObject({ journals: 1, foreignJournals: 0, spansCrashed: 3 });
    expect(exporter.spans).toHaveLength(4);
  });

  it('the CLI refuses them too, and --recover-foreign-journals recovers them', async () => {
    const journalDir = await deadJournal();
    for (const writerDir of readdirSync(journalDir)) chownTree(join(journalDir, writerDir), NOBODY);
    const run = (...args: string[]) =>
      runCli({ DATABASE_URL: 'postgres://127.0.0.1:1/none' }, 'recover', '--journal-dir', journalDir, '--json', ...args);
    const refused = await run();
    // A dead journal left alone is not recovered: exit 1, and diag (on stderr) says whose it is.
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ journals: 0, foreignJournals: 1 });
    expect(refused.stderr).toContain('it is owned by uid');
    // Allowed, the recovery now reaches the (unreachable) database and fails: exit 1.
    expect((await run('--recover-foreign-journals')).code).toBe(1);
  });
});

describe.skipIf(process.getuid === undefined)('a journal directory other users can write into', () => {
  it.each([['0777', 0o777], ['0770', 0o770], ['1777', 0o1777]])('mode %s: warns once through diag, still recovers own journals', async (_, mode) => {
    const journalDir = await deadJournal();
    chmodSync(journalDir, mode);
    const warnings = collectWarnings();
    const exporter = new CollectingExporter();
    const report = await recoverJournals({ journalDir, exporter, ...anyDestination });
    await recoverJournals({ journalDir, exporter, ...anyDestination });
    expect(report).toMatchObject({ journals: 1, spansCrashed: 3 });
    const about = warnings.filter((line) => line.startsWith(`otel-blackbox: journal directory ${journalDir} `));
    expect(about).toHaveLength(1);
    expect(about[0]).toMatch(mode & 0o002 ? /world-writable/ : /group-writable/);
    expect(about[0]).toContain('Journals owned by another user are not recovered unless recoverForeignJournals is set');
  });

  // With recoverForeignJournals set, the warning said they were not recovered (a review).
  it('with recoverForeignJournals: says such journals are recovered too', async () => {
    const journalDir = await deadJournal();
    chmodSync(journalDir, 0o777);
    const warnings = collectWarnings();
    await recoverJournals({ journalDir, exporter: new CollectingExporter(), recoverForeignJournals: true, ...anyDestination });
    const about = warnings.filter((line) => line.startsWith(`otel-blackbox: journal directory ${journalDir} `));
    expect(about).toHaveLength(1);
    expect(about[0]).toContain('recoverForeignJournals is set: journals owned by another user are recovered too');
    expect(about[0]).not.toContain('not recovered');
  });

  it.skipIf(!isRoot)('owned by another user: warns (needs root to chown; skipped otherwise)', async () => {
    const journalDir = await deadJournal();
    chownSync(journalDir, NOBODY, NOBODY);
    const warnings = collectWarnings();
    await recoverJournals({ journalDir, exporter: new CollectingExporter(), ...anyDestination });
    expect(warnings.filter((line) => line.includes(`journal directory ${journalDir} is owned by uid 65534`))).toHaveLength(1);
  });

  it('mode 0700 and our own: no warning', async () => {
    const journalDir = await deadJournal();
    const warnings = collectWarnings();
    await recoverJournals({ journalDir, exporter: new CollectingExporter(), ...anyDestination });
    expect(warnings.filter((line) => line.includes('journal directory'))).toEqual([]);
  });
});
