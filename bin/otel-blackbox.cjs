#!/usr/bin/env node
'use strict';
// A reader that stops early (`otel-blackbox crashes | head -1`) closes the pipe: stop
// quietly, as other command-line tools do, rather than with an unhandled 'error' stack.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
require('../dist/cjs/cli/main.js')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
