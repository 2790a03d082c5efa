// Cognito's Secure Remote Password sign-in (USER_SRP_AUTH, challenge PASSWORD_VERIFIER) with node:crypto and BigInt:
// the password never leaves the process, only a proof that the client knows it. The group, hashing and key
// derivation are Cognito's (the same as AWS's amazon-cognito-identity-js AuthenticationHelper, which
// test/runtime/client/srp.test.ts checks this against).

import { createHash, createHmac, randomBytes } from "node:crypto";

/** RFC 5054's 3072-bit group, the one Cognito uses; g = 2. */
const N_HEX =
  "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
  "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
  "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
  "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
  "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510" +
  "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
  "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C" +
  "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";
export const SRP_N = BigInt(`0x${N_HEX}`);
export const SRP_G = 2n;
const INFO = Buffer.concat([Buffer.from("Caldera Derived Key", "utf8"), Buffer.from([1])]);

export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = ((base % modulus) + modulus) % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    e >>= 1n;
    b = (b * b) % modulus;
  }
  return result;
}

/** Hex of a non-negative integer as Cognito pads it: even length, and a 00 byte when the top bit is set. */
export function padHex(value: bigint): string {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return /^[89a-f]/i.test(hex) ? `00${hex}` : hex;
}

const sha256Hex = (data: Buffer): string => createHash("sha256").update(data).digest("hex");
const hexHash = (hex: string): string => sha256Hex(Buffer.from(hex, "hex"));
const hexToBigInt = (hex: string): bigint => BigInt(`0x${hex}`);

/** k = H(pad(N) | pad(g)). */
export const SRP_K = hexToBigInt(hexHash(`${padHex(SRP_N)}${padHex(SRP_G)}`));

/** The part of a user pool id after the region (`eu-west-1_AbC123` -> `AbC123`), which the proofs include. */
export function poolNameOf(userPoolId: string): string {
  const name = userPoolId.split("_")[1];
  if (!name) throw new Error(`user pool id ${JSON.stringify(userPoolId)} is not <region>_<id>`);
  return name;
}

/** The client's ephemeral pair: `a` (secret) and `A = g^a mod N` (sent as SRP_A, hex). */
export interface SrpEphemeral {
  readonly a: bigint;
  readonly A: bigint;
}

export function newEphemeral(a = hexToBigInt(randomBytes(128).toString("hex")) % SRP_N): SrpEphemeral {
  const A = modPow(SRP_G, a, SRP_N);
  if (A === 0n) throw new Error("SRP: A mod N is 0; draw again");
  return { a, A };
}

/** u = H(pad(A) | pad(B)). */
export function scramble(A: bigint, B: bigint): bigint {
  return hexToBigInt(hexHash(`${padHex(A)}${padHex(B)}`));
}

/** x = H(pad(salt) | H(poolName | userId | ":" | password)). */
export function privateKey(poolName: string, userId: string, password: string, saltHex: string): bigint {
  const userHash = createHash("sha256").update(`${poolName}${userId}:${password}`, "utf8").digest("hex");
  return hexToBigInt(hexHash(`${padHex(hexToBigInt(saltHex))}${userHash.padStart(64, "0")}`));
}

/** HKDF-SHA256 with Cognito's info string, 16 bytes: the key that signs the challenge. */
export function derivedKey(S: bigint, u: bigint): Buffer {
  const prk = createHmac("sha256", Buffer.from(padHex(u), "hex"))
    .update(Buffer.from(padHex(S), "hex"))
    .digest();
  return createHmac("sha256", prk).update(INFO).digest().subarray(0, 16);
}

/** The password authentication key for a PASSWORD_VERIFIER challenge (SRP_B and SALT are hex). */
export function passwordAuthenticationKey(
  ephemeral: SrpEphemeral,
  poolName: string,
  userId: string,
  password: string,
  srpBHex: string,
  saltHex: string,
): Buffer {
  const B = hexToBigInt(srpBHex);
  if (B % SRP_N === 0n) throw new Error("SRP: the server's B mod N is 0");
  const u = scramble(ephemeral.A, B);
  if (u === 0n) throw new Error("SRP: u is 0");
  const x = privateKey(poolName, userId, password, saltHex);
  const base = (((B - SRP_K * modPow(SRP_G, x, SRP_N)) % SRP_N) + SRP_N) % SRP_N;
  const S = modPow(base, ephemeral.a + u * x, SRP_N);
  return derivedKey(S, u);
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Cognito's TIMESTAMP format: `Tue Sep 3 09:51:31 UTC 2024` (day of month unpadded). */
export function srpTimestamp(date = new Date()): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} UTC ${date.getUTCFullYear()}`
  );
}

/** PASSWORD_CLAIM_SIGNATURE: base64 HMAC(key, poolName | userId | secretBlock bytes | timestamp). */
export function passwordClaimSignature(
  key: Buffer,
  poolName: string,
  userId: string,
  secretBlockBase64: string,
  timestamp: string,
): string {
  return createHmac("sha256", key)
    .update(
      Buffer.concat([
        Buffer.from(poolName, "utf8"),
        Buffer.from(userId, "utf8"),
        Buffer.from(secretBlockBase64, "base64"),
        Buffer.from(timestamp, "utf8"),
      ]),
    )
    .digest("base64");
}
