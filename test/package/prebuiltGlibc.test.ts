// The prebuilt addon loads wherever the official Node binaries run. Those need glibc 2.28
// (Node 20 to 26: RHEL/UBI 8, Debian 11 and Ubuntu 20.04 run them); a binary linked on a
// newer build host asked for 2.34 (pthread_once) and 2.33 (fstat), so on those hosts it would
// not load, and the journal would fall back to write(2) at about three times the cost.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';

const binary = (platform: string) => join(import.meta.dirname, `../../prebuilds/${platform}/node.napi.glibc.node`);
// The official Node binaries for linux-x64 and linux-arm64 alike.
const OFFICIAL_NODE_GLIBC = [2, 28];

// Built where a C toolchain is (npm run build says so; arm64 with the cross compiler); elsewhere there is no binary to check.
test.runIf(existsSync(binary('linux-x64')))('the prebuilt linux-x64 addon asks for no glibc symbol newer than the official Node binaries need (2.28)', () => {
  expectNoGlibcNewerThanNodes(binary('linux-x64'));
});

test.runIf(existsSync(binary('linux-arm64')))('the prebuilt linux-arm64 addon asks for no glibc symbol newer than the official Node binaries need (2.28)', () => {
  expectNoGlibcNewerThanNodes(binary('linux-arm64'));
});

function expectNoGlibcNewerThanNodes(binary: string): void {
  // The version names a shared object needs are strings in its dynamic string table.
  const versions = [...new Set(readFileSync(binary).toString('latin1').match(/GLIBC_2\.\d+(\.\d+)?/g) ?? [])];
  expect(versions.length).toBeGreaterThan(0);
  const tooNew = versions.filter((name) => {
    const [major, minor] = name.slice('GLIBC_'.length).split('.').map(Number);
    return major! > OFFICIAL_NODE_GLIBC[0]! || (major === OFFICIAL_NODE_GLIBC[0] && minor! > OFFICIAL_NODE_GLIBC[1]!);
  });
  expect(tooNew).toEqual([]);
}
