// The resources a dead journal's records name, read from its RESOURCE records when a
// record needs one, a bounded number kept. Recovery decoded every RESOURCE record of the
// journal in its first pass and built a Resource for each, all held to the end: an
// application with a TracerProvider per job or per tenant left a journal of 19,000
// resources (81 MB), whose recovery peaked at a 245 MB heap and died at a 160 MB one, at
// every restart of the application that recovers it (an attack). The first pass now notes
// where each RESOURCE record is (ResourcePlace), a few dozen bytes each.
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { closeSync } from 'node:fs';
import { segmentPath } from '../journal/journalPaths.js';
import { KeptResources, readPayloadAt, resourceFromRecordText, type ResourcePlace } from '../journal/resourceRecordOnDisk.js';
import { safeDiag } from '../safeDiag.js';
import { openSync } from '../untracedFs.js';

export type { ResourcePlace };

export class ResourcesOnDisk {
  readonly #dir: string;
  readonly #places: ReadonlyMap<number, ResourcePlace>;
  readonly #kept = new KeptResources();
  /** The segment last read from, open: records that cycle through more resources than are kept read one after another (a review: 17.5 µs a lookup with an open and a close each). */
  #open: { segment: number; fd: number } | undefined;
  #unreadableSaid = false;

  constructor(dir: string, places: ReadonlyMap<number, ResourcePlace>) {
    this.#dir = dir;
    this.#places = places;
  }

  /** The resource with this id; an empty one where the journal has none (a record that names no RESOURCE record read). */
  resourceOf(id: number): Resource {
    return this.#kept.get(id, () => this.#read(id));
  }

  #read(id: number): Resource {
    const place = this.#places.get(id);
    if (place === undefined) return resourceFromAttributes({});
    const path = segmentPath(this.#dir, place.segment);
    try {
      if (this.#open?.segment !== place.segment) {
        this.close();
        this.#open = { segment: place.segment, fd: openSync(path, 'r') };
      }
      return resourceFromRecordText(readPayloadAt(this.#open.fd, path, place));
    } catch (error) {
      // Read and checked in the first pass: only a segment removed or changed since can fail.
      if (!this.#unreadableSaid) safeDiag.error(`otel-blackbox: a resource record in ${this.#dir} could not be read again (${(error as Error)?.message ?? error}); its spans are recovered without their resource`);
      this.#unreadableSaid = true;
      return resourceFromAttributes({});
    }
  }

  /** Closes the segment left open; reading again opens it again. */
  close(): void {
    if (this.#open === undefined) return;
    try {
      closeSync(this.#open.fd);
    } catch {
      // Nothing to do: it was only read.
    }
    this.#open = undefined;
  }
}
