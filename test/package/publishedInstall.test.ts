// The packed package as a new user installs it today, on the OpenTelemetry JS line this
// run's node_modules hold (2.x on Node 20, 3.x on Node >= 22.15: .ci/run runs both legs):
// a plain `npm install` (no flags) next to NodeSDK gives one copy of api and core, and so
// does `pnpm add`, with the app's line of core and resources; a
// NodeSDK app with http and pg instrumentation (CJS with -r, ESM with --import) killed
// mid-request leaves its rows after a restart; a strict TypeScript consumer compiles.
// Needs the npm registry, so it runs where OTEL_BLACKBOX_REGISTRY_TESTS=1 (.ci/run sets it).
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runFixture } from '../helpers/childProcess.js';
import { TestDatabase } from '../helpers/database.js';

const REPO = join(import.meta.dirname, '../..');
const APP_FILES = join(REPO, 'test/fixtures/publishedApp');
const ENABLED = process.env.OTEL_BLACKBOX_REGISTRY_TESTS === '1';
const API_VERSION: string = JSON.parse(readFileSync(join(REPO, 'node_modules/@opentelemetry/api/package.json'), 'utf8')).version;
const LINE = API_VERSION.startsWith('1.10.') ? 3 : 2;

/** What a new user of each line installs next to us. */
const APP_DEPENDENCIES = {
  2: ['@opentelemetry/sdk-node@0.223', '@opentelemetry/api@1.9', '@opentelemetry/instrumentation-http@0.223', '@opentelemetry/instrumentation-pg@0.74', 'pg@8'],
  3: ['@opentelemetry/sdk-node@latest', '@opentelemetry/api@latest', '@opentelemetry/instrumentation-http@latest', '@opentelemetry/instrumentation-pg@latest', 'pg@8'],
}[LINE];
// A pinned major of pnpm, from the registry through npx.
const PNPM = 'pnpm@12';
const TYPESCRIPT = ['typescript@~5.9', LINE === 3 ? '@types/node@22' : '@types/node@20'];
// Installs from the registry take a minute or two on these machines; leave a lot of room.
const INSTALL_TIMEOUT = 10 * 60_000;

interface Run {
  code: number;
  output: string;
}

/** Runs a command to completion, never rejecting: the test asserts on code and output. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  // npm passes npm_* variables to `npm test`; a nested npm would take them (a prefix among them) as its own.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: { ...clean, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: INSTALL_TIMEOUT }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

function lastLines(text: string, count = 8): string {
  return text.trim().split('\n').slice(-count).join('\n');
}

/** Keeps an install's last lines for the CI log and the closing note. */
function transcript(label: string, result: Run): void {
  process.stdout.write(`\n[published install, ${LINE}.x line, node ${process.version}] ${label}: exit ${result.code}\n${lastLines(result.output)}\n`);
}

/** Every installed copy of a package in the app, as "version at path". */
function copiesOf(app: string, name: string): string[] {
  const found: string[] = [];
  const visit = (modules: string): void => {
    if (!existsSync(modules)) return;
    for (const entry of readdirSync(modules)) {
      if (entry.startsWith('.')) continue;
      const dirs = entry.startsWith('@') ? readdirSync(join(modules, entry)).map((sub) => join(modules, entry, sub)) : [join(modules, entry)];
      for (const dir of dirs) {
        const manifest = join(dir, 'package.json');
        if (dir.endsWith(`/${name}`) && existsSync(manifest)) found.push(`${JSON.parse(readFileSync(manifest, 'utf8')).version} at ${dir.slice(app.length)}`);
        visit(join(dir, 'node_modules'));
      }
    }
  };
  visit(join(app, 'node_modules'));
  return found;
}

function newApp(root: string, name: string): string {
  const app = join(root, name);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name, version: '1.0.0', private: true }, null, 2)}\n`);
  return app;
}

describe.skipIf(!ENABLED)(`the packed package on the ${LINE}.x line (api ${API_VERSION}, node ${process.version})`, () => {
  const db = new TestDatabase();
  let root: string;
  let tarball: string;
  let app: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), `otel-blackbox-published-${LINE}-`));
    expect(existsSync(join(REPO, 'dist/esm/index.js')), 'dist/ is built (npm test builds first)').toBe(true);
    const packed = await run('npm', ['pack', '--pack-destination', root], REPO);
    expect(packed.code, `npm pack failed:\n${packed.output}`).toBe(0);
    tarball = join(root, readdirSync(root).find((name) => name.endsWith('.tgz'))!);
  }, INSTALL_TIMEOUT);
  afterAll(async () => {
    await db.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test('a plain npm install next to NodeSDK succeeds, npm ls is clean, one copy of api and of core', async () => {
    app = newApp(root, 'app');
    const installed = await run('npm', ['install', tarball, ...APP_DEPENDENCIES], app);
    transcript(`npm install otel-blackbox.tgz ${APP_DEPENDENCIES.join(' ')}`, installed);
    expect(installed.code, `npm install failed:\n${lastLines(installed.output, 40)}`).toBe(0);
    const listed = await run('npm', ['ls', '--all'], app);
    expect(listed.code, `npm ls reports problems:\n${lastLines(listed.output, 40)}`).toBe(0);
    expect(copiesOf(app, '@opentelemetry/api'), 'copies of @opentelemetry/api').toHaveLength(1);
    expect(copiesOf(app, '@opentelemetry/core'), 'copies of @opentelemetry/core').toHaveLength(1);
    expect(copiesOf(app, 'otel-blackbox')).toHaveLength(1);
    // Every binary the build made (linux-x64; linux-arm64 with the cross compiler) is in the package.
    const built = ['linux-x64', 'linux-arm64'].map((platform) => `prebuilds/${platform}/node.napi.glibc.node`).filter((path) => existsSync(join(REPO, path)));
    expect(built.filter((path) => !existsSync(join(app, 'node_modules', 'otel-blackbox', path)))).toEqual([]);
  }, INSTALL_TIMEOUT);

  test.each([
    { format: 'CommonJS, node -r', preload: ['-r', 'tracing.cjs'], service: 'crash-demo/service.cjs' },
    { format: 'ESM, node --import', preload: ['--import', 'tracing.mjs'], service: 'service.mjs' },
  ])('a NodeSDK app ($format) with http and pg instrumentation, SIGKILLed mid-request and restarted, leaves its rows', async ({ format, preload, service }) => {
    expect(app, 'the install test ran first').toBeDefined();
    mkdirSync(join(app, 'crash-demo'), { recursive: true });
    copyFileSync(join(REPO, 'examples/tracing.cjs'), join(app, 'tracing.cjs'));
    copyFileSync(join(REPO, 'examples/crash-demo/service.cjs'), join(app, 'crash-demo/service.cjs'));
    for (const file of ['tracing.mjs', 'service.mjs']) copyFileSync(join(APP_FILES, file), join(app, file));

    const schema = await db.freshSchema(`published_${LINE}_${format.startsWith('ESM') ? 'esm' : 'cjs'}`);
    const serviceName = `published-${LINE}-${format.startsWith('ESM') ? 'esm' : 'cjs'}`;
    const env = {
      DATABASE_URL: db.url,
      OTEL_BLACKBOX_SCHEMA: schema,
      OTEL_BLACKBOX_JOURNAL_DIR: join(app, `journal-${serviceName}`),
      OTEL_SERVICE_NAME: serviceName,
    };
    const nodeArgs = [preload[0]!, join(app, preload[1]!)];
    const crashed = runFixture(join(app, service), { ...env, DEMO_MODE: 'crash' }, nodeArgs);
    const death = await crashed.exited;
    expect(death.signal, `the service should die by SIGKILL mid-request; stderr:\n${death.stderr}`).toBe('SIGKILL');
    const restarted = runFixture(join(app, service), { ...env, DEMO_MODE: 'restart' }, nodeArgs);
    const stop = await restarted.exited;
    expect(stop, `the restarted service should stop cleanly; stderr:\n${stop.stderr}`).toMatchObject({ code: 0, signal: null });

    const rows = await db.query<{ name: string; state: string; kind: string; scope_name: string }>(
      `SELECT name, state, kind, scope_name FROM "${schema}".spans WHERE service_name = $1`,
      [serviceName],
    );
    const named = (name: string, state: string) => rows.filter((row) => row.name === name && row.state === state).length;
    expect(named('load cart', 'ended'), JSON.stringify(rows)).toBe(4);
    expect(named('charge card', 'crashed')).toBe(1);
    expect(named('call payment gateway', 'crashed')).toBe(1);
    const http = rows.filter((row) => row.scope_name === '@opentelemetry/instrumentation-http' && row.kind === 'SERVER');
    expect(http.filter((row) => row.state === 'ended'), 'ended HTTP server spans').toHaveLength(4);
    expect(http.filter((row) => row.state === 'crashed'), 'the HTTP request in flight, as a crash record').toHaveLength(1);
    // One query per cart; the exporter's own statements are never traced.
    const queries = rows.filter((row) => row.scope_name === '@opentelemetry/instrumentation-pg' && row.kind === 'CLIENT' && !row.name.includes('connect'));
    expect(queries, 'pg query spans').toHaveLength(4);
  }, INSTALL_TIMEOUT);

  test('a strict TypeScript consumer (skipLibCheck off) compiles, as ESM and as CommonJS', async () => {
    expect(app, 'the install test ran first').toBeDefined();
    for (const file of ['consumer.mts', 'consumer.cts', 'tsconfig.json']) copyFileSync(join(APP_FILES, file), join(app, file));
    const installed = await run('npm', ['install', ...TYPESCRIPT], app);
    transcript(`npm install ${TYPESCRIPT.join(' ')}`, installed);
    expect(installed.code, `npm install failed:\n${lastLines(installed.output, 40)}`).toBe(0);
    const compiled = await run(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], app);
    expect(compiled.output.trim(), 'tsc output').toBe('');
    expect(compiled.code).toBe(0);
  }, INSTALL_TIMEOUT);

  test('a traces-only TypeScript consumer, without @opentelemetry/sdk-logs installed, compiles (skipLibCheck off)', async () => {
    const tracesOnly = newApp(root, 'traces-only');
    const line = LINE === 3 ? ['@opentelemetry/api@latest', '@opentelemetry/sdk-trace@3'] : ['@opentelemetry/api@1.9', '@opentelemetry/sdk-trace@~2.12'];
    const installed = await run('npm', ['install', tarball, ...line, ...TYPESCRIPT], tracesOnly);
    transcript(`npm install otel-blackbox.tgz ${[...line, ...TYPESCRIPT].join(' ')}`, installed);
    expect(installed.code, `npm install failed:\n${lastLines(installed.output, 40)}`).toBe(0);
    expect(existsSync(join(tracesOnly, 'node_modules/@opentelemetry/sdk-logs')), 'sdk-logs installed').toBe(false);
    for (const file of ['tracesOnly.mts', 'tsconfig.json', 'tsconfig.tracesOnly.json']) copyFileSync(join(APP_FILES, file), join(tracesOnly, file));
    const compiled = await run(process.execPath, [join(tracesOnly, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.tracesOnly.json'], tracesOnly);
    expect(compiled.output.trim(), 'tsc output').toBe('');
    expect(compiled.code).toBe(0);
  }, INSTALL_TIMEOUT);

  test("pnpm links us to the app's own line of core and resources, not the newest in our range", async () => {
    // pnpm (and Yarn) take the newest version in a dependency's range: a 2.x app got core and
    // resources 3.1 for us (a second copy, wanting Node >= 22.15 and api 1.10; a strict
    // TypeScript consumer failed). As peers too, they are the app's own.
    const pnpmApp = newApp(root, 'pnpm-app');
    // pnpm >= 11 fails an install whose dependencies have build scripts it was not told to
    // run or skip: sdk-node's protobufjs has one, whoever else is installed.
    const installed = await run('npx', ['--yes', PNPM, 'add', '--config.strict-dep-builds=false', tarball, ...APP_DEPENDENCIES], pnpmApp);
    transcript(`${PNPM} add otel-blackbox.tgz ${APP_DEPENDENCIES.join(' ')}`, installed);
    expect(installed.code, `pnpm add failed:\n${lastLines(installed.output, 40)}`).toBe(0);
    const store = join(pnpmApp, 'node_modules/.pnpm');
    const ours = readdirSync(store).filter((name) => name.startsWith('otel-blackbox@'));
    expect(ours, 'otel-blackbox in the pnpm store').toHaveLength(1);
    for (const name of ['core', 'resources']) {
      const linked = realpathSync(join(store, ours[0]!, 'node_modules/@opentelemetry', name));
      const version: string = JSON.parse(readFileSync(join(linked, 'package.json'), 'utf8')).version;
      expect(version, `@opentelemetry/${name} as otel-blackbox sees it`).toMatch(LINE === 3 ? /^3\./ : /^2\./);
    }
    // (The app's own packages may still hold two patch releases of core between them:
    // sdk-node pins one exactly, instrumentations take the newest of their line.)
    const cores = readdirSync(store).filter((name) => name.startsWith('@opentelemetry+core@3.'));
    if (LINE === 2) expect(cores, 'core of the 3.x line in a 2.x app').toEqual([]);
  }, INSTALL_TIMEOUT);

  test.skipIf(LINE !== 3)('an app of the 2.x line with us, upgraded to the 3.x line, keeps one copy of api and of core', async () => {
    const upgraded = newApp(root, 'upgraded');
    const first = await run('npm', ['install', tarball, '@opentelemetry/sdk-node@0.223', '@opentelemetry/api@1.9'], upgraded);
    transcript('2.x app: npm install otel-blackbox.tgz @opentelemetry/sdk-node@0.223 @opentelemetry/api@1.9', first);
    expect(first.code, `npm install failed:\n${lastLines(first.output, 40)}`).toBe(0);
    expect(copiesOf(upgraded, '@opentelemetry/core'), 'copies of core on the 2.x line').toHaveLength(1);
    const second = await run('npm', ['install', '@opentelemetry/sdk-node@latest', '@opentelemetry/api@latest'], upgraded);
    transcript('upgrade: npm install @opentelemetry/sdk-node@latest @opentelemetry/api@latest', second);
    expect(second.code, `npm install failed:\n${lastLines(second.output, 40)}`).toBe(0);
    const listed = await run('npm', ['ls', '--all'], upgraded);
    expect(listed.code, `npm ls reports problems:\n${lastLines(listed.output, 40)}`).toBe(0);
    const api = copiesOf(upgraded, '@opentelemetry/api');
    const core = copiesOf(upgraded, '@opentelemetry/core');
    expect(api, 'copies of api after the upgrade').toHaveLength(1);
    expect(api[0]).toMatch(/^1\.10\./);
    expect(core, 'copies of core after the upgrade').toHaveLength(1);
    expect(core[0]).toMatch(/^3\./);
  }, INSTALL_TIMEOUT);
});
