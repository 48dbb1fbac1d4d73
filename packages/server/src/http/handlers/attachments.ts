import { changeAttachment, getAttachment } from '../../db/attachments/single.ts';
import { validateDocId } from '../../db/crud/incoming.ts';
import { readBody } from '../body.ts';
import type { Handler } from '../route-types.ts';
import { revFromRequest } from './negotiate.ts';

export const getAttachmentHandler: Handler = async ({ db, params, query, user }) => {
  const { meta, data } = await getAttachment(db, validateDocId(params.doc), params.attachment!, query.string('rev'), user);
  return {
    status: 200,
    body: data,
    headers: { 'Content-Type': meta.content_type, ETag: `"${meta.digest}"`, 'Content-MD5': meta.digest },
  };
};

export const putAttachmentHandler: Handler = async (ctx) => {
  const { db, params, req } = ctx;
  const data = await readBody(req, db.config.max_attachment_size);
  const contentType = req.headers['content-type'] ?? 'application/octet-stream';
  const result = await changeAttachment(db, validateDocId(params.doc), params.attachment!, revFromRequest(ctx), { data, contentType }, ctx.user);
  return { status: 201, json: { ok: true, ...result }, headers: { ETag: `"${result.rev}"` } };
};

export const deleteAttachmentHandler: Handler = async (ctx) => {
  const result = await changeAttachment(ctx.db, validateDocId(ctx.params.doc), ctx.params.attachment!, revFromRequest(ctx), null, ctx.user);
  return { status: 200, json: { ok: true, ...result } };
};
