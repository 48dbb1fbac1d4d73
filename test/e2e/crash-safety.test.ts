import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eachLimited, expectConsistent } from '../support/consistency.ts';
import { WriteLoad, type DocState, type Version } from '../support/crash-writers.ts';
import { getJson, putJson } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

const WRITERS = 6;
const DOCS_PER_WRITER = 25;
const ACKS_BEFORE_KILL = 300;
const MAX_OPS_PER_WRITER = 5_000;
const KILLS = 2;

interface Leaf {
  _id: string;
  _rev: string;
  _deleted?: boolean;
  _revisions: { start: number; ids: string[] };
  n?: number;
}

const generation = (rev: string) => Number(rev.split('-')[0]);
const digest = (rev: string) => rev.slice(rev.indexOf('-') + 1);
const sameVersion = (leaf: Leaf, v: Version) => leaf.n === v.n && (leaf._deleted === true) === v.deleted;

/**
 * What a document may look like after a crash: its last acknowledged version, or the one write that was in
 * flight, stored as the direct child of the acknowledged revision. Returns which of the two it is.
 */
function judge(doc: DocState, status: number, leaves: Leaf[] | undefined): 'acked' | 'pending' | 'absent' | string {
  if (status === 404) return doc.acked === undefined ? 'absent' : `acknowledged ${doc.acked.rev} is gone`;
  if (status !== 200 || !leaves) return `unexpected status ${status}`;
  if (leaves.length !== 1) return `expected one leaf, got ${JSON.stringify(leaves)}`;
  const leaf = leaves[0]!;
  if (doc.acked && leaf._rev === doc.acked.rev && sameVersion(leaf, doc.acked)) return 'acked';
  if (doc.pending && sameVersion(leaf, doc.pending)) {
    const parentOk = doc.acked
      ? leaf._revisions.start === generation(doc.acked.rev) + 1 && leaf._revisions.ids[1] === digest(doc.acked.rev)
      : leaf._revisions.start === 1;
    if (parentOk) return 'pending';
  }
  return `found ${JSON.stringify(leaf)}; acknowledged ${JSON.stringify(doc.acked)}, in flight ${JSON.stringify(doc.pending)}`;
}

/** Checks every tracked document against what was acknowledged, and makes the found state the new baseline. */
async function verifyDocuments(server: TestServer, load: WriteLoad): Promise<{ acked: DocState[]; pendingLanded: number }> {
  const problems: string[] = [];
  const acked: DocState[] = [];
  let pendingLanded = 0;
  await eachLimited([...load.docs.values()], 6, async (doc) => {
    const res = await getJson<Array<{ ok?: Leaf }>>(`${server.url}/db/${doc.id}?open_revs=all&revs=true`);
    const leaves = Array.isArray(res.body) ? res.body.map((r) => r.ok).filter((l): l is Leaf => l !== undefined) : undefined;
    const verdict = judge(doc, res.status, leaves);
    if (verdict === 'acked') acked.push(doc);
    else if (verdict === 'pending') pendingLanded++;
    else if (verdict !== 'absent') problems.push(`${doc.id}: ${verdict}`);
    const leaf = leaves?.[0];
    doc.acked = leaf ? { rev: leaf._rev, n: leaf.n, deleted: leaf._deleted === true } : undefined;
    doc.pending = undefined;
  });
  expect(problems).toEqual([]);
  return { acked, pendingLanded };
}

async function writeUntilKilled(server: TestServer, load: WriteLoad, round: number): Promise<void> {
  load.serverBack();
  const enough = load.acknowledgedAtLeast(ACKS_BEFORE_KILL);
  const writers = Array.from({ length: WRITERS }, (_, w) => load.run(server.url, w, round * 1000 + w + 1, MAX_OPS_PER_WRITER));
  const finished = Promise.all(writers);
  await Promise.race([enough, finished]);
  const inFlightAtKill = load.inFlight;
  load.serverDying();
  await server.stop('SIGKILL');
  await finished;
  expect(load.surprises).toEqual([]);
  expect(server.process.signalCode).toBe('SIGKILL');
  expect(inFlightAtKill).toBeGreaterThan(0);
}

describe('crash safety', () => {
  it('keeps every acknowledged write across SIGKILL and restart, and the store stays consistent and writable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'syncline-crash-'));
    const load = new WriteLoad(WRITERS, DOCS_PER_WRITER);
    let server = await startTestServer({ dir });
    try {
      for (let round = 0; round < KILLS; round++) {
        const before = load.acknowledged;
        await writeUntilKilled(server, load, round);
        expect(load.acknowledged - before).toBeGreaterThanOrEqual(ACKS_BEFORE_KILL);

        server = await startTestServer({ dir });
        const info = await getJson(`${server.url}/db/`);
        expect(info.status).toBe(200);
        expect(server.output.filter((line) => /"level":(50|60)/.test(line))).toEqual([]);

        const { acked } = await verifyDocuments(server, load);
        expect(acked.length).toBeGreaterThan(0);
        const { live, changed } = await expectConsistent(`${server.url}/db`);
        for (const doc of load.docs.values()) {
          if (doc.acked) expect({ id: doc.id, ...changed.get(doc.id) }).toEqual({ id: doc.id, rev: doc.acked.rev, deleted: doc.acked.deleted });
          else expect(changed.has(doc.id)).toBe(false);
        }
        for (const doc of load.docs.values()) expect({ id: doc.id, live: live.has(doc.id) }).toEqual({ id: doc.id, live: doc.acked?.deleted === false });
        expect([...live.keys()].filter((id) => !load.docs.has(id)).sort()).toEqual(Array.from({ length: round }, (_, r) => `after-restart-${r}`));

        for (const doc of acked) {
          const res = await putJson(`${server.url}/db/${doc.id}`, { _rev: doc.acked!.rev, after: 'restart', round });
          expect({ id: doc.id, status: res.status }).toEqual({ id: doc.id, status: 201 });
          doc.acked = { rev: res.body.rev as string, n: undefined, deleted: false };
        }
        const fresh = await putJson(`${server.url}/db/after-restart-${round}`, { round });
        expect(fresh.status).toBe(201);
        expect((await getJson(`${server.url}/db/after-restart-${round}`)).body._rev).toBe(fresh.body.rev);
      }
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
