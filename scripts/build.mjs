// Builds the two published shapes from one source tree: ESM for `node --import` and
// `import`, CommonJS for `node -r` and `require`. Source files avoid `import.meta` so the
// same code compiles to both.
//
// Then the native addon for the memory-mapped journal (native/segment_io.c), when this
// machine has a C toolchain: compiled with the node-gyp that ships with npm against the
// headers of the installed Node (no download), and copied to prebuilds/<platform>-<arch>/
// in prebuildify's layout, which is what the package ships. On linux-x64 with the Debian
// cross compiler (gcc-aarch64-linux-gnu), the linux-arm64 binary too: N-API binaries need
// only the headers, which are the same for every architecture. The package has no install
// script: where no prebuilt binary loads, the journal writes with write(2). Without a
// toolchain the build still succeeds, and says that this build has no addon.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');

rmSync('dist', { recursive: true, force: true });
for (const project of ['tsconfig.build.json', 'tsconfig.build.cjs.json']) {
  try {
    execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
  } catch {
    console.error(`build failed: tsc -p ${project} reported the errors above`);
    process.exit(1);
  }
}
// The package is "type": "module"; this marks the CommonJS tree as such for Node.
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
// The ESM tree has no __dirname: its copy of moduleDirectory reads import.meta.url, which
// a bundler may leave empty (esbuild's CommonJS output, the default for Node): then there
// is no directory, and the addon is not loaded (segmentIoAddon.ts says why), never a throw
// while the application's bundle loads.
writeFileSync(
  'dist/esm/moduleDirectory.js',
  "import { dirname } from 'node:path';\nimport { fileURLToPath } from 'node:url';\n" +
    '// Written by scripts/build.mjs: the ESM build of src/moduleDirectory.ts.\n' +
    'const url = import.meta.url;\n' +
    "export const moduleDirectory = typeof url === 'string' && url.startsWith('file:') ? dirname(fileURLToPath(url)) : undefined;\n",
);

buildAddons();

function buildAddons() {
  // Whatever an earlier build left: a binary this build could not make must not ship.
  for (const arch of ['x64', 'arm64']) rmSync(join('prebuilds', `linux-${arch}`), { recursive: true, force: true });
  if (process.platform !== 'linux') return withoutAddon(`the addon is Linux-only (this is ${process.platform})`);
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) return withoutAddon("npm's node-gyp was not found");
  const nodedir = findNodedir();
  if (!nodedir) return withoutAddon('no Node headers (include/node/node_api.h) next to this Node or in `npm config get nodedir`');
  const built = buildAddon(nodeGyp, nodedir, process.arch);
  if (built && process.arch === 'x64') buildArm64(nodeGyp, nodedir);
  // node-gyp-build loads build/Release before prebuilds/: leave nothing there that is not this machine's.
  rmSync('build', { recursive: true, force: true });
}

/** The linux-arm64 binary, with the cross compiler where it is installed; a line either way. */
function buildArm64(nodeGyp, nodedir) {
  const cc = 'aarch64-linux-gnu-gcc';
  if (!onPath(cc)) {
    console.log(`build: no linux-arm64 addon (${cc} not found; Debian: apt-get install gcc-aarch64-linux-gnu)`);
    return;
  }
  const tools = { CC: cc, CXX: 'aarch64-linux-gnu-g++', LINK: cc, AR: 'aarch64-linux-gnu-ar' };
  buildAddon(nodeGyp, nodedir, 'arm64', tools);
}

/** Compiles for `arch` (the machine's own, or another with `tools`) into prebuilds/linux-<arch>/; false when it could not. */
function buildAddon(nodeGyp, nodedir, arch, tools = {}) {
  const target = join('prebuilds', `linux-${arch}`);
  // prebuildify's name for an N-API binary linked against glibc: node-gyp-build skips it on musl.
  const binary = join(target, 'node.napi.glibc.node');
  try {
    execFileSync(process.execPath, [nodeGyp, 'rebuild', `--arch=${arch}`, `--nodedir=${nodedir}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...tools },
    });
  } catch (error) {
    const output = `${error.stdout ?? ''}${error.stderr ?? ''}`.trim().split('\n').slice(-8).join('\n');
    if (arch === process.arch) withoutAddon(`node-gyp could not compile native/segment_io.c for linux-${arch} (no C toolchain?):\n${output}`);
    else console.warn(`build: no linux-${arch} addon, the cross compile failed (this machine's addon is built):\n${output}`);
    return false;
  }
  mkdirSync(target, { recursive: true });
  copyFileSync(join('build', 'Release', 'otel_blackbox_segment_io.node'), binary);
  const what = arch === process.arch ? 'journal segments are memory-mapped' : `cross-compiled, for ${arch} hosts`;
  console.log(`build: native addon ${binary} (${what})`);
  return true;
}

function onPath(command) {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, command)));
}

function withoutAddon(reason) {
  console.warn(`build: no native addon, ${reason}. The journal will write with write(2); tests run on that path.`);
}

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((path) => path && existsSync(path));
}

// node-gyp downloads headers unless told where they are; the installed Node has them.
function findNodedir() {
  const candidates = [process.env.npm_config_nodedir, join(dirname(process.execPath), '..')];
  try {
    candidates.push(execFileSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8' }).trim());
  } catch {
    // npm not on PATH: the other candidates remain.
  }
  return candidates.find((dir) => dir && existsSync(join(dir, 'include', 'node', 'node_api.h')));
}
