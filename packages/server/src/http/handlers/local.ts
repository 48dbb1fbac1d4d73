import { deleteLocal, getLocal, putLocal } from '../../db/local-docs.ts';
import { conflict } from '../../base/errors.ts';
import { readJson } from '../body.ts';
import type { Handler } from '../route-types.ts';

export const getLocalDoc: Handler = async ({ db, params }) => ({ status: 200, json: await getLocal(db, params.local!) });

export const putLocalDoc: Handler = async ({ db, params, req, query }) => {
  const result = await putLocal(db, params.local!, await readJson(req), query.string('rev'));
  return { status: 201, json: { ok: true, ...result } };
};

export const deleteLocalDoc: Handler = async ({ db, params, query, req }) => {
  const rev = query.string('rev') ?? req.headers['if-match']?.replace(/^"|"$/g, '');
  if (rev === undefined) throw conflict();
  await deleteLocal(db, params.local!, rev);
  return { status: 200, json: { ok: true, id: `_local/${params.local!}`, rev: '0-0' } };
};
