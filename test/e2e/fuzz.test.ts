import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eachLimited, expectConsistent } from '../support/consistency.ts';
import { isCouchError } from '../support/couch-error.ts';
import { fuzzRequest, serverSegments, type FuzzRequest } from '../support/fuzz-requests.ts';
import { REV_TOKEN } from '../support/fuzz-tokens.ts';
import { getJson } from '../support/rest.ts';
import { startTestServer, type TestServer } from '../support/server-process.ts';

const RUNS = 75;
const BATCH = 40;
const CONCURRENCY = 6;
const SEED = Number(process.env.FUZZ_SEED ?? 20_240_611);
const REV_PLACEHOLDER = new RegExp(`${REV_TOKEN}(?::([\\w/]+))?`, 'g');

/** Keeps the changes feed from waiting: a short timeout, first in the query and in any JSON object body. */
function boundChangesFeed(path: string, body: FuzzRequest['body']): { path: string; body: FuzzRequest['body'] } {
  if (!serverSegments(path).includes('_changes')) return { path, body };
  const q = path.indexOf('?');
  const bounded = q === -1 ? `${path}?timeout=20` : `${path.slice(0, q)}?timeout=20&${path.slice(q + 1)}`;
  if (typeof body !== 'string') return { path: bounded, body };
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return { path: bounded, body: JSON.stringify({ ...parsed, timeout: 20 }) };
  } catch {
    // not JSON: sent as it is
  }
  return { path: bounded, body };
}

/** Sends fuzz requests, remembering the revisions the server hands out so later requests can build on them. */
class Fuzzer {
  readonly revs: string[] = ['1-abc'];
  readonly latest = new Map<string, string>();
  sent = 0;

  constructor(private readonly server: TestServer) {}

  #substitute(text: string, index: number): string {
    return text.replace(REV_PLACEHOLDER, (_token, id: string | undefined) => {
      const latest = id !== undefined && index % 5 !== 0 ? this.latest.get(id) : undefined;
      return latest ?? this.revs[index % this.revs.length]!;
    });
  }

  #learnRevs(text: string): void {
    for (const match of text.matchAll(/"_?id":"([^"]*)","_?rev":"(\d+-[0-9a-f]+)"/g)) {
      this.latest.set(match[1]!, match[2]!);
      if (this.revs.length < 500) this.revs.push(match[2]!);
      else this.revs[this.sent % this.revs.length] = match[2]!;
    }
  }

  /** Sends one request and checks what every response must be: below 500, and a CouchDB error body when it fails. */
  async check(req: FuzzRequest): Promise<void> {
    const base = req.admin ? this.server.adminUrl : this.server.url;
    const rawBody = typeof req.body === 'string' ? this.#substitute(req.body, req.revIndex) : req.body;
    const { path, body } = boundChangesFeed(this.#substitute(req.path, req.revIndex), rawBody);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, this.#substitute(v, req.revIndex)]));
    const shown = typeof body === 'string' ? body.slice(0, 400) : body === undefined ? '' : `<${body.length} bytes>`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${base}${path}`, { method: req.method, headers, ...(body !== undefined ? { body } : {}) });
      text = await res.text();
    } catch (err) {
      const { exitCode, signalCode } = this.server.process;
      throw new Error(
        `no answer (${String(err)}; server exit ${exitCode}, signal ${signalCode}) to ${req.admin ? 'admin' : 'public'} ${req.method} ${path} ${shown}\n` +
          `server output:\n${this.server.output.slice(-10).join('\n').slice(0, 8000)}`,
      );
    }
    this.sent++;
    this.#learnRevs(text);

    const context = () =>
      `${req.admin ? 'admin' : 'public'} ${req.method} ${path} ${JSON.stringify(headers)} ${shown}\n-> ${res.status} ${text.slice(0, 400)}\n` +
      `server output:\n${this.server.output.slice(-3).join('\n').slice(0, 4000)}`;
    // 503 "already in progress" is Sync Gateway's answer to a second compaction or resync: busy, not broken.
    const busy = res.status === 503 && /already in progress/.test(text);
    if (res.status >= 500 && !busy) throw new Error(`server error for ${context()}`);
    if (res.status < 400 || req.method === 'HEAD') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`error response is not JSON for ${context()}`);
    }
    if (!isCouchError(parsed)) throw new Error(`error response lacks a string error and reason for ${context()}`);
  }
}

describe('random requests', () => {
  it('never get a 5xx, always get a CouchDB error body on failure, and leave the database consistent', async () => {
    await using server = await startTestServer({ databases: { db: { max_document_size: 4000, max_attachment_size: 4000 } } });
    const fuzzer = new Fuzzer(server);

    await fc.assert(
      fc.asyncProperty(fc.array(fuzzRequest, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        await eachLimited(batch, CONCURRENCY, (req) => fuzzer.check(req));
        expect(server.process.exitCode).toBeNull();
        expect(server.process.signalCode).toBeNull();
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );

    expect(fuzzer.sent).toBe(RUNS * BATCH);
    expect((await getJson(`${server.url}/`)).status).toBe(200);
    const { live } = await expectConsistent(`${server.adminUrl}/db`, CONCURRENCY);
    expect(live.size).toBeGreaterThan(0);
  });
});
