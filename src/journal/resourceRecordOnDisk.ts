// A RESOURCE record read back from the segment it was written into, where the text is not
// kept in memory: by the writer for resources the application let go of (JournalResources),
// and by recovery for every resource of a dead journal (recovery/ResourcesOnDisk.ts).
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { closeSync, readSync } from 'node:fs';
import { openSync } from '../untracedFs.js';
import { decodeAttributes } from './attributeValues.js';
import { FRAME_HEADER_BYTES } from './frame.js';
import type { ResourceRecord } from './recordTypes.js';

/** Where a RESOURCE record's frame is: its segment, and its bytes in it. */
export interface ResourcePlace {
  segment: number;
  offset: number;
  end: number;
}

/** The payload (JSON text) of the frame at `place` in the segment file at `path`; throws where it cannot be read. */
export function readResourceRecordText(path: string, place: ResourcePlace): string {
  const fd = openSync(path, 'r');
  try {
    return readPayloadAt(fd, path, place);
  } finally {
    closeSync(fd);
  }
}

/** The same from a descriptor open on that file. */
export function readPayloadAt(fd: number, path: string, place: ResourcePlace): string {
  const length = place.end - place.offset - FRAME_HEADER_BYTES;
  const bytes = Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const got = readSync(fd, bytes, read, length - read, place.offset + FRAME_HEADER_BYTES + read);
    if (got === 0) throw new Error(`${path} ends before byte ${place.end}`);
    read += got;
  }
  return bytes.toString('utf8');
}

/** The resource a RESOURCE record's text describes. */
export function resourceFromRecordText(json: string): Resource {
  const record = JSON.parse(json) as ResourceRecord & { u?: unknown };
  return resourceFromAttributes(decodeAttributes(record), { schemaUrl: typeof record.u === 'string' ? record.u : undefined });
}

/** Resources kept built by a reader: a record's resource is mostly one of the last few. */
const RESOURCES_KEPT = 256;

/** A least-recently-used map of at most RESOURCES_KEPT built resources. */
export class KeptResources {
  readonly #kept = new Map<number, Resource>();

  get(id: number, build: () => Resource): Resource {
    const kept = this.#kept.get(id);
    if (kept !== undefined) {
      this.#kept.delete(id);
      this.#kept.set(id, kept);
      return kept;
    }
    const resource = build();
    this.#kept.set(id, resource);
    if (this.#kept.size > RESOURCES_KEPT) this.#kept.delete(this.#kept.keys().next().value!);
    return resource;
  }

  delete(id: number): void {
    this.#kept.delete(id);
  }
}
