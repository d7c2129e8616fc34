// The directory of this compiled file, from which the package root (and its native addon) is
// found. The sources avoid import.meta so one tree compiles to both ESM and CommonJS:
// this is the CommonJS (and test runner) answer, and scripts/build.mjs replaces the ESM
// build's copy with one that reads import.meta.url.
export const moduleDirectory: string | undefined = typeof __dirname === 'string' ? __dirname : undefined;
