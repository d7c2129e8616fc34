// A copy of the built library (dist/) for the length of one torture run. A run takes
// minutes, and `npm run build` starts by deleting dist/: without the copy, a rebuild in
// the same tree while the run goes on makes children fail to import the library (seen:
// 23 runs in a row died with ERR_MODULE_NOT_FOUND), or runs a mix of two builds. The copy
// lives under node_modules/.cache, so the library's own imports (pg, @opentelemetry/*)
// still resolve to the project's node_modules, and git never sees it.
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
const SNAPSHOTS = join(ROOT, 'node_modules', '.cache', 'otel-blackbox-torture');

/**
 * @returns {{ esmUrl: string, cliMain: string, remove(): void }} the ESM entry point as a
 *   file URL (for import()), the CommonJS CLI module, and a way to delete the copy
 */
export function snapshotLibrary() {
  removeAbandonedSnapshots();
  const dir = join(SNAPSHOTS, String(process.pid));
  const esmIndex = join(dir, 'esm', 'index.js');
  const cliMain = join(dir, 'cjs', 'cli', 'main.js');
  if (!existsSync(join(DIST, 'esm', 'index.js')) || !existsSync(join(DIST, 'cjs', 'cli', 'main.js'))) {
    throw new Error(`no built library in ${DIST}: run \`npm run build\` first (npm run torture does)`);
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(DIST, dir, { recursive: true });
  // dist/esm relies on the project's "type": "module", which a copy under node_modules
  // does not inherit; dist/cjs carries its own package.json.
  writeFileSync(join(dir, 'esm', 'package.json'), '{ "type": "module" }\n');
  return { esmUrl: pathToFileURL(esmIndex).href, cliMain, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Copies left by torture runs that were interrupted (their process is gone). */
function removeAbandonedSnapshots() {
  let names = [];
  try {
    names = readdirSync(SNAPSHOTS);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(name);
    if (Number.isInteger(pid) && pid !== process.pid && !isRunning(pid)) rmSync(join(SNAPSHOTS, name), { recursive: true, force: true });
  }
}

function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}
