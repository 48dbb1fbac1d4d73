import { Type, type Static } from '@sinclair/typebox';

/**
 * One server-to-server replication, as in Sync Gateway's inter-gateway replication (ISGR): declared under
 * `databases.NAME.replications.ID` in the config or with `PUT /{db}/_replication/{id}`.
 */
export const ReplicationConfigSchema = Type.Object(
  {
    replication_id: Type.Optional(Type.String({ description: 'Id of the replication (defaults to its key / URL segment).' })),
    remote: Type.String({
      minLength: 1,
      description:
        'URL of the remote database: `ws(s)://host:port/db` or `http(s)://host:port/db` (the BLIP endpoint `/db/_blipsync` is derived); credentials may be in the URL.',
    }),
    username: Type.Optional(Type.String({ description: 'Remote user (instead of credentials in the URL).' })),
    password: Type.Optional(Type.String({ description: 'Password of `username`.' })),
    direction: Type.Union([Type.Literal('push'), Type.Literal('pull'), Type.Literal('pushAndPull')], {
      description: 'Which way documents flow, seen from this database.',
    }),
    continuous: Type.Optional(Type.Boolean({ default: false, description: 'Keep running and replicate new changes as they happen.' })),
    filter: Type.Optional(Type.Literal('sync_gateway/bychannel', { description: 'Only documents in `query_params.channels`.' })),
    query_params: Type.Optional(
      Type.Object({ channels: Type.Array(Type.String(), { minItems: 1 }) }, { additionalProperties: false, description: 'Filter parameters.' }),
    ),
    purge_on_removal: Type.Optional(Type.Boolean({ default: false, description: 'Purge local documents the remote user lost access to (pull).' })),
    conflict_resolution_type: Type.Optional(
      Type.Union([Type.Literal('default'), Type.Literal('localWins'), Type.Literal('remoteWins'), Type.Literal('custom')], {
        default: 'default',
        description: 'How conflicts are resolved: Couchbase Lite\'s default rules, the local or remote revision, or `custom_conflict_resolver`.',
      }),
    ),
    custom_conflict_resolver: Type.Optional(
      Type.String({ description: 'JavaScript `function (conflict) { return conflict.LocalDocument; }` (with `conflict_resolution_type: custom`).' }),
    ),
    batch_size: Type.Optional(Type.Integer({ default: 200, minimum: 1, maximum: 10_000, description: 'Revisions per batch.' })),
    state: Type.Optional(Type.Union([Type.Literal('running'), Type.Literal('stopped')], { default: 'running', description: 'Whether it runs.' })),
    pinned_cert: Type.Optional(
      Type.String({ description: 'For `wss://`/`https://` remotes with a self-signed certificate: its SHA-256 fingerprint (hex) or PEM.' }),
    ),
  },
  { additionalProperties: false },
);

/** A definition as written (in the config file the defaults are applied later, by parseReplicationConfig). */
export type ReplicationConfigInput = Static<typeof ReplicationConfigSchema>;

/** A validated definition, defaults applied. */
export type ReplicationConfig = ReplicationConfigInput & Required<Pick<ReplicationConfigInput, 'continuous' | 'purge_on_removal' | 'conflict_resolution_type' | 'batch_size' | 'state'>>;
