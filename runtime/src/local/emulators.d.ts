// Minimal typings for the local AWS-compatible servers the local grid and the tests start.
declare module "dynalite" {
  import type { Server } from "node:http";
  function dynalite(options?: {
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    path?: string;
  }): Server;
  export = dynalite;
}

declare module "dynalite/db" {
  /** The 6-hex-digit md5 prefix dynalite uses for a hash key (and, unpatched, in a GSI key for the table key). */
  export function hashPrefix(hashKey: string, hashType: "S" | "N" | "B"): string;
}

declare module "s3rver" {
  class S3rver {
    constructor(options: {
      address?: string;
      port?: number;
      silent?: boolean;
      directory: string;
      configureBuckets?: { name: string; configs?: string[] }[];
      resetOnClose?: boolean;
    });
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  }
  export = S3rver;
}

declare module "s3rver/lib/stores/filesystem" {
  class FilesystemStore {
    constructor(rootDirectory: string);
    getResourcePath(bucket: string, key?: string, resource?: string): string;
    putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5?: string): Promise<void>;
    putObject(object: unknown): Promise<{ size: number; md5: string }>;
    getMetadata(bucket: string, key: string): Promise<Record<string, string>>;
    putBucket(bucket: string): Promise<unknown>;
  }
  export = FilesystemStore;
}

declare module "s3rver/lib/models/object" {
  class S3Object {
    constructor(
      bucket: string,
      key: string,
      content: Buffer | NodeJS.ReadableStream | null,
      metadata: Record<string, string>,
    );
  }
  export = S3Object;
}
