import { describe, expect, it } from 'vitest';
import { memoryDatabase } from '../../test/support/memory-db.ts';
import { attachmentDigest } from './attachments/digest.ts';
import { compactAttachments } from './compact.ts';
import { splitIncoming } from './crud/incoming.ts';
import { writeDocument } from './crud/write.ts';

const withAttachment = (id: string, text: string, rev?: string) =>
  splitIncoming({ _id: id, ...(rev ? { _rev: rev } : {}), _attachments: { f: { content_type: 'text/plain', data: Buffer.from(text).toString('base64') } } });

describe('attachment compaction', () => {
  it('removes bodies no revision references and keeps shared ones', async () => {
    await using db = await memoryDatabase();
    const first = await writeDocument(db, withAttachment('a', 'old'), { newEdits: true });
    await writeDocument(db, withAttachment('b', 'shared'), { newEdits: true });
    await writeDocument(db, withAttachment('a', 'shared', first.rev), { newEdits: true });
    expect(await compactAttachments(db)).toBe(1);
    expect(await db.bucket.hasBlob(attachmentDigest(Buffer.from('old')))).toBe(false);
    expect(await db.bucket.hasBlob(attachmentDigest(Buffer.from('shared')))).toBe(true);
  });

  it('leaves bodies pinned by writes in progress, and writes leave no pins behind', async () => {
    await using db = await memoryDatabase();
    const digest = attachmentDigest(Buffer.from('in flight'));
    await db.bucket.putBlob(digest, Buffer.from('in flight'));
    db.blobPins.pin(digest);
    expect(await compactAttachments(db)).toBe(0);
    db.blobPins.unpin([digest]);
    expect(await compactAttachments(db)).toBe(1);

    await writeDocument(db, withAttachment('c', 'done'), { newEdits: true });
    expect(db.blobPins.has(attachmentDigest(Buffer.from('done')))).toBe(false);
    await expect(writeDocument(db, withAttachment('c', 'stale'), { newEdits: true })).rejects.toMatchObject({ status: 409 });
    expect(db.blobPins.has(attachmentDigest(Buffer.from('stale')))).toBe(false);
  });
});
