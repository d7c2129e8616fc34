#!/usr/bin/env node
'use strict';
// A reader that stops early (`otel-blackbox crashes | head -1`) closes the pipe: the rest
// of the output goes nowhere, as with other command-line tools, rather than an unhandled
// 'error' stack; the command still finishes and exits with its own status.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
    throw error;
  });
}
require('../dist/cjs/cli/main.js')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
