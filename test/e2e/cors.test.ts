import { describe, expect, it } from 'vitest';
import { startTestServer } from '../support/server-process.ts';

describe('CORS', () => {
  it('answers preflights and tags responses for configured origins only', async () => {
    await using server = await startTestServer({
      extra: { CORS: { origin: ['https://app.example'], login_origin: ['https://app.example'], headers: ['X-Custom'], max_age: 600 } },
    });
    const preflight = await fetch(`${server.url}/db/doc`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'PUT' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('PUT');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('X-Custom');
    expect(preflight.headers.get('access-control-max-age')).toBe('600');

    const allowed = await fetch(`${server.url}/db/`, { headers: { Origin: 'https://app.example' } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');

    const other = await fetch(`${server.url}/db/`, { headers: { Origin: 'https://evil.example' } });
    expect(other.status).toBe(200);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
