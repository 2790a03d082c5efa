// Where `htc login` keeps the Cognito refresh token so later commands need no password: one JSON file,
// `$XDG_CONFIG_HOME/htc/credentials.json` (default `~/.config/htc/credentials.json`), directory mode 0700, file
// mode 0600, written atomically, keyed by user pool and app client. Only the refresh token and the user name are
// stored: never the password, never an id or access token. A file other users can read is refused, like ssh does
// with a private key. `htc logout` deletes the entry.

import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../util/write-atomic";
import { AuthError } from "./errors";

type Env = Readonly<Record<string, string | undefined>>;

export interface StoredLogin {
  readonly username: string;
  readonly refreshToken: string;
  /** ISO time of the sign-in. */
  readonly savedAt: string;
}

export function tokenStorePath(env: Env = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "htc", "credentials.json");
}

const keyOf = (userPoolId: string, clientId: string) => `${userPoolId}/${clientId}`;

function readAll(path: string): Record<string, StoredLogin> {
  if (!existsSync(path)) return {};
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new AuthError(
      `${path} is readable by other users (mode 0${mode.toString(8)}); run \`chmod 600 ${path}\` or \`htc login\` again`,
    );
  }
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, StoredLogin>;
  } catch {
    throw new AuthError(`${path} is not valid JSON; delete it and run \`htc login\` again`);
  }
}

function writeAll(path: string, logins: Record<string, StoredLogin>): void {
  const dir = join(path, "..");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  writeFileAtomic(path, `${JSON.stringify(logins, null, 2)}\n`, 0o600);
}

export class TokenStore {
  constructor(readonly path: string = tokenStorePath()) {}

  get(userPoolId: string, clientId: string): StoredLogin | undefined {
    return readAll(this.path)[keyOf(userPoolId, clientId)];
  }

  save(userPoolId: string, clientId: string, login: StoredLogin): void {
    const all = existsSync(this.path) ? readAll(this.path) : {};
    all[keyOf(userPoolId, clientId)] = login;
    writeAll(this.path, all);
  }

  /** True when an entry was removed. */
  remove(userPoolId: string, clientId: string): boolean {
    if (!existsSync(this.path)) return false;
    const all = readAll(this.path);
    const key = keyOf(userPoolId, clientId);
    if (!(key in all)) return false;
    delete all[key];
    if (Object.keys(all).length === 0) unlinkSync(this.path);
    else writeAll(this.path, all);
    return true;
  }
}
