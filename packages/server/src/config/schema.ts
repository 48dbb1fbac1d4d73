import { Type, type Static } from '@sinclair/typebox';

const MB = 1024 * 1024;

export const DatabaseConfigSchema = Type.Object(
  {
    server: Type.Optional(
      Type.String({
        description: 'Storage of the database: "sqlite:PATH" (relative to the working directory) or "sqlite::memory:".',
        minLength: 1,
      }),
    ),
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
