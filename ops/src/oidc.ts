import { readFile } from "node:fs/promises";
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { FerryError } from "@ferry/contracts";
import { Roles, isRole, type Role } from "./roles.js";

/** Where the Ops API takes JWT bearer tokens from: an OpenID Connect provider. */
export interface OidcOptions {
  /** The `iss` tokens must carry. */
  issuer: string;
  /** The `aud` tokens must carry (one of). */
  audience: string;
  /** The provider's JWKS: an `https://…` (or `http://…`) URL, fetched and cached, or a JSON file read at start. */
  jwks: string;
  /** The claim holding the role (admin, publisher, viewer) or an array of them; a dotted path reaches into objects. Default `ferry_role`. */
  roleClaim?: string;
}

/** Who a verified JWT says the caller is. */
export interface OidcCaller {
  subject: string;
  role: Role;
}

/** Checks JWT bearer tokens: RS256 or ES256 signature by a key of the JWKS, `iss`, `aud`, and an `exp` in the future. */
export class OidcVerifier {
  readonly #keys: JWTVerifyGetKey;
  readonly #o: OidcOptions;

  private constructor(keys: JWTVerifyGetKey, o: OidcOptions) {
    this.#keys = keys;
    this.#o = o;
  }

  static async create(o: OidcOptions): Promise<OidcVerifier> {
    const keys = /^https?:\/\//.test(o.jwks)
      ? createRemoteJWKSet(new URL(o.jwks))
      : createLocalJWKSet(JSON.parse(await readFile(o.jwks, "utf8")) as JSONWebKeySet);
    return new OidcVerifier(keys, o);
  }

  /** The caller a token names; throws `unauthorized` for a bad token, `unavailable` when the JWKS cannot be fetched. */
  async verify(token: string): Promise<OidcCaller> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys, {
        issuer: this.#o.issuer, audience: this.#o.audience, algorithms: ["RS256", "ES256"], requiredClaims: ["exp"],
      }));
    } catch (err) {
      throw refusal(err);
    }
    const role = strongestRole(claimAt(payload, this.#o.roleClaim ?? "ferry_role"));
    if (!role) throw new FerryError("unauthorized", `the token's ${this.#o.roleClaim ?? "ferry_role"} claim names none of the roles ${Roles.join(", ")}`);
    return { subject: String(payload.sub ?? ""), role };
  }
}

/** A jose refusal (bad signature, claims, expiry) is the caller's fault; a JWKS we cannot fetch is not. */
function refusal(err: unknown): FerryError {
  if (err instanceof errors.JWKSTimeout || !(err instanceof errors.JOSEError)) {
    return new FerryError("unavailable", `cannot check the token: the OIDC provider's keys are not reachable (${(err as Error).message})`, { cause: err });
  }
  // jose's messages name the failed check ("\"exp\" claim timestamp check failed"), never the token.
  return new FerryError("unauthorized", `invalid JWT: ${err.message}`);
}

/** The claim at a dotted path (`realm_access.roles`). */
function claimAt(payload: JWTPayload, path: string): unknown {
  return path.split(".").reduce<unknown>((o, key) => (o && typeof o === "object" ? (o as Record<string, unknown>)[key] : undefined), payload);
}

/** The strongest role a claim value names (a role, or an array that holds some); undefined when none. */
function strongestRole(value: unknown): Role | undefined {
  const named = (Array.isArray(value) ? value : [value]).filter(isRole);
  return [...Roles].reverse().find((r) => named.includes(r));
}
