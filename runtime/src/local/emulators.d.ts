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
