/** Deterministic ~1 KB JSON documents: the same seed and index always give the same body. */

export const TARGET_DOC_BYTES = 1024;

export interface BenchDoc {
  [key: string]: unknown;
  type: string;
  name: string;
  email: string;
  age: number;
  score: number;
  active: boolean;
  createdAt: string;
  tags: string[];
  address: { street: string; city: string; zip: string; geo: { lat: number; lon: number } };
  notes: string;
}

const WORDS = [
  'amber', 'birch', 'cedar', 'delta', 'ember', 'fjord', 'glade', 'harbor', 'iris', 'juniper',
  'kestrel', 'lumen', 'meadow', 'nectar', 'orchid', 'pebble', 'quartz', 'raven', 'sable', 'tundra',
  'umber', 'velvet', 'willow', 'xenon', 'yarrow', 'zephyr', 'aurora', 'basalt', 'cobalt', 'dune',
] as const;

/** mulberry32: tiny, fast, good enough for test data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeDoc(seed: number, index: number): BenchDoc {
  const next = rng(Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b));
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  const word = (): string => WORDS[int(0, WORDS.length - 1)]!;
  const first = word();
  const last = word();
  const doc: BenchDoc = {
    type: 'customer',
    name: `${first} ${last}`,
    email: `${first}.${last}.${index}@example.com`,
    age: int(18, 90),
    score: Math.round(next() * 100_000) / 100,
    active: next() < 0.8,
    createdAt: new Date(Date.UTC(2020, 0, 1) + int(0, 5 * 365 * 86_400) * 1000).toISOString(),
    tags: [word(), word(), word()],
    address: {
      street: `${int(1, 9999)} ${word()} ${word()} street`,
      city: word(),
      zip: String(int(10_000, 99_999)),
      geo: { lat: Math.round((next() * 180 - 90) * 1e6) / 1e6, lon: Math.round((next() * 360 - 180) * 1e6) / 1e6 },
    },
    notes: '',
  };
  // Words are ASCII, so string length equals encoded bytes.
  let size = JSON.stringify(doc).length;
  const notes: string[] = [];
  while (size < TARGET_DOC_BYTES - 8) {
    const w = word();
    notes.push(w);
    size += w.length + (notes.length > 1 ? 1 : 0);
  }
  doc.notes = notes.join(' ');
  return doc;
}

export function makeDocs(seed: number, count: number, offset = 0): BenchDoc[] {
  return Array.from({ length: count }, (_, i) => makeDoc(seed, offset + i));
}

export function averageSize(docs: readonly object[]): number {
  if (docs.length === 0) return 0;
  let total = 0;
  for (const doc of docs) total += Buffer.byteLength(JSON.stringify(doc));
  return Math.round(total / docs.length);
}
