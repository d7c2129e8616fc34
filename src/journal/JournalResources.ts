// The resources a writer's records name, by the id the records carry (`r`). Each has its
// RESOURCE record's text, written into a segment before the first record there that names
// it (JournalWriter.appendNaming), and the segment it was last written into. The application's object
// is held weakly: a processor shared by providers made per tenant or per job kept every
// resource it had seen for the process's life (an attack: the heap grew from 15 to 48 MB
// over 16,000 providers). Once the application let go of one and no segment on disk holds
// its record, it is forgotten; until then a record read back that names it gets a resource
// made again from its text.
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { decodeAttributes } from './attributeValues.js';
import type { ResourceRecord } from './recordTypes.js';
import { recordJson, resourceRecord } from './spanRecords.js';

class ResourceSlot {
  /** The application's object while it holds it. */
  readonly held: WeakRef<Resource>;
  /** Made again from `json` once the application's object was collected (a record read back named it). */
  remade: Resource | undefined;
  json: string;
  /** The segment its RESOURCE record was last written into; 0: none yet. */
  writtenIn = 0;

  constructor(resource: Resource, json: string) {
    this.held = new WeakRef(resource);
    this.json = json;
  }
}

export class JournalResources {
  readonly #ids = new WeakMap<Resource, number>();
  readonly #slots = new Map<number, ResourceSlot>();
  #nextId = 1;
  /** The oldest segment on disk at the last retire(): nothing to look at until it moves. */
  #retiredBelow = 0;

  /** Resources known: the application's, or remembered for records still on disk. */
  get size(): number {
    return this.#slots.size;
  }

  /**
   * The id of `resource`, assigned at its first sight. `settled(id)` is called when its
   * asynchronous attributes settle, after its text was updated: journaled again then.
   */
  idFor(resource: Resource, settled: (id: number, json: string) => void): number {
    const known = this.#ids.get(resource);
    if (known !== undefined) return known;
    const id = this.#nextId++;
    this.#ids.set(resource, id);
    const slot = new ResourceSlot(resource, recordJson(resourceRecord(id, resource)));
    this.#slots.set(id, slot);
    // Until the async attributes settle, the record holds those already known; then the
    // whole resource is journaled again under the same id (readers keep the last one).
    if (resource.asyncAttributesPending) {
      void resource.waitForAsyncAttributes?.().then(
        () => {
          slot.json = recordJson(resourceRecord(id, resource));
          settled(id, slot.json);
        },
        () => {},
      );
    }
    return id;
  }

  has(id: number): boolean {
    return this.#slots.has(id);
  }

  /** The RESOURCE record's text of `id`, when `segment` does not hold it yet (none for a record that names no resource). */
  recordFor(id: number | undefined, segment: number): string | undefined {
    if (id === undefined) return undefined;
    const slot = this.#slots.get(id);
    return slot === undefined || slot.writtenIn === segment ? undefined : slot.json;
  }

  json(id: number): string | undefined {
    return this.#slots.get(id)?.json;
  }

  writtenIn(id: number, segment: number): void {
    const slot = this.#slots.get(id);
    if (slot !== undefined) slot.writtenIn = segment;
  }

  /**
   * The resource a record's id stands for: the application's own object, or once it was
   * collected, one made again from its record (an empty one for an id never assigned).
   */
  byId(id: number): Resource {
    const slot = this.#slots.get(id);
    if (slot === undefined) return resourceFromAttributes({});
    const held = slot.held.deref();
    if (held !== undefined) return held;
    slot.remade ??= remade(slot.json);
    return slot.remade;
  }

  /**
   * Forgets the resources the application let go of whose records are all in segments
   * before `oldestSegment` (deleted): no record on disk names them any more. Looks only
   * when that segment moved since the last look.
   */
  retire(oldestSegment: number): void {
    if (oldestSegment <= this.#retiredBelow) return;
    this.#retiredBelow = oldestSegment;
    for (const [id, slot] of this.#slots) {
      if (slot.writtenIn < oldestSegment && slot.held.deref() === undefined) this.#slots.delete(id);
    }
  }
}

function remade(json: string): Resource {
  const record = JSON.parse(json) as ResourceRecord & { u?: unknown };
  return resourceFromAttributes(decodeAttributes(record), { schemaUrl: typeof record.u === 'string' ? record.u : undefined });
}
