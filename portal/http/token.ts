/**
 * The service's bearer token: one rule for where it is read (PORTAL_TOKEN / PORTAL_TOKEN_FILE) and what it must be,
 * and the constant-time check of a request's `Authorization` header.
 */
import { createHash, timingSafeEqual } from "crypto";

export const MIN_TOKEN_LENGTH = 32;

/** RFC 6750 b64token: what a bearer credential may contain. */
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The token to serve with: trimmed (a file written by `echo` ends in a newline), at least MIN_TOKEN_LENGTH
 * characters, token68 characters only. Throws a message meant for the operator; the token is never echoed.
 */
export function resolvePortalToken(raw: string | undefined): string {
    const token = (raw ?? "").trim();
    if (!token) {
        throw new Error("the portal needs a bearer token (PORTAL_TOKEN or PORTAL_TOKEN_FILE): refusing to serve without authentication");
    }
    if (token.length < MIN_TOKEN_LENGTH) {
        throw new Error(`the portal token is ${token.length} characters long; it needs at least ${MIN_TOKEN_LENGTH} (e.g. openssl rand -hex 24)`);
    }
    if (!TOKEN68.test(token)) {
        throw new Error("the portal token may contain only letters, digits and - . _ ~ + / (then optional '='); e.g. openssl rand -hex 24");
    }
    return token;
}

/** The token from PORTAL_TOKEN, else from the file PORTAL_TOKEN_FILE names. */
export function portalTokenFromEnv(env: NodeJS.ProcessEnv, readFile: (path: string) => string): string {
    if (env.PORTAL_TOKEN !== undefined && env.PORTAL_TOKEN.trim() !== "") return resolvePortalToken(env.PORTAL_TOKEN);
    if (env.PORTAL_TOKEN_FILE) return resolvePortalToken(readFile(env.PORTAL_TOKEN_FILE));
    return resolvePortalToken(undefined);
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Exactly one `Authorization` header, `Bearer` (any case) and the token after one or more spaces, compared in
 * constant time. `rawHeaders` (name, value, name, value, …) is used because Node keeps only the first of repeated
 * `Authorization` headers; two of them are refused.
 */
export function checkBearer(rawHeaders: string[], token: string): boolean {
    const values: string[] = [];
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
        if (rawHeaders[i].toLowerCase() === "authorization") values.push(rawHeaders[i + 1]);
    }
    if (values.length !== 1) return false;
    const m = /^Bearer +(\S+)$/i.exec(values[0].trim());
    if (!m) return false;
    return timingSafeEqual(digest(m[1]), digest(token));
}
