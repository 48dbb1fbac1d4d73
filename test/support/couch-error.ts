import { expect } from 'vitest';
import type { JsonResponse } from './rest.ts';

/** Whether a parsed body is CouchDB's error shape: {"error": string, "reason": string}. */
export function isCouchError(body: unknown): body is { error: string; reason: string } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  const { error, reason } = body as Record<string, unknown>;
  return typeof error === 'string' && typeof reason === 'string';
}

/** Asserts a response is the given status with a CouchDB error body (and the given error name, when one is given). */
export function expectCouchError(res: JsonResponse, status: number, error?: string): void {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { error: error ?? expect.any(String), reason: expect.any(String) } });
}
