import http from 'node:http';

export interface HttpResponse {
  status: number;
  text: string;
}

/** Minimal keep-alive JSON client over node:http (less overhead per request than fetch). */
export class HttpClient {
  readonly baseUrl: string;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  readonly #headers: Record<string, string>;

  /** `basicAuth` sends `Authorization: Basic` with every request. */
  constructor(baseUrl: string, options: { basicAuth?: { name: string; password: string } } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    const auth = options.basicAuth;
    this.#headers = auth ? { authorization: `Basic ${Buffer.from(`${auth.name}:${auth.password}`).toString('base64')}` } : {};
  }

  request(method: string, path: string, body?: string): Promise<HttpResponse> {
    const headers: Record<string, string | number> = { accept: 'application/json', ...this.#headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    return new Promise((resolve, reject) => {
      const req = http.request(this.baseUrl + path, { method, headers, agent: this.#agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<{ status: number; data: T }> {
    const res = await this.request(method, path, body === undefined ? undefined : JSON.stringify(body));
    let data: T;
    try {
      data = JSON.parse(res.text) as T;
    } catch {
      throw new Error(`${method} ${path}: HTTP ${res.status}, not JSON: ${res.text.slice(0, 200)}`);
    }
    return { status: res.status, data };
  }

  close(): void {
    this.#agent.destroy();
  }
}

export function describeFailure(method: string, path: string, res: HttpResponse): Error {
  return new Error(`${method} ${path}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
}

/** Creates the database if missing; returns how many documents it holds. */
export async function ensureDatabase(client: HttpClient, db: string): Promise<number> {
  let res = await client.request('GET', `/${db}/`);
  if (res.status === 404) {
    const created = await client.request('PUT', `/${db}`);
    if (created.status !== 201 && created.status !== 412) throw describeFailure('PUT', `/${db}`, created);
    res = await client.request('GET', `/${db}/`);
  }
  if (res.status !== 200) throw describeFailure('GET', `/${db}/`, res);
  const info = JSON.parse(res.text) as { doc_count?: unknown };
  return typeof info.doc_count === 'number' ? info.doc_count : 0;
}

interface BulkResult {
  id?: string;
  ok?: boolean;
  error?: string;
  reason?: string;
}

/** POSTs one `_bulk_docs` batch and throws if any document was rejected. */
export async function postBulkDocs(client: HttpClient, db: string, docs: readonly object[]): Promise<void> {
  const path = `/${db}/_bulk_docs`;
  const res = await client.request('POST', path, JSON.stringify({ docs }));
  if (res.status !== 201 && res.status !== 200) throw describeFailure('POST', path, res);
  const results = JSON.parse(res.text) as BulkResult[];
  const failed = results.filter((r) => r.error !== undefined);
  if (failed.length > 0 || results.length !== docs.length) {
    const first = failed[0];
    const detail = first ? `${first.id}: ${first.error} ${first.reason ?? ''}` : `${results.length} results`;
    throw new Error(`POST ${path}: ${failed.length} of ${docs.length} documents rejected (${detail})`);
  }
}
