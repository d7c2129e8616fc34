// `npx otel-blackbox <command>`: returns an exit code instead of calling process.exit, so
// output is flushed and the commands are testable in-process.
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { EXIT, UsageError, processIo } from './cliSupport.js';
import type { CommandIo } from './cliSupport.js';
import { crashesCommand } from './commands/crashesCommand.js';
import { inspectCommand } from './commands/inspectCommand.js';
import { migrateCommand } from './commands/migrateCommand.js';
import { pruneCommand } from './commands/pruneCommand.js';
import { recoverCommand } from './commands/recoverCommand.js';
import { uiCommand } from './commands/uiCommand.js';
import { packageVersion } from '../packageRoot.js';
import { jsonLine, printable, printableLines } from './terminalText.js';

const COMMANDS: Record<string, (args: string[], io: CommandIo) => Promise<number>> = {
  migrate: migrateCommand,
  recover: recoverCommand,
  inspect: inspectCommand,
  crashes: crashesCommand,
  ui: uiCommand,
  prune: pruneCommand,
};

export const mainHelp = `Usage: otel-blackbox <command> [options]

Commands:
  migrate    create or upgrade the PostgreSQL schema
  recover    recover the journals of dead processes into PostgreSQL now
  inspect    print a journal segment's records as JSON lines
  crashes    list recent crash records from PostgreSQL
  ui         serve a read-only trace viewer in the browser
  prune      remove traces, log records and dead letters older than an age

Run 'otel-blackbox <command> --help' (or 'otel-blackbox help <command>') for a command's
options, 'otel-blackbox --version' for the installed version.
Exit status: 0 success, 1 failure, 2 usage error, 3 damaged journal (inspect).`;

export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  // `help recover` is `recover --help`, as git and npm read it.
  if (argv[0] === 'help' && argv.length > 1) return main([argv[1]!, '--help'], io);
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    (command === undefined ? io.err : io.out)(mainHelp);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === '--version' || command === '-V') {
    io.out(packageVersion() ?? 'unknown (the otel-blackbox package.json was not found)');
    return EXIT.ok;
  }
  const run = COMMANDS[command];
  if (!run) {
    io.err(`otel-blackbox: unknown command ${jsonLine(command)}\n\n${mainHelp}`);
    return EXIT.usage;
  }
  // The library's own lines (a journal left alone, and why; damaged bytes skipped) reach the
  // operator: the command line set no diag logger, and they were lost (an operator review).
  diag.setLogger(diagToStderr(io), { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  try {
    return await run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      // About the command line the operator typed: its line breaks are its own (parseArgs'
      // messages span lines), and each line is still escaped (an argument may hold anything).
      io.err(`otel-blackbox ${command}: ${printableLines(error.message)}\nRun 'otel-blackbox ${command} --help' for usage.`);
      return EXIT.usage;
    }
    io.err(`otel-blackbox ${command}: ${printable((error as Error).message)}`);
    return EXIT.failed;
  } finally {
    diag.disable();
  }
}

function diagToStderr(io: CommandIo): DiagLogger {
  const line = (message: string, ...args: unknown[]): void => io.err(printable([message, ...args.map((arg) => (arg instanceof Error ? arg.message : String(arg)))].join(' ')));
  const ignore = (): void => {};
  return { error: line, warn: line, info: ignore, debug: ignore, verbose: ignore };
}
