// The promise-returning file calls, made with tracing suppressed: see untracedFs.ts.
import * as fsPromises from 'node:fs/promises';
import { untracedCall } from './untracedFs.js';

export const chmod = untracedCall(fsPromises, 'chmod');
export const open = untracedCall(fsPromises, 'open');
export const readdir = untracedCall(fsPromises, 'readdir');
export const rename = untracedCall(fsPromises, 'rename');
export const rm = untracedCall(fsPromises, 'rm');
export const stat = untracedCall(fsPromises, 'stat');
export const writeFile = untracedCall(fsPromises, 'writeFile');
