import { isLeaf } from '../../document/index.ts';
import type { StoredDoc } from '../../storage/bucket.ts';
import { parseMeta, type AttachmentMap, type SyncMeta } from '../doc-meta.ts';

/** A document as the gateway knows it: its stored rows and parsed metadata. */
export interface CurrentDoc {
  id: string;
  stored: StoredDoc | null;
  meta: SyncMeta | null;
}

export function toCurrent(id: string, stored: StoredDoc | null | undefined): CurrentDoc {
  return { id, stored: stored ?? null, meta: stored?.meta ? parseMeta(stored.meta) : null };
}

export interface RevisionContent {
  /** User properties of the revision. */
  body: Record<string, unknown>;
  attachments: AttachmentMap;
  deleted: boolean;
  /** JSON text of `body`, when already serialised. */
  json?: string;
}

/** Splits a stored non-winning body (user properties + `_attachments`) into its parts. */
export function parseStoredBody(text: string, deleted: boolean): RevisionContent {
  const { _attachments, ...body } = JSON.parse(text) as Record<string, unknown> & { _attachments?: AttachmentMap };
  return { body, attachments: _attachments ?? {}, deleted };
}

export function storeBody(content: RevisionContent): string {
  return JSON.stringify(
    Object.keys(content.attachments).length > 0 ? { ...content.body, _attachments: content.attachments } : content.body,
  );
}

/** Body and attachments of one revision, or null when the revision's body is not kept (not a leaf, or unknown). */
export function revisionContent(doc: CurrentDoc, rev: string): RevisionContent | null {
  const meta = doc.meta;
  if (!meta) return null;
  const node = meta.tree[rev];
  if (!node) return null;
  if (rev === meta.rev && !meta.deleted) {
    const text = doc.stored?.body;
    if (text == null) return null;
    return { body: JSON.parse(text) as Record<string, unknown>, attachments: meta.attachments, deleted: false };
  }
  const stored = meta.bodies[rev];
  if (stored !== undefined) return parseStoredBody(stored, node.deleted);
  if (node.deleted && isLeaf(meta.tree, rev)) return { body: {}, attachments: {}, deleted: true };
  return null;
}

/** Every attachment the document's kept revisions reference, for resolving stubs by name and digest. */
export function knownAttachments(doc: CurrentDoc, preferredRev: string | null): (name: string, digest?: string) => AttachmentMap[string] | undefined {
  return (name, digest) => {
    const meta = doc.meta;
    if (!meta) return undefined;
    const revs = preferredRev ? [preferredRev, meta.rev, ...Object.keys(meta.bodies)] : [meta.rev, ...Object.keys(meta.bodies)];
    for (const rev of revs) {
      const att = revisionContent(doc, rev)?.attachments[name];
      if (att && (digest === undefined || att.digest === digest)) return att;
    }
    return undefined;
  };
}
