export { startServer, type RunningServer, type StartOptions } from './server.ts';
export { parseServerConfig, loadConfigFile, ConfigError } from './config/load.ts';
export type { ServerConfig, DatabaseConfig } from './config/schema.ts';
