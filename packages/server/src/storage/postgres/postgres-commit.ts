import type { BucketEvent, Cas, CommitResult, DocumentCommit, GrantRecord, PurgeOptions } from '../bucket.ts';
import { CAS_MISMATCH, distinctIdSegments, type CasState } from '../commit-state.ts';
import { lit, type PgDb, type Queryable } from './pg-db.ts';
import type { CollectionTables, SchemaNames } from './schema.ts';

interface Accepted {
  index: number;
  write: DocumentCommit;
  state: CasState;
  /** This commit inserted a placeholder metadata row to claim the id (there was none). */
  claimed: boolean;
  bodyCas: Cas | null;
}

interface StateRow {
  k: 'd' | 'm';
  id: string;
  cas: Cas | null;
  seq: number | null;
  deleted: boolean | null;
}

interface GrantRow {
  grantee: string;
  kind: 'channel' | 'role';
  item: string;
  doc_id: string;
  seq: number;
  revoked_seq: number | null;
}

/**
 * The write path of a collection. One transaction per commit batch, in segments of distinct ids, each in three
 * round trips:
 *  1. lock the existing documents and metadata rows of the segment (FOR UPDATE, in id order) and check cas;
 *  2. one statement: claim ids without metadata by inserting a placeholder metadata row (ON CONFLICT DO NOTHING:
 *     a concurrent creator wins and this write is a cas mismatch), write the bodies (the trigger stamps their
 *     cas and logs them; an insert meeting a row committed meanwhile is a cas mismatch too), and then take the
 *     sequences of the writes still on from the counters row (`UPDATE ... RETURNING`). That row lock is held
 *     until commit, so commits become visible in sequence order and a changes reader never skips one;
 *  3. build() each payload, then one statement with multi-row inputs writes metadata (with fresh cas values,
 *     above the body cas of the same commit), changes, channels, grants, live counts and the NOTIFY.
 */
export class PgCommitter {
  readonly #db: PgDb;
  readonly #collection: string;
  readonly #channel: string;
  readonly #emit: (event: BucketEvent) => void;
  readonly #sql: {
    lockStates: string;
    stage: string;
    unclaim: string;
    writeMeta: string;
    purgeState: string;
    purge: string;
    readGrants: string;
  };

  constructor(db: PgDb, n: SchemaNames, collection: string, t: CollectionTables, emit: (event: BucketEvent) => void) {
    this.#db = db;
    this.#collection = collection;
    this.#channel = n.channel;
    this.#emit = emit;
    const [docs, meta, changes, channels, grants] = [n.t(t.documents), n.t(t.meta), n.t(t.changes), n.t(t.changeChannels), n.t(t.grants)];
    this.#sql = {
      lockStates: `
        SELECT 'd' AS k, id, cas, NULL::bigint AS seq, NULL::boolean AS deleted
          FROM (SELECT id, cas FROM ${docs} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE) d
        UNION ALL
        SELECT 'm', id, cas, seq, deleted
          FROM (SELECT id, cas, seq, deleted FROM ${meta} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE) m`,
      // Claims ids without metadata (placeholder row; a concurrent creator that got there first wins and this
      // write is a cas mismatch), writes the bodies (the trigger stamps their cas and logs them), then takes the
      // sequences of the writes that are still on from the counters row: its lock is held until commit.
      stage: `
        WITH claim AS (
          INSERT INTO ${meta} (id, meta, cas, seq, deleted) SELECT unnest($1::text[]), '', 0, 0, true
          ON CONFLICT (id) DO NOTHING RETURNING id
        ), lost_claims AS (
          SELECT c.id FROM unnest($1::text[]) AS c(id) WHERE c.id NOT IN (SELECT id FROM claim)
        ), ins AS (
          INSERT INTO ${docs} (id, body)
          SELECT v.id, v.body::jsonb FROM unnest($2::text[], $3::text[]) AS v(id, body)
          WHERE v.id NOT IN (SELECT id FROM lost_claims)
          ON CONFLICT (id) DO NOTHING RETURNING id, cas
        ), upd AS (
          UPDATE ${docs} d SET body = v.body::jsonb FROM unnest($4::text[], $5::text[]) AS v(id, body)
          WHERE d.id = v.id AND v.id NOT IN (SELECT id FROM lost_claims) RETURNING d.id, d.cas
        ), del AS (
          DELETE FROM ${docs} WHERE id = ANY($6::text[]) AND id NOT IN (SELECT id FROM lost_claims) RETURNING id
        ), lost_inserts AS (
          SELECT i.id FROM unnest($2::text[]) AS i(id)
          WHERE i.id NOT IN (SELECT id FROM lost_claims) AND i.id NOT IN (SELECT id FROM ins)
        ), lost AS (
          SELECT id FROM lost_claims UNION ALL SELECT id FROM lost_inserts
        ), alloc AS (
          UPDATE ${n.t('counters')} SET seq = seq + k.n
          FROM (SELECT $7::bigint - (SELECT count(*) FROM lost) AS n) k
          WHERE id = 1 AND k.n > 0 RETURNING seq
        )
        SELECT 'b' AS k, id, cas FROM ins
        UNION ALL SELECT 'b', id, cas FROM upd
        UNION ALL SELECT 'c', id, NULL FROM lost_claims
        UNION ALL SELECT 'l', id, NULL FROM lost_inserts
        UNION ALL SELECT 's', NULL, seq FROM alloc`,
      unclaim: `DELETE FROM ${meta} WHERE id = ANY($1::text[]) AND seq = 0 AND cas = 0`,
      writeMeta: `
        WITH v AS (
          SELECT x.*, nextval(${lit(n.t('cas_seq'))}::regclass) AS cas FROM (
            SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::boolean[], $5::bigint[],
                                 $6::text[], $7::boolean[], $8::text[], $9::text[])
              WITH ORDINALITY AS v(id, meta, seq, deleted, prev_seq, rev, change_deleted, channels, removed, ord)
            ORDER BY ord
          ) x
        ), old_channels AS (
          DELETE FROM ${channels} cc USING ${changes} c
          WHERE c.seq IN (SELECT prev_seq FROM v WHERE prev_seq IS NOT NULL)
            AND cc.seq = c.seq AND cc.channel = ANY(c.channels || c.removed)
        ), old_changes AS (
          DELETE FROM ${changes} WHERE seq IN (SELECT prev_seq FROM v WHERE prev_seq IS NOT NULL)
        ), m AS (
          UPDATE ${meta} m SET meta = v.meta, cas = v.cas, seq = v.seq, deleted = v.deleted FROM v WHERE m.id = v.id
        ), c AS (
          INSERT INTO ${changes} (seq, doc_id, rev, deleted, channels, removed)
          SELECT seq, id, rev, change_deleted,
                 ARRAY(SELECT jsonb_array_elements_text(channels::jsonb)),
                 ARRAY(SELECT jsonb_array_elements_text(removed::jsonb))
          FROM v
        ), cc AS (
          INSERT INTO ${channels} (channel, seq) SELECT * FROM unnest($10::text[], $11::bigint[])
          ON CONFLICT DO NOTHING
        ), lc AS (
          UPDATE ${n.t('live_counts')} SET live = live + $12::bigint WHERE collection = $13 AND $12::bigint <> 0
        ), revoke AS (
          UPDATE ${grants} g SET revoked_seq = d.seq FROM unnest($14::text[], $15::bigint[]) AS d(doc_id, seq)
          WHERE g.doc_id = d.doc_id AND g.revoked_seq IS NULL
            AND NOT EXISTS (
              SELECT 1 FROM unnest($16::text[], $17::text[], $18::text[], $19::text[]) AS k(grantee, kind, item, doc_id)
              WHERE k.doc_id = g.doc_id AND k.grantee = g.grantee AND k.kind = g.kind AND k.item = g.item)
        ), grant_upsert AS (
          INSERT INTO ${grants} AS gr (grantee, kind, item, doc_id, seq, revoked_seq)
          SELECT DISTINCT ON (k.grantee, k.kind, k.item, k.doc_id) k.grantee, k.kind, k.item, k.doc_id, k.seq, NULL::bigint
          FROM unnest($16::text[], $17::text[], $18::text[], $19::text[], $20::bigint[]) AS k(grantee, kind, item, doc_id, seq)
          ON CONFLICT (grantee, kind, item, doc_id) DO UPDATE SET seq = excluded.seq, revoked_seq = NULL
          WHERE gr.revoked_seq IS NOT NULL
        )
        SELECT v.id, v.cas FROM v CROSS JOIN (SELECT pg_notify($21, $22)) AS notified`,
      purgeState: `
        SELECT 'd' AS k, id, cas, NULL::bigint AS seq, NULL::boolean AS deleted
          FROM (SELECT id, cas FROM ${docs} WHERE id = $1 FOR UPDATE) d
        UNION ALL
        SELECT 'm', id, cas, seq, deleted FROM (SELECT id, cas, seq, deleted FROM ${meta} WHERE id = $1 FOR UPDATE) m`,
      purge: `
        WITH g AS (
          DELETE FROM ${grants} WHERE doc_id = $1
        ), old_channels AS (
          DELETE FROM ${channels} cc USING ${changes} c
          WHERE c.seq = $2::bigint AND cc.seq = c.seq AND cc.channel = ANY(c.channels || c.removed)
        ), c AS (
          DELETE FROM ${changes} WHERE seq = $2::bigint RETURNING 1
        ), m AS (
          DELETE FROM ${meta} WHERE id = $1 RETURNING deleted
        ), d AS (
          DELETE FROM ${docs} WHERE id = $1 RETURNING 1
        ), lc AS (
          UPDATE ${n.t('live_counts')} SET live = live - 1
          WHERE collection = $3 AND EXISTS (SELECT 1 FROM m WHERE NOT m.deleted)
        )
        SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM m) + (SELECT count(*) FROM d) AS removed`,
      readGrants: `SELECT grantee, kind, item, doc_id, seq, revoked_seq FROM ${grants}
                   WHERE grantee = ANY($1::text[]) ORDER BY grantee, kind, item, doc_id`,
    };
  }

  async commit(write: DocumentCommit): Promise<CommitResult> {
    return (await this.commitMany([write]))[0] ?? CAS_MISMATCH;
  }

  async commitMany(writes: readonly DocumentCommit[]): Promise<CommitResult[]> {
    if (writes.length === 0) return [];
    const outcome = { bodies: false, seq: 0 };
    const results = await this.#db.transaction(async (tx) => {
      outcome.bodies = false;
      outcome.seq = 0;
      const results: CommitResult[] = [];
      for (const segment of distinctIdSegments(writes)) await this.#commitSegment(tx, segment, results, outcome);
      return results;
    });
    if (outcome.bodies) this.#emit({ kind: 'mutations' });
    if (outcome.seq > 0) this.#emit({ kind: 'sequence', seq: outcome.seq });
    return results;
  }

  async #commitSegment(
    tx: Queryable,
    writes: readonly DocumentCommit[],
    results: CommitResult[],
    outcome: { bodies: boolean; seq: number },
  ): Promise<void> {
    const states = await this.#lockStates(tx, writes.map((w) => w.id));
    let accepted: Accepted[] = [];
    for (const write of writes) {
      const state = states.get(write.id) ?? { bodyCas: null, metaCas: null, seq: null, live: false };
      if (state.bodyCas !== write.expectedBodyCas || state.metaCas !== write.expectedMetaCas) {
        results.push(CAS_MISMATCH);
        continue;
      }
      accepted.push({ index: results.length, write, state, claimed: false, bodyCas: write.body === null ? null : state.bodyCas });
      results.push(CAS_MISMATCH);
    }
    if (accepted.length === 0) return;

    const inserts = accepted.filter((a) => typeof a.write.body === 'string' && a.state.bodyCas === null);
    const updates = accepted.filter((a) => typeof a.write.body === 'string' && a.state.bodyCas !== null);
    const deletes = accepted.filter((a) => a.write.body === null && a.state.bodyCas !== null);
    const toClaim = accepted.filter((a) => a.state.metaCas === null);
    for (const a of toClaim) a.claimed = true;
    const { rows } = await tx.query<{ k: 'b' | 'c' | 'l' | 's'; id: string | null; cas: number | null }>(this.#sql.stage, [
      toClaim.map((a) => a.write.id),
      inserts.map((a) => a.write.id),
      inserts.map((a) => a.write.body),
      updates.map((a) => a.write.id),
      updates.map((a) => a.write.body),
      deletes.map((a) => a.write.id),
      accepted.length,
    ]);
    if (inserts.length + updates.length + deletes.length > 0) outcome.bodies = true;
    const stamped = new Map<string, Cas>();
    const lost = new Set<string>();
    const unclaim: string[] = [];
    let lastSeq: number | undefined;
    for (const row of rows) {
      if (row.k === 's') {
        lastSeq = row.cas ?? undefined;
      } else if (row.k === 'b') {
        if (row.id !== null && row.cas !== null) stamped.set(row.id, row.cas);
      } else if (row.id !== null) {
        // Lost to a concurrent writer (claim or insert): a cas mismatch for that write.
        lost.add(row.id);
        if (row.k === 'l') unclaim.push(row.id);
      }
    }
    for (const a of [...inserts, ...updates]) a.bodyCas = stamped.get(a.write.id) ?? null;
    if (lost.size > 0) {
      accepted = accepted.filter((a) => !lost.has(a.write.id));
      // The placeholder metadata rows this transaction inserted for writes whose body insert lost go away.
      const claimed = new Set(toClaim.map((a) => a.write.id));
      const ours = unclaim.filter((id) => claimed.has(id));
      if (ours.length > 0) await tx.query(this.#sql.unclaim, [ours]);
    }
    if (accepted.length === 0) return;
    if (lastSeq === undefined) throw new Error('counters row is missing');
    const firstSeq = lastSeq - accepted.length + 1;

    const ids: string[] = [];
    const metas: string[] = [];
    const seqs: number[] = [];
    const deleted: boolean[] = [];
    const prevSeqs: (number | null)[] = [];
    const revs: string[] = [];
    const changeDeleted: boolean[] = [];
    const channelLists: string[] = [];
    const removedLists: string[] = [];
    const channelNames: string[] = [];
    const channelSeqs: number[] = [];
    const grantDocs: string[] = [];
    const grantDocSeqs: number[] = [];
    const [gGrantee, gKind, gItem, gDoc, gSeq]: [string[], string[], string[], string[], number[]] = [[], [], [], [], []];
    let liveDelta = 0;
    for (const [i, a] of accepted.entries()) {
      const seq = firstSeq + i;
      const payload = a.write.build(seq);
      ids.push(a.write.id);
      metas.push(payload.meta);
      seqs.push(seq);
      deleted.push(payload.deleted);
      prevSeqs.push(a.claimed ? null : a.state.seq);
      const { rev, channels, removed } = payload.change;
      revs.push(rev);
      changeDeleted.push(payload.change.deleted);
      channelLists.push(JSON.stringify(channels));
      removedLists.push(JSON.stringify(removed));
      for (const channel of new Set([...channels, ...removed])) {
        channelNames.push(channel);
        channelSeqs.push(seq);
      }
      if (payload.grants) {
        grantDocs.push(a.write.id);
        grantDocSeqs.push(seq);
        for (const g of payload.grants) {
          gGrantee.push(g.grantee);
          gKind.push(g.kind);
          gItem.push(g.item);
          gDoc.push(a.write.id);
          gSeq.push(seq);
        }
      }
      liveDelta += Number(!payload.deleted) - Number(a.state.live);
    }
    const written = await tx.query<{ id: string; cas: Cas }>(this.#sql.writeMeta, [
      ids, metas, seqs, deleted, prevSeqs, revs, changeDeleted, channelLists, removedLists,
      channelNames, channelSeqs, liveDelta, this.#collection,
      grantDocs, grantDocSeqs, gGrantee, gKind, gItem, gDoc, gSeq,
      this.#channel, `s:${lastSeq}`,
    ]);
    const metaCas = new Map(written.rows.map((r) => [r.id, r.cas]));
    for (const [i, a] of accepted.entries()) {
      const cas = metaCas.get(a.write.id);
      if (cas === undefined) throw new Error(`metadata of ${a.write.id} was not written`);
      results[a.index] = { ok: true, seq: firstSeq + i, bodyCas: a.bodyCas, metaCas: cas };
    }
    outcome.seq = Math.max(outcome.seq, lastSeq);
  }

  /** Locks and reads the current rows of distinct ids. */
  async #lockStates(tx: Queryable, ids: readonly string[]): Promise<Map<string, CasState>> {
    const states = new Map<string, CasState>();
    const get = (id: string): CasState => {
      let state = states.get(id);
      if (!state) {
        state = { bodyCas: null, metaCas: null, seq: null, live: false };
        states.set(id, state);
      }
      return state;
    };
    for (const row of (await tx.query<StateRow>(this.#sql.lockStates, [ids])).rows) {
      const state = get(row.id);
      if (row.k === 'd') {
        state.bodyCas = row.cas;
      } else {
        state.metaCas = row.cas;
        state.seq = row.seq;
        state.live = row.deleted === false;
      }
    }
    return states;
  }

  async purge(id: string, opts: PurgeOptions = {}): Promise<boolean> {
    const removed = await this.#db.transaction(async (tx) => {
      let meta: StateRow | undefined;
      let body: StateRow | undefined;
      for (const row of (await tx.query<StateRow>(this.#sql.purgeState, [id])).rows) {
        if (row.k === 'd') body = row;
        else meta = row;
      }
      if (opts.expectedMetaCas !== undefined && (meta?.cas ?? null) !== opts.expectedMetaCas) return false;
      if (opts.expectedBodyCas !== undefined && (body?.cas ?? null) !== opts.expectedBodyCas) return false;
      if (!meta && !body) return false;
      const { rows } = await tx.query<{ removed: number }>(this.#sql.purge, [id, meta?.seq ?? null, this.#collection]);
      return (rows[0]?.removed ?? 0) > 0;
    });
    return removed;
  }

  async readGrants(grantees: readonly string[]): Promise<GrantRecord[]> {
    const rows = await this.#db.rows<GrantRow>(this.#sql.readGrants, [grantees]);
    return rows.map((r) => ({ grantee: r.grantee, kind: r.kind, item: r.item, docId: r.doc_id, seq: r.seq, revokedSeq: r.revoked_seq }));
  }
}

