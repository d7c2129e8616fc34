// An application bundled with its dependencies, as services deployed with esbuild, webpack,
// ncc or Next.js are. esbuild's default output for Node is CommonJS, where `import.meta`
// is empty: our ESM build read import.meta.url at load, and the bundle died before any of
// the application's code ran. Bundled, the addon's package directory cannot be found: the
// journal writes with write(2), and says so as a warning, with what to do.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { expect, test } from 'vitest';
import { useTempDirs } from '../helpers/tempDir.js';

const REPO = join(import.meta.dirname, '../..');
const tempDir = useTempDirs();

const APP = `
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { JournalSpanProcessor } from ${JSON.stringify(join(REPO, 'dist/esm/index.js'))};

async function main() {
  const lines = [];
  const keep = (level) => (message) => lines.push(level + ' ' + message);
  diag.setLogger({ error: keep('error'), warn: keep('warn'), info: keep('info'), debug() {}, verbose() {} }, DiagLogLevel.WARN);
  const exporter = { export: (spans, done) => done({ code: 0 }), shutdown: async () => {} };
  const processor = new JournalSpanProcessor({ exporter, journalDir: process.env.JOURNAL_DIR, recover: false });
  const provider = new TracerProvider({ spanProcessors: [processor] });
  provider.getTracer('bundled').startSpan('work').end();
  await provider.forceFlush();
  const stats = processor.stats();
  await provider.shutdown();
  console.log(JSON.stringify({ path: stats.journalWritePath, exported: stats.spansExported, lines }));
}
main();
`;

test.each([
  { format: 'cjs' as const, banner: '' },
  // OpenTelemetry's own modules require() Node's: an ESM bundle for Node needs this banner.
  { format: 'esm' as const, banner: "import { createRequire as bannerRequire } from 'node:module'; const require = bannerRequire(import.meta.url);" },
])('an application bundled by esbuild ($format) starts, journals with write(2), and warns what to do', async ({ format, banner }) => {
  const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-bundle-'));
  writeFileSync(join(dir, 'app.mjs'), APP);
  const outfile = join(dir, format === 'esm' ? 'app.bundle.mjs' : 'app.bundle.cjs');
  // Outside the checkout, as a deployed bundle is: its dependencies come from ours.
  await build({ entryPoints: [join(dir, 'app.mjs')], bundle: true, platform: 'node', format, outfile, banner: { js: banner }, nodePaths: [join(REPO, 'node_modules')], logLevel: 'silent' });

  const ran = spawnSync(process.execPath, [outfile], { env: { ...process.env, JOURNAL_DIR: join(tempDir(), 'journal') }, encoding: 'utf8' });
  expect(ran.stderr).toBe('');
  expect(ran.status).toBe(0);
  const result = JSON.parse(ran.stdout.trim().split('\n').pop()!) as { path: string; exported: number; lines: string[] };
  expect(result).toMatchObject({ path: 'write', exported: 1 });
  expect(result.lines.filter((line) => line.startsWith('warn')).join('\n')).toMatch(/write\(2\).*bundl.*external/s);
}, 60_000);
