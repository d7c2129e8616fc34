// The file calls of the journal, recovery and dead letters, made with tracing suppressed
// (untraced.ts). An application that traces its file system (@opentelemetry/instrumentation-fs)
// traced ours too, and the spans of the files the journal opened while it rotated or read a
// segment were journaled and read in turn: 190,000 spans of an application came with 530,000
// of our file calls, and 58,773 were dropped when the journal opened a segment twice (a new
// user's attack). Entering the suppressed context per call, not per task: the processor is
// made before NodeSDK installs its context manager, so a context entered at construction is
// lost. Only calls that take a path are here; instrumentations leave calls on a descriptor
// alone. Each reads the module's function when called, so an instrumentation that patches
// it later still sees the suppressed context.
import * as fs from 'node:fs';
import { untraced } from './untraced.js';

export function untracedCall<M extends object, K extends keyof M>(module: M, name: K): M[K] {
  return ((...args: unknown[]) => untraced(() => (module[name] as (...args: unknown[]) => unknown)(...args))) as M[K];
}

export const chmodSync = untracedCall(fs, 'chmodSync');
export const existsSync = untracedCall(fs, 'existsSync');
export const mkdirSync = untracedCall(fs, 'mkdirSync');
export const open = untracedCall(fs, 'open');
export const openSync = untracedCall(fs, 'openSync');
export const readFileSync = untracedCall(fs, 'readFileSync');
export const readlinkSync = untracedCall(fs, 'readlinkSync');
export const rmSync = untracedCall(fs, 'rmSync');
export const statSync = untracedCall(fs, 'statSync');
export const unlink = untracedCall(fs, 'unlink');
export const unlinkSync = untracedCall(fs, 'unlinkSync');

