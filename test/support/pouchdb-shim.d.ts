// Loose typings for PouchDB in tests. The published @types/pouchdb pull in the DOM library, whose typed-array
// declarations clash with Node's Buffer under TypeScript 5.9.
declare namespace PouchDB {
  namespace Core {
    type ExistingDocument<T> = T & { _id: string; _rev: string; _attachments?: Record<string, any>; _conflicts?: string[] };
  }
  interface AllDocsResponse {
    total_rows: number;
    offset: number;
    rows: Array<{ id: string; key: string; value: { rev: string; deleted?: boolean }; doc?: any; error?: string }>;
  }
  interface Replication extends Promise<any> {
    on(event: string, listener: (...args: any[]) => void): this;
    cancel(): void;
  }
  interface Database {
    name: string;
    get(id: string, opts?: Record<string, unknown>): Promise<any>;
    put(doc: Record<string, unknown>, opts?: Record<string, unknown>): Promise<any>;
    post(doc: Record<string, unknown>): Promise<any>;
    remove(doc: any, opts?: any): Promise<any>;
    bulkDocs(docs: any[], opts?: Record<string, unknown>): Promise<any[]>;
    allDocs(opts?: Record<string, unknown>): Promise<AllDocsResponse>;
    changes(opts?: Record<string, unknown>): any;
    info(): Promise<any>;
    putAttachment(id: string, name: string, rev: string, data: any, type: string): Promise<any>;
    putAttachment(id: string, name: string, data: any, type: string): Promise<any>;
    getAttachment(id: string, name: string, opts?: Record<string, unknown>): Promise<any>;
    removeAttachment(id: string, name: string, rev: string): Promise<any>;
    replicate: { to(target: Database | string, opts?: any): Replication; from(source: Database | string, opts?: any): Replication };
    sync(remote: Database | string, opts?: any): Replication;
    destroy(): Promise<void>;
    close(): Promise<void>;
    [key: string]: any;
  }
  interface Static {
    new (name: string, opts?: Record<string, unknown>): Database;
    plugin(plugin: unknown): Static;
    replicate(source: Database | string, target: Database | string, opts?: any): Replication;
    sync(a: Database | string, b: Database | string, opts?: any): Replication;
  }
}

declare module 'pouchdb' {
  const PouchDB: PouchDB.Static;
  export default PouchDB;
}

declare module 'pouchdb-adapter-memory' {
  const plugin: unknown;
  export default plugin;
}
