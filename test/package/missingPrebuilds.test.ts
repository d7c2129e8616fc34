// A deployment that copies the package without its prebuilds/ (dist/ alone, a packager that
// drops .node files) runs on write(2), about three times the cost per span, without the
// writer's lock. On Linux x64 with glibc, where the package ships a binary, that was said
// at diag INFO, as if the platform had none: it is a warning now, naming the directory.
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { useTempDirs } from '../helpers/tempDir.js';

const REPO = join(import.meta.dirname, '../..');
const tempDir = useTempDirs();

test.runIf(process.platform === 'linux' && process.arch === 'x64')('a copy of the package without prebuilds/ warns that its linux-x64 binary is missing, and journals with write(2)', () => {
  const root = tempDir();
  const pkg = join(root, 'node_modules', 'otel-blackbox');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(REPO, 'dist'), join(pkg, 'dist'), { recursive: true });
  cpSync(join(REPO, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(REPO, 'node_modules'), join(pkg, 'node_modules'));
  writeFileSync(
    join(root, 'app.mjs'),
    `
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { JournalSpanProcessor } from ${JSON.stringify(join(pkg, 'dist/esm/index.js'))};
const lines = [];
const keep = (level) => (message) => lines.push(level + ' ' + message);
diag.setLogger({ error: keep('error'), warn: keep('warn'), info: keep('info'), debug() {}, verbose() {} }, DiagLogLevel.INFO);
const processor = new JournalSpanProcessor({ exporter: { export: (spans, done) => done({ code: 0 }), shutdown: async () => {} }, journalDir: process.env.JOURNAL_DIR, recover: false });
const path = processor.stats().journalWritePath;
await processor.shutdown();
console.log(JSON.stringify({ path, lines }));
`,
  );
  symlinkSync(join(REPO, 'node_modules', '@opentelemetry'), join(root, 'node_modules', '@opentelemetry'));
  const ran = spawnSync(process.execPath, [join(root, 'app.mjs')], { env: { ...process.env, JOURNAL_DIR: join(root, 'journal'), OTEL_BLACKBOX_JOURNAL_IO: '' }, encoding: 'utf8' });
  expect(ran.stderr).toBe('');
  const result = JSON.parse(ran.stdout.trim().split('\n').pop()!) as { path: string; lines: string[] };
  expect(result.path).toBe('write');
  expect(result.lines.filter((line) => line.startsWith('warn')).join('\n')).toMatch(
    /^warn otel-blackbox: journal .* writes with write\(2\) \(its prebuilt native addon for linux-x64 is missing from .*prebuilds \(copy the otel-blackbox package whole, prebuilds\/ included\)/m,
  );
});
