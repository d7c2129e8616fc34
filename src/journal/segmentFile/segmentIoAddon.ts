// Loads our native addon (native/segment_io.c) with node-gyp-build, which looks in
// build/Release (built in this checkout) and then prebuilds/<platform>-<arch>/ (shipped in
// the package). Loading never throws: without the addon the journal writes with write(2).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../../packageRoot.js';
import { untraced } from '../../untraced.js';
import { existsSync } from '../../untracedFs.js';

export interface SegmentIoAddon {
  /** statfs f_type of the file's filesystem. */
  filesystemType(fd: number): number;
  /** Allocates blocks for the first `bytes` of the file, or throws (code ENOSPC, EOPNOTSUPP, ...). */
  fallocate(fd: number, bytes: number): void;
  /** Sets the file's times to now by the kernel's clock. A build/Release addon from before it lacks it. */
  touch?(fd: number): void;
  /** A MAP_SHARED read/write mapping of the first `bytes`; throws EXTERNAL_BUFFER_REFUSED where the runtime refuses external buffers. */
  map(fd: number, bytes: number): ArrayBuffer;
  /** Detaches the buffer (views over it become empty) and munmaps it. */
  unmap(buffer: ArrayBuffer): void;
  msync(buffer: ArrayBuffer): void;
  /**
   * Faults the pages of [from, from + bytes) in for writing, on the thread pool; sets
   * busy[0] to 1 now and to 0 once the thread no longer touches the mapping.
   */
  populate(buffer: ArrayBuffer, from: number, bytes: number, busy: Int32Array, callback: (error: Error | null) => void): void;
  /** msync(MS_SYNC) of the pages of [from, from + bytes), on the thread pool; `busy` as for populate. */
  syncRange(buffer: ArrayBuffer, from: number, bytes: number, busy: Int32Array, callback: (error: Error | null) => void): void;
  /**
   * Unmaps the pages of [from, from + bytes) (whole pages), on the thread pool; their data
   * stays in the page cache. `busy` as for populate. A build/Release addon from before it lacks it.
   */
  drop?(buffer: ArrayBuffer, from: number, bytes: number, busy: Int32Array, callback: (error: Error | null) => void): void;
  /**
   * Detaches the buffer now, then on the thread pool munmaps it and cuts the file to `size`
   * bytes. No other job may use the mapping or the descriptor meanwhile. The caller closes
   * `fd` once `callback` is called, where `releaseLeavesDescriptor`; a build/Release addon
   * from before it closes `fd` itself. (The binary also takes a fifth argument, `sync`, to
   * fdatasync the file first; rotations now sync by path, one at a time: GroupCommit.ts.)
   */
  release?(buffer: ArrayBuffer, fd: number, size: number, callback: (error: Error | null) => void): void;
  /** True where release() leaves `fd` open for the caller to close with fs. */
  releaseLeavesDescriptor?: boolean;
  /**
   * Encodes a frame (frame.ts) into the mapping at `offset`: its length, or -1 when it
   * does not fit (with one byte to spare).
   */
  encodeFrame?(buffer: ArrayBuffer, offset: number, type: number, json: string): number;
  /**
   * Creates the file and takes an exclusive flock on it, held until releaseLock, this
   * thread's end, or the process's (native/writer_lock.c): a handle for releaseLock.
   * Throws (code EWOULDBLOCK when another holds it). A build/Release addon from before it lacks it.
   */
  holdLock?(path: string): LockHandle;
  releaseLock?(handle: LockHandle): void;
  /** true: a live process holds the file's lock; false: none does; null: no such file. */
  probeLock?(path: string): boolean | null;
  /**
   * Whether the handle's descriptor still names the file it locked: false once the
   * application closed it, and then the handle lets the number go without closing it.
   * A build/Release addon from before it lacks it.
   */
  lockIsHeld?(handle: LockHandle): boolean;
}

/** An opaque native handle (an external value) of a held lock. */
export type LockHandle = object;

/**
 * `unexpected`: the package is not where it was installed (a bundle) or its binary would not
 * load, a cost the application did not choose, said as a warning; not so where there is no
 * prebuilt binary for this platform (macOS, Windows, musl, a build without a C toolchain),
 * said once at info.
 */
export type AddonLoad = { addon: SegmentIoAddon; reason?: undefined; unexpected?: undefined } | { addon: undefined; reason: string; unexpected: boolean };

/** What to do when the package was bundled with the application. */
const BUNDLED_ADVICE =
  'if the application is bundled (esbuild, webpack, ncc, Next.js standalone), mark otel-blackbox as external ' +
  "(esbuild --external:otel-blackbox, webpack's externals, Next.js serverExternalPackages) and ship it in node_modules";

let loaded: AddonLoad | undefined;

/** The addon, or why it is not available; loaded once per process (per thread). */
export function loadSegmentIoAddon(): AddonLoad {
  // node-gyp-build lists the prebuilds directory: a file call of ours (untraced.ts).
  loaded ??= untraced(tryLoad);
  return loaded;
}

/** After the runtime refused an external ArrayBuffer: every later segment uses write(2). */
export function markAddonUnusable(reason: string): void {
  loaded = { addon: undefined, reason, unexpected: true };
}

function tryLoad(): AddonLoad {
  const root = packageRoot();
  if (root === undefined) {
    return { addon: undefined, reason: `the otel-blackbox package directory, where its native addon is, was not found; ${BUNDLED_ADVICE}`, unexpected: true };
  }
  try {
    const require = createRequire(join(root, 'package.json'));
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => SegmentIoAddon;
    return { addon: nodeGypBuild(root) };
  } catch (error) {
    const message = (error as Error)?.message?.split('\n')[0] ?? String(error);
    // node-gyp-build's word for "no binary for this platform"; anything else is a binary
    // that would not load (a C library too old, a denied dlopen) or a require() a bundler
    // rewrote (webpack: "(void 0) is not a function").
    if (message.startsWith('No native build was found')) {
      // Where the package ships one, it was lost on the way (a deployment that copied
      // dist/ alone, a packager that drops .node files): said as loudly as a binary that
      // would not load, not as a platform without one (an operator review).
      if (shipsPrebuilt(root)) {
        return { addon: undefined, reason: `its prebuilt native addon for ${process.platform}-${process.arch} is missing from ${join(root, 'prebuilds')} (copy the otel-blackbox package whole, prebuilds/ included) (${message})`, unexpected: true };
      }
      return { addon: undefined, reason: `no native addon for ${process.platform}-${process.arch} (${message})`, unexpected: false };
    }
    const bundled = error instanceof TypeError ? `; ${BUNDLED_ADVICE}` : '';
    return { addon: undefined, reason: `its native addon could not be loaded (${message})${bundled}`, unexpected: true };
  }
}

/**
 * Where the published package has a prebuilt binary (scripts/build.mjs: Linux x64, and arm64
 * where the build had the cross compiler, with glibc): its prebuilds/, or this platform's
 * directory in it, is there without the binary, or prebuilds/ is not there at all (a copy
 * without it). A build without this platform's binary has no directory for it.
 */
function shipsPrebuilt(root: string): boolean {
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) return false;
  const prebuilds = join(root, 'prebuilds');
  if (existsSync(prebuilds) && !existsSync(join(prebuilds, `linux-${process.arch}`))) return false;
  const report = process.report as (NodeJS.ProcessReport & { excludeNetwork?: boolean }) | undefined;
  if (report === undefined) return false;
  // Without the network part: it resolves open sockets' addresses, synchronously (Node 20.13+).
  const excludeNetwork = report.excludeNetwork;
  try {
    report.excludeNetwork = true;
    const header = (report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
    return typeof header?.glibcVersionRuntime === 'string';
  } catch {
    return false;
  } finally {
    report.excludeNetwork = excludeNetwork;
  }
}

