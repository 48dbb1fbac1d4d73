import { roleJson, userJson } from '../../auth/access.ts';
import type { PutResult } from '../../auth/auth-store.ts';
import { GUEST_USERNAME } from '../../auth/principal.ts';
import { badRequest, methodNotAllowed, notFound } from '../../base/errors.ts';
import { isPlainObject } from '../../db/crud/incoming.ts';
import { roleGrantsOf } from '../../db/access/role-access.ts';
import { accessOf } from '../../db/access/user-access.ts';
import { readJson } from '../body.ts';
import type { Handler, Reply } from '../route-types.ts';

/**
 * Admin API for users and roles (Sync Gateway's /{db}/_user/ and /{db}/_role/). As in Sync Gateway, writes
 * answer 201 when they create and 200 when they update, with an empty body.
 */

const empty = (status: number): Reply => ({ status, body: '', headers: {} });

const putStatus = (result: PutResult): Reply => empty(result.created ? 201 : 200);

/** The JSON object of a POST body and the name it carries (POST takes the name from the body). */
async function postBody(req: Parameters<Handler>[0]['req']): Promise<{ name: string; body: Record<string, unknown> }> {
  const body = await readJson(req);
  if (!isPlainObject(body)) throw badRequest('Request body must be a JSON object');
  const name = body['name'];
  if (name === undefined || name === null) throw badRequest('Missing name property');
  if (typeof name !== 'string') throw badRequest('"name" must be a string');
  return { name, body };
}

// ---- users ----

export const listUsers: Handler = async ({ db }) => ({ status: 200, json: await db.auth.listUsers() });

export const getUser: Handler = async ({ db, params }) => {
  const user = await db.auth.getUser(params.name!);
  if (!user) throw notFound('missing');
  return { status: 200, json: userJson(user, await accessOf(db, user)) };
};

export const putUser: Handler = async ({ db, params, req }) => putStatus(await db.auth.putUser(params.name!, await readJson(req)));

export const postUser: Handler = async ({ db, req }) => {
  const { name, body } = await postBody(req);
  return putStatus(await db.auth.putUser(name, body, { createOnly: true }));
};

export const deleteUser: Handler = async ({ db, params }) => {
  if (params.name === GUEST_USERNAME) throw methodNotAllowed('The GUEST user cannot be deleted. Only disabled via an update.');
  if (!(await db.auth.deleteUser(params.name!))) throw notFound('missing');
  return empty(200);
};

// ---- roles ----

export const listRoles: Handler = async ({ db, query }) => ({
  status: 200,
  json: await db.auth.listRoles({ includeDeleted: query.bool('deleted') }),
});

export const getRole: Handler = async ({ db, params }) => {
  const role = await db.auth.getRole(params.name!);
  if (!role) throw notFound('missing');
  return { status: 200, json: roleJson(role, await roleGrantsOf(db, role.name)) };
};

export const putRole: Handler = async ({ db, params, req }) => putStatus(await db.auth.putRole(params.name!, await readJson(req)));

export const postRole: Handler = async ({ db, req }) => {
  const { name, body } = await postBody(req);
  return putStatus(await db.auth.putRole(name, body, { createOnly: true }));
};

export const deleteRole: Handler = async ({ db, params, query }) => {
  if (!(await db.auth.deleteRole(params.name!, { purge: query.bool('purge') }))) throw notFound('missing');
  return empty(200);
};
