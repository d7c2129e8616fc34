// The resources a dead journal's records name, read from its RESOURCE records when a
// record needs one, a bounded number kept. Recovery decoded every RESOURCE record of the
// journal in its first pass and built a Resource for each, all held to the end: an
// application with a TracerProvider per job or per tenant left a journal of 19,000
// resources (81 MB), whose recovery peaked at a 245 MB heap and died at a 160 MB one, at
// every restart of the application that recovers it (an attack). The first pass now notes
// where each RESOURCE record is (ResourcePlace), a few dozen bytes each.
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { closeSync, readSync } from 'node:fs';
import { decodeAttributes } from '../journal/attributeValues.js';
import { FRAME_HEADER_BYTES } from '../journal/frame.js';
import { segmentPath } from '../journal/journalPaths.js';
import type { ResourceRecord } from '../journal/recordTypes.js';
import { safeDiag } from '../safeDiag.js';
import { openSync } from '../untracedFs.js';

/** Where a RESOURCE record's frame is: its segment, and its bytes in it. */
export interface ResourcePlace {
  segment: number;
  offset: number;
  end: number;
}

/** Resources kept built: records of one resource come together, mostly (a segment names few). */
const KEPT = 256;

export class ResourcesOnDisk {
  readonly #dir: string;
  readonly #places: ReadonlyMap<number, ResourcePlace>;
  /** Built resources by id, least recently used first (a Map keeps insertion order). */
  readonly #kept = new Map<number, Resource>();
  #unreadableSaid = false;

  constructor(dir: string, places: ReadonlyMap<number, ResourcePlace>) {
    this.#dir = dir;
    this.#places = places;
  }

  /** The resource with this id; an empty one where the journal has none (a record that names no RESOURCE record read). */
  resourceOf(id: number): Resource {
    const kept = this.#kept.get(id);
    if (kept !== undefined) {
      this.#kept.delete(id);
      this.#kept.set(id, kept);
      return kept;
    }
    const resource = this.#read(id);
    this.#kept.set(id, resource);
    if (this.#kept.size > KEPT) this.#kept.delete(this.#kept.keys().next().value!);
    return resource;
  }

  #read(id: number): Resource {
    const place = this.#places.get(id);
    if (place === undefined) return resourceFromAttributes({});
    try {
      const record = JSON.parse(readPayload(segmentPath(this.#dir, place.segment), place)) as ResourceRecord & { u?: unknown };
      return resourceFromAttributes(decodeAttributes(record), { schemaUrl: typeof record.u === 'string' ? record.u : undefined });
    } catch (error) {
      // Read and checked in the first pass: only a segment removed or changed since can fail.
      if (!this.#unreadableSaid) safeDiag.error(`otel-blackbox: a resource record in ${this.#dir} could not be read again (${(error as Error)?.message ?? error}); its spans are recovered without their resource`);
      this.#unreadableSaid = true;
      return resourceFromAttributes({});
    }
  }
}

/** The payload of the frame at `place`, read with one pread (a page cache hit, mostly). */
function readPayload(path: string, place: ResourcePlace): string {
  const length = place.end - place.offset - FRAME_HEADER_BYTES;
  const bytes = Buffer.allocUnsafe(length);
  const fd = openSync(path, 'r');
  try {
    let read = 0;
    while (read < length) {
      const got = readSync(fd, bytes, read, length - read, place.offset + FRAME_HEADER_BYTES + read);
      if (got === 0) throw new Error(`${path} ends before byte ${place.end}`);
      read += got;
    }
  } finally {
    closeSync(fd);
  }
  return bytes.toString('utf8');
}
