// The installed otel-blackbox package's directory and manifest: where its native addon is
// (prebuilds/), and the version `otel-blackbox --version` prints. Found from this compiled
// file's directory upwards; undefined in a bundle, where no package.json of ours is near.
import { existsSync, readFileSync } from './untracedFs.js';
import { dirname, join } from 'node:path';
import { moduleDirectory } from './moduleDirectory.js';

interface Manifest {
  name?: string;
  version?: string;
}

/** The package's directory, or undefined where it cannot be found. */
export function packageRoot(): string | undefined {
  let dir = moduleDirectory;
  while (dir !== undefined) {
    if (manifestAt(dir)?.name === 'otel-blackbox') return dir;
    const parent = dirname(dir);
    dir = parent === dir ? undefined : parent;
  }
  return undefined;
}

/** The package's version, or undefined where its manifest cannot be found. */
export function packageVersion(): string | undefined {
  const root = packageRoot();
  return root === undefined ? undefined : manifestAt(root)?.version;
}

function manifestAt(dir: string): Manifest | undefined {
  const path = join(dir, 'package.json');
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}
