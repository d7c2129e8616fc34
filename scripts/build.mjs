// Builds the two published shapes from one source tree: ESM for `node --import` and
// `import`, CommonJS for `node -r` and `require`. Source files avoid `import.meta` so the
// same code compiles to both.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

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
