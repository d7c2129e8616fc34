// The resources a writer's records name, by the id the records carry (`r`). Each has its
// RESOURCE record's text, written into a segment before the first record there that names
// it (JournalWriter.appendNaming), and the segment it was last written into. The application's object
// is held weakly: a processor shared by providers made per tenant or per job kept every
// resource it had seen for the process's life (an attack: the heap grew from 15 to 48 MB
// over 16,000 providers). Once the application let go of one and no segment on disk holds
// its record, it is forgotten; until then a record read back that names it gets a resource
// made again from its text, a bounded number kept. Once the application let go of it, the
// text itself is not kept either where the segment it was last written into is known: it is
// read back from there when needed. Kept, it was most of what the heap grew with while the
// database was away, with a resource per job (an attack: 27 to 131 MB in 45 s, ~2.4 KB a
// span, against a flat 25 MB with the database up).
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { KeptResources, readResourceRecordText, resourceFromRecordText, type ResourcePlace } from './resourceRecordOnDisk.js';
import { recordJson, resourceRecord } from './spanRecords.js';

class ResourceSlot {
  /** The application's object while it holds it. */
  readonly held: WeakRef<Resource>;
  /** Its RESOURCE record's text; undefined once the application let go of it and `place` is known. */
  json: string | undefined;
  /** Where its RESOURCE record was last written, when that is known (appendNaming). */
  place: ResourcePlace | undefined;
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
  readonly #segmentPath: (segment: number) => string;
  /** Resources made again from their records, for records read back that name them. */
  readonly #remade = new KeptResources();
  /** Lets go of a slot's text once the application let go of its resource. */
  readonly #collected = new FinalizationRegistry<number>((id) => this.#letGoOfText(id));
  #nextId = 1;
  /** The oldest segment on disk at the last retire(): nothing to look at until it moves. */
  #retiredBelow = 0;

  /** `segmentPath`: the file of a segment of this writer, where a RESOURCE record is read back from. */
  constructor(segmentPath: (segment: number) => string) {
    this.#segmentPath = segmentPath;
  }

  /** Resources known: the application's, or remembered for records still on disk. */
  get size(): number {
    return this.#slots.size;
  }

  /** Resources whose RESOURCE record's text is kept in memory. */
  get textsKept(): number {
    let kept = 0;
    for (const slot of this.#slots.values()) if (slot.json !== undefined) kept += 1;
    return kept;
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
    this.#collected.register(resource, id);
    // Until the async attributes settle, the record holds those already known; then the
    // whole resource is journaled again under the same id (readers keep the last one).
    if (resource.asyncAttributesPending) {
      void resource.waitForAsyncAttributes?.().then(
        () => {
          slot.json = recordJson(resourceRecord(id, resource));
          // Where the first text was written is no longer where this one is.
          slot.place = undefined;
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
    return slot === undefined || slot.writtenIn === segment ? undefined : this.#textOf(slot);
  }

  json(id: number): string | undefined {
    const slot = this.#slots.get(id);
    return slot === undefined ? undefined : this.#textOf(slot);
  }

  /** Its RESOURCE record was written into `segment` (at `place`, where the caller knows it). */
  writtenIn(id: number, segment: number, place?: ResourcePlace): void {
    const slot = this.#slots.get(id);
    if (slot === undefined) return;
    slot.writtenIn = segment;
    slot.place = place;
    if (place === undefined && slot.json === undefined) slot.json = this.#textOf(slot);
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
    return this.#remade.get(id, () => {
      const json = this.#textOf(slot);
      return json === undefined ? resourceFromAttributes({}) : resourceFromRecordText(json);
    });
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
      if (slot.writtenIn < oldestSegment && slot.held.deref() === undefined) {
        this.#slots.delete(id);
        this.#remade.delete(id);
      }
    }
  }

  /**
   * These segments are about to be deleted: a text kept only there is read back first. A
   * segment can go before an older one (kept for the STARTs of spans still open), whose
   * records may name a resource last written into it: an abandoned span's crash record.
   */
  segmentsLeaving(segments: readonly number[]): void {
    const leaving = new Set(segments);
    for (const slot of this.#slots.values()) {
      if (slot.json !== undefined || slot.place === undefined || !leaving.has(slot.place.segment)) continue;
      slot.json = this.#textOf(slot);
      slot.place = undefined;
    }
  }

  #letGoOfText(id: number): void {
    const slot = this.#slots.get(id);
    if (slot?.place !== undefined) slot.json = undefined;
  }

  /** The slot's text, read back from its place where it is not kept; undefined where it cannot be read (the segment gone). */
  #textOf(slot: ResourceSlot): string | undefined {
    if (slot.json !== undefined || slot.place === undefined) return slot.json;
    try {
      return readResourceRecordText(this.#segmentPath(slot.place.segment), slot.place);
    } catch {
      return undefined;
    }
  }
}
