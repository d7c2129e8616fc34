// Reading back a segment with a long run of damage in it (a disk that returned garbage, a
// file overwritten in part), through the chunked reader recovery and `inspect` use, against
// a segment of the same size that is all records, in the same run. Until the resync checked
// a frame's type and braces before its checksum, skipping damage cost a checksum of up to the
// rest of the chunk at every offset whose random length fit: 8 MiB of garbage took 4.4 s, 50
// MB more than ten minutes. A third file is damage crafted to pass those checks at every 16th
// byte, each offset claiming 1 MiB: until the resync refused payloads holding a byte below
// 0x20 (controlBytes.ts), 4 MiB of it took 246 s, the time growing with its square.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEGMENT_MAGIC, encodeFrame } from '../dist/esm/journal/frame.js';
import { readSegmentFile } from '../dist/esm/journal/SegmentFileReader.js';
import { fmt } from './benchSupport.mjs';

const MIB = 1024 * 1024;
const SIZE_MIB = Number(process.env.BENCH_DAMAGED_MIB ?? 32);
const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-damaged-'));
const heartbeat = encodeFrame(5, JSON.stringify({ ms: Date.now() }));
const frames = (bytes) => Buffer.concat(Array.from({ length: Math.ceil(bytes / heartbeat.length) }, () => heartbeat));

async function read(path) {
  const start = performance.now();
  let records = 0;
  let damaged = 0;
  for await (const chunk of readSegmentFile(path)) {
    records += chunk.records.length;
    for (const range of chunk.damaged) damaged += range.length;
  }
  return { seconds: (performance.now() - start) / 1000, records, damaged };
}

const intact = join(dir, 'intact.seg');
writeFileSync(intact, Buffer.concat([SEGMENT_MAGIC, frames(SIZE_MIB * MIB)]));
// Records, then the damage, then records: the reader must find the ones after it.
const damagedPath = join(dir, 'damaged.seg');
writeFileSync(damagedPath, Buffer.concat([SEGMENT_MAGIC, frames(MIB), randomBytes((SIZE_MIB - 2) * MIB), frames(MIB)]));

// A 16-byte unit: length 1 MiB + 2, a checksum that never holds, a record type, `{`, and the
// `}` that ends the claimed payload of the unit 65,536 units before.
const unit = Buffer.alloc(16, 'x');
unit.writeUInt32LE(MIB + 2, 0);
unit.write('AAAA', 4, 'latin1');
unit[8] = 4;
unit[9] = 0x7b;
unit[10] = 0x7d;
const craftedPath = join(dir, 'crafted.seg');
const units = ((SIZE_MIB - 2) * MIB) / unit.length;
writeFileSync(craftedPath, Buffer.concat([SEGMENT_MAGIC, frames(MIB), Buffer.concat(Array.from({ length: units }, () => unit)), frames(MIB)]));

const good = await read(intact);
const bad = await read(damagedPath);
const crafted = await read(craftedPath);
rmSync(dir, { recursive: true, force: true });
console.log(`damaged segment: ${SIZE_MIB} MiB read back through the chunked reader (node ${process.version})`);
console.log(`  all records      ${fmt(SIZE_MIB / good.seconds)} MiB/s  (${fmt(good.records)} records)  [baseline]`);
console.log(
  `  ${SIZE_MIB - 2} MiB of garbage ${fmt(SIZE_MIB / bad.seconds)} MiB/s  (${fmt(bad.records)} records found around ${fmt(bad.damaged / MIB, 1)} MiB skipped as damaged) = ${fmt(good.seconds / bad.seconds, 2)}x the baseline's rate`,
);
console.log(
  `  ${SIZE_MIB - 2} MiB crafted    ${fmt(SIZE_MIB / crafted.seconds)} MiB/s  (${fmt(crafted.records)} records found around ${fmt(crafted.damaged / MIB, 1)} MiB skipped as damaged; a frame-like header every 16 bytes, each claiming 1 MiB) = ${fmt(good.seconds / crafted.seconds, 2)}x the baseline's rate`,
);
