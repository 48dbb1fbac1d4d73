import { Type, type Static } from '@sinclair/typebox';
import { ReplicationConfigSchema } from './replication-schema.ts';

const MB = 1024 * 1024;

const names = (description: string) => Type.Optional(Type.Array(Type.String(), { description }));

export const UserConfigSchema = Type.Object(
  {
    password: Type.Optional(Type.String({ description: 'Plain-text password; stored only as a scrypt hash.' })),
    admin_channels: names('Channels the user can read.'),
    admin_roles: names('Roles the user has.'),
    email: Type.Optional(Type.String()),
    disabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const RoleConfigSchema = Type.Object({ admin_channels: names('Channels the role grants.') }, { additionalProperties: false });

export const DatabaseConfigSchema = Type.Object(
  {
    server: Type.Optional(
      Type.String({
        description:
          'Storage of the database: "sqlite:PATH" (relative to the working directory), "sqlite::memory:", or a PostgreSQL URL "postgresql://USER:PASSWORD@HOST:5432/DBNAME". Every node of a cluster points at the same PostgreSQL database.',
        minLength: 1,
      }),
    ),
    schema: Type.Optional(
      Type.String({
        description:
          'PostgreSQL only: the schema holding this database\'s tables (created on first start). Default: the database name, so that several Syncline databases can share one PostgreSQL database.',
        minLength: 1,
        maxLength: 63,
      }),
    ),
    pool_size: Type.Integer({
      default: 10,
      minimum: 1,
      maximum: 1000,
      description: 'PostgreSQL only: connections each node keeps in its pool for this database (plus one for LISTEN).',
    }),
    revs_limit: Type.Integer({
      default: 1000,
      minimum: 20,
      description: 'How many ancestor revisions each branch of a revision tree keeps.',
    }),
    max_document_size: Type.Integer({
      default: 20 * MB,
      minimum: 1,
      description: 'Largest accepted JSON body of a document, in bytes (413 above it).',
    }),
    max_attachment_size: Type.Integer({
      default: 20 * MB,
      minimum: 1,
      description: 'Largest accepted attachment, in bytes (413 above it).',
    }),
    sync: Type.Optional(
      Type.String({
        description:
          'Sync function: JavaScript `function (doc, oldDoc, meta) {...}` routing documents to channels and granting access. Default: `function (doc) { channel(doc.channels); }`.',
      }),
    ),
    javascript_timeout_secs: Type.Number({
      default: 1,
      exclusiveMinimum: 0,
      maximum: 3600,
      description: 'Time limit of one sync-function call, in seconds; a write that exceeds it fails with 500.',
    }),
    users: Type.Optional(
      Type.Record(Type.String(), UserConfigSchema, {
        description: 'Users created or updated at startup, by name. "GUEST" configures unauthenticated access (disabled by default).',
      }),
    ),
    roles: Type.Optional(Type.Record(Type.String(), RoleConfigSchema, { description: 'Roles created or updated at startup, by name.' })),
    enable_shared_bucket_access: Type.Boolean({
      default: true,
      description:
        'Server apps share the documents table: their direct writes (SQL INSERT/UPDATE/DELETE) are detected and imported. Sync metadata always lives beside the body, never in it.',
    }),
    import_docs: Type.Optional(
      Type.Boolean({
        description:
          'Whether this node imports direct writes (unset: yes). false keeps it out of import work (workload isolation); ignored, with a warning, when enable_shared_bucket_access is false.',
      }),
    ),
    import_filter: Type.Optional(
      Type.String({
        description: 'JavaScript `function (doc) { return ...; }`: documents it does not accept are not imported (re-checked when they change).',
      }),
    ),
    metadata_purge_interval: Type.Number({
      default: 3,
      exclusiveMinimum: 0,
      description:
        'Days after which tombstones are purged (metadata and change entries), so they stop replicating. Clients offline for longer may keep documents deleted meanwhile.',
    }),
    allow_empty_password: Type.Boolean({ default: false, description: 'Allow users without a password (they log in with an empty one).' }),
    path: Type.Optional(
      Type.String({ minLength: 1, description: 'Edge mode: the SQLite file of the database (same as `server: "sqlite:PATH"`).' }),
    ),
    create: Type.Optional(Type.Boolean({ description: 'Edge mode: create the `path` file when it does not exist (otherwise a missing file is an error).' })),
    enable_client_sync: Type.Optional(
      Type.Union([Type.Literal('pull'), Type.Literal('push'), Type.Literal('bidirectional'), Type.Boolean()], {
        description:
          'Which way clients may sync (REST and Couchbase Lite): "pull" (read only), "push" (write only), "bidirectional" or true (both, the default), false (no client sync).',
      }),
    ),
    replications: Type.Optional(
      Type.Record(Type.String(), ReplicationConfigSchema, { description: 'Server-to-server replications started at boot, by id.' }),
    ),
    send_www_authenticate_header: Type.Boolean({
      default: true,
      description: 'Send `WWW-Authenticate: Basic` with 401 responses of the public API; false keeps browsers from showing a login dialog.',
    }),
  },
  { additionalProperties: false },
);

export const CorsConfigSchema = Type.Object(
  {
    origin: Type.Array(Type.String(), { default: [], description: 'Allowed origins; "*" allows any.' }),
    login_origin: Type.Array(Type.String(), { default: [], description: 'Origins allowed to log in with cookies.' }),
    headers: Type.Array(Type.String(), { default: [], description: 'Extra request headers allowed.' }),
    max_age: Type.Integer({ default: 0, minimum: 0, description: 'Preflight cache lifetime in seconds.' }),
  },
  { additionalProperties: false },
);

export const LoggingConfigSchema = Type.Object(
  {
    console: Type.Object(
      {
        log_level: Type.Union(
          [
            Type.Literal('none'),
            Type.Literal('error'),
            Type.Literal('warn'),
            Type.Literal('info'),
            Type.Literal('debug'),
            Type.Literal('trace'),
          ],
          { default: 'info', description: 'Lowest level written to the console.' },
        ),
        log_keys: Type.Array(Type.String(), {
          default: ['*'],
          description: 'Log keys shown below warn level: HTTP, CRUD, Sync, Import, Changes, Replicate, Auth, or *.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const ServerConfigSchema = Type.Object(
  {
    interface: Type.String({ default: ':4984', description: 'Public REST API address, "host:port" or ":port".' }),
    adminInterface: Type.String({
      default: '127.0.0.1:4985',
      description: 'Admin REST API address. Binds to loopback unless told otherwise.',
    }),
    metricsInterface: Type.Union([Type.String(), Type.Null()], {
      default: '127.0.0.1:4986',
      description: 'Metrics API address (`GET /_metrics` in Prometheus text format, `GET /_ping`). Binds to loopback unless told otherwise; "" or null disables it.',
    }),
    replicator: Type.Object(
      {
        blip_compression: Type.Integer({
          default: 1,
          minimum: 0,
          maximum: 9,
          description:
            'zlib level of the replication messages the server compresses on `/{db}/_blipsync` connections: 1 is fastest, 9 smallest, 0 sends them uncompressed. Sync Gateway defaults to 3; 1 spends the least CPU per revision, for about 8% more bytes than 3 on ~1 KB JSON documents.',
        }),
        ping_interval_secs: Type.Number({
          default: 30,
          exclusiveMinimum: 0,
          maximum: 3600,
          description:
            'Seconds between the WebSocket pings the server sends on each replication connection. A connection that has neither answered the previous ping nor read anything since is dropped as dead.',
        }),
      },
      { additionalProperties: false, default: {}, description: 'Couchbase Lite replication (`/{db}/_blipsync`) settings.' },
    ),
    users: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Edge mode: a JSON file of users with hashed passwords (`syncline user add NAME` writes it), for every database.',
      }),
    ),
    https: Type.Optional(
      Type.Object(
        {
          tls_cert_path: Type.String({ minLength: 1, description: 'PEM certificate (chain) served on the public and admin APIs.' }),
          tls_key_path: Type.String({ minLength: 1, description: 'PEM private key of the certificate.' }),
        },
        { additionalProperties: false, description: 'TLS for the public and admin APIs (`syncline cert create` makes a self-signed pair).' },
      ),
    ),
    logging: LoggingConfigSchema,
    CORS: Type.Optional(CorsConfigSchema),
    databases: Type.Record(Type.String(), DatabaseConfigSchema, {
      default: {},
      description: 'Databases served, by name.',
    }),
  },
  { additionalProperties: false },
);

export type DatabaseConfig = Static<typeof DatabaseConfigSchema>;
export type ServerConfig = Static<typeof ServerConfigSchema>;
export type CorsConfig = Static<typeof CorsConfigSchema>;

/** The configuration used when `syncline serve` is started without --config. */
export const DEFAULT_CONFIG_INPUT = { databases: { db: { server: 'sqlite:./data/db.sqlite' } } } as const;
