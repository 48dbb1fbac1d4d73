import type { TSchema } from '@sinclair/typebox';
import { DatabaseConfigSchema, ServerConfigSchema } from './schema.ts';

interface Row {
  key: string;
  type: string;
  default: string;
  description: string;
}

function typeName(schema: TSchema): string {
  if (schema.anyOf) return (schema.anyOf as TSchema[]).map((s) => (s.const === undefined ? typeName(s) : JSON.stringify(s.const))).join(' \\| ');
  if (schema.type === 'array') return `array of ${typeName(schema.items as TSchema)}`;
  if (schema.type === 'object' && schema.patternProperties) return 'object (by name)';
  return String(schema.type ?? 'any');
}

function rows(schema: TSchema, prefix: string, out: Row[]): Row[] {
  for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, TSchema>)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (child.type === 'object' && child.properties) {
      rows(child, path, out);
      continue;
    }
    out.push({
      key: path,
      type: typeName(child),
      default: child.default === undefined ? '' : `\`${JSON.stringify(child.default)}\``,
      description: String(child.description ?? ''),
    });
  }
  return out;
}

function table(list: Row[]): string {
  const lines = ['| key | type | default | description |', '| --- | --- | --- | --- |'];
  for (const r of list) lines.push(`| \`${r.key}\` | ${r.type} | ${r.default} | ${r.description} |`);
  return lines.join('\n');
}

/** The configuration reference in Markdown, generated from the same schema that validates config files. */
export function configReference(): string {
  const server = rows(ServerConfigSchema, '', []);
  const db = rows(DatabaseConfigSchema, 'databases.NAME', []);
  db[0] = { ...db[0]!, default: '`"sqlite:./data/NAME.sqlite"`' };
  return `${table(server)}\n\nPer database:\n\n${table(db)}\n`;
}
