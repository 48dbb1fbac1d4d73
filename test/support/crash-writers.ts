/**
 * Writers for crash tests. Each writer owns its documents and has at most one request in flight, so for every
 * document the test knows the last acknowledged version and the one version that may or may not have landed
 * when the server died.
 */

export interface Version {
  /** Write counter stored in the body (absent for a tombstone made with DELETE). */
  n: number | undefined;
  deleted: boolean;
}

export interface DocState {
  id: string;
  acked: (Version & { rev: string }) | undefined;
  /** Sent but not answered: it may or may not be stored. */
  pending: Version | undefined;
}

/** Small seeded PRNG (mulberry32), so a failing run can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Write {
  doc: DocState;
  version: Version;
  body: Record<string, unknown>;
}

export class WriteLoad {
  readonly docs = new Map<string, DocState>();
  acknowledged = 0;
  inFlight = 0;
  /** Answers that were not the expected success (a bug unless the server was being killed). */
  readonly surprises: string[] = [];
  #counter = 0;
  #stopped = false;
  #dying = false;
  #threshold: { count: number; resolve: () => void } | undefined;

  constructor(
    readonly writers: number,
    readonly docsPerWriter: number,
  ) {
    for (let w = 0; w < writers; w++) {
      for (let k = 0; k < docsPerWriter; k++) {
        const id = `w${w}-doc${k}`;
        this.docs.set(id, { id, acked: undefined, pending: undefined });
      }
    }
  }

  /** Resolves once `count` more writes have been acknowledged. */
  acknowledgedAtLeast(more: number): Promise<void> {
    return new Promise((resolve) => {
      this.#threshold = { count: this.acknowledged + more, resolve };
    });
  }

  #ack(doc: DocState, version: Version, rev: string): void {
    doc.acked = { ...version, rev };
    doc.pending = undefined;
    this.acknowledged++;
    if (this.#threshold && this.acknowledged >= this.#threshold.count) this.#threshold.resolve();
  }

  #plan(doc: DocState, random: () => number): Write {
    const n = ++this.#counter;
    const deleted = doc.acked !== undefined && !doc.acked.deleted && random() < 0.1;
    const body: Record<string, unknown> = { n, pad: 'x'.repeat(Math.floor(random() * 400)) };
    if (doc.acked) body._rev = doc.acked.rev;
    if (deleted) body._deleted = true;
    return { doc, version: { n, deleted }, body };
  }

  /** Runs one writer until the server stops answering or `maxOps` writes were made. */
  async run(baseUrl: string, writer: number, seed: number, maxOps: number): Promise<void> {
    const random = prng(seed);
    const own = [...this.docs.values()].filter((d) => d.id.startsWith(`w${writer}-`));
    for (let op = 0; op < maxOps && !this.#stopped; op++) {
      const kind = random();
      const picked = new Set<DocState>();
      const count = kind < 0.5 ? 1 : 2 + Math.floor(random() * 5);
      while (picked.size < count) picked.add(own[Math.floor(random() * own.length)]!);
      const writes = [...picked].map((doc) => this.#plan(doc, random));
      const useDelete = count === 1 && writes[0]!.version.deleted && random() < 0.5;
      if (useDelete) writes[0]!.version.n = undefined;
      for (const w of writes) w.doc.pending = w.version;
      this.inFlight++;
      try {
        if (count === 1 && useDelete) await this.#delete(baseUrl, writes[0]!);
        else if (count === 1) await this.#put(baseUrl, writes[0]!);
        else await this.#bulk(baseUrl, writes);
      } catch (err) {
        if (!this.#dying) this.surprises.push(`request failed while the server was up: ${String(err)}`);
        return;
      } finally {
        this.inFlight--;
      }
    }
  }

  /** Called just before the server is killed: requests in flight may fail from now on, and no new ones start. */
  serverDying(): void {
    this.#dying = true;
    this.#stopped = true;
  }

  /** Called once the server is back: writers may run again. */
  serverBack(): void {
    this.#dying = false;
    this.#stopped = false;
  }

  async #put(baseUrl: string, w: Write): Promise<void> {
    const res = await fetch(`${baseUrl}/db/${w.doc.id}`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(w.body) });
    const body = (await res.json()) as { rev?: string };
    if (res.status === 201 && body.rev) this.#ack(w.doc, w.version, body.rev);
    else this.surprises.push(`PUT ${w.doc.id} -> ${res.status} ${JSON.stringify(body)}`);
  }

  async #delete(baseUrl: string, w: Write): Promise<void> {
    const res = await fetch(`${baseUrl}/db/${w.doc.id}?rev=${w.doc.acked!.rev}`, { method: 'DELETE' });
    const body = (await res.json()) as { rev?: string };
    if (res.status === 200 && body.rev) this.#ack(w.doc, w.version, body.rev);
    else this.surprises.push(`DELETE ${w.doc.id} -> ${res.status} ${JSON.stringify(body)}`);
  }

  async #bulk(baseUrl: string, writes: Write[]): Promise<void> {
    const docs = writes.map((w) => ({ _id: w.doc.id, ...w.body }));
    const res = await fetch(`${baseUrl}/db/_bulk_docs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ docs }) });
    const results = (await res.json()) as Array<{ id: string; rev?: string; error?: string }>;
    if (res.status !== 201 || !Array.isArray(results) || results.length !== writes.length) {
      this.surprises.push(`_bulk_docs -> ${res.status} ${JSON.stringify(results)}`);
      return;
    }
    writes.forEach((w, i) => {
      const r = results[i]!;
      if (r.id === w.doc.id && r.rev) this.#ack(w.doc, w.version, r.rev);
      else this.surprises.push(`_bulk_docs ${w.doc.id} -> ${JSON.stringify(r)}`);
    });
  }
}
