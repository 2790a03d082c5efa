// Typings for the two internals of AWS's amazon-cognito-identity-js that srp.test.ts compares against.
declare module "amazon-cognito-identity-js/lib/BigInteger" {
  export default class BigInteger {
    constructor(value: string, radix: number);
  }
}
declare module "amazon-cognito-identity-js/lib/AuthenticationHelper" {
  import type BigInteger from "amazon-cognito-identity-js/lib/BigInteger";
  export default class AuthenticationHelper {
    constructor(poolName: string);
    smallAValue: BigInteger;
    largeAValue: BigInteger;
    getPasswordAuthenticationKey(
      username: string,
      password: string,
      serverBValue: BigInteger,
      salt: BigInteger,
      callback: (err: unknown, key: Buffer) => void,
    ): void;
  }
}
