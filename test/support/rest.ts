/** Small REST helpers over fetch for tests: JSON in, status and JSON out. */
export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export async function request<T = any>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse<T>> {
  const init: RequestInit = { method, headers: { Accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' || body instanceof Uint8Array ? (body as string) : JSON.stringify(body);
    (init.headers as Record<string, string>)['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    // leave as text
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}

/** The Authorization header of HTTP Basic auth. */
export const basicAuth = (name: string, password: string): { Authorization: string } => ({
  Authorization: `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`,
});

export const getJson = <T = any>(url: string) => request<T>('GET', url);
export const putJson = <T = any>(url: string, body: unknown) => request<T>('PUT', url, body);
export const postJson = <T = any>(url: string, body: unknown) => request<T>('POST', url, body);
export const del = <T = any>(url: string) => request<T>('DELETE', url);

/** Polls until `check` returns a truthy value or the deadline passes (then throws with the last value). */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 20_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last: ${String(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
