/**
 * The rules of a repository entry (`developers[].repos[]`): its URL, its directory name under HOME and the
 * credential scope derived from it. This is the ONE place these rules live: the scripts in the container receive the
 * resolved, validated (name, url, branch) list (GITSPACE_REPOS) and the credential scope (the `hosts` key of the
 * git-credentials Secret) and use them as given.
 *
 * The URL is checked as the RAW string that reaches git, never a `new URL()`-normalised copy (which drops tabs and
 * newlines, re-encodes control characters, turns `\` into `/` and punycodes look-alike hosts).
 */
import * as net from "net";
import { REPO_NAME } from "./patterns";

export const REPO_URL_MAX_LENGTH = 2048;
/**
 * Longest repository directory name. The clone goes through `$HOME/.gitspace-clone-<name>.XXXXXX/` (23 more
 * characters) and every name must fit NAME_MAX (255 bytes) with room to spare.
 */
export const REPO_NAME_MAX_LENGTH = 100;
/**
 * Names under HOME the gitspace itself uses and a clone must never take: the legacy layout's directory (a repo
 * there would be migrated as if it were legacy) and the migration's conflict folders. Dotfiles (`.ssh`, `.config`,
 * `.gitspace`, `.bashrc`, …) are excluded by REPO_NAME already.
 */
export const RESERVED_REPO_NAMES: ReadonlyArray<string | RegExp> = ["workspaces", /^migrated-conflicts-/];

export interface RepoUrl {
    scheme: "http" | "https";
    /** The host exactly as written (lowercase DNS name, dotted IPv4, or `[IPv6]`). */
    host: string;
    /** The port exactly as written, when the URL has one. */
    port?: string;
    /** The path as written (percent-escapes kept). */
    path: string;
}

export type Parsed<T> = { ok: T; problem?: undefined } | { ok?: undefined; problem: string };

const SCP_LIKE = /^[\w.-]+@[\w.-]+:/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]{0,31}):/;
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const NUMERIC_LABEL = /^(0x[0-9a-f]*|[0-9]+)$/i;
const PORT = /^[1-9][0-9]{0,4}$/;
/** RFC 3986 path characters (pchar and `/`) minus `@` (a credential look-alike) and `%` (checked as escapes). */
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:/]$/;

const hex = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;

/** The first character of `s` that is not printable ASCII, described (never echoing the string itself). */
function unprintable(s: string): string | undefined {
    let i = 0;
    for (const c of s) {
        const code = c.codePointAt(0)!;
        if (code <= 0x1f || code === 0x7f) return `a control character (${hex(c)}) at position ${i}`;
        if (code === 0x20) return `a space at position ${i}`;
        if (code > 0x7e) {
            return `a non-ASCII character (${hex(c)}) at position ${i}; write an internationalised host in its ` +
                `xn-- form and percent-encode the path`;
        }
        i++;
    }
    return undefined;
}

function hostProblem(host: string): string | undefined {
    if (host === "") return "has no host";
    if (host.startsWith("[")) {
        const inner = host.endsWith("]") ? host.slice(1, -1) : "";
        return net.isIPv6(inner) && !inner.includes("%") ? undefined : "has an invalid IPv6 host (expected e.g. [2001:db8::1])";
    }
    if (host !== host.toLowerCase()) return "has upper-case letters in its host; write the host in lower case";
    if (!DNS_NAME.test(host)) return "has an invalid host (expected a DNS name, an IPv4 address or [IPv6])";
    const labels = host.split(".");
    // What looks like a number is an IPv4 address to curl and browsers (0x7f.1, 2130706433): only dotted quads.
    if (NUMERIC_LABEL.test(labels[labels.length - 1]) && !net.isIPv4(host)) {
        return "has an invalid IPv4 host (expected four decimal numbers 0-255 without leading zeros)";
    }
    return undefined;
}

function pathProblem(path: string): string | undefined {
    for (let i = 0; i < path.length; i++) {
        const c = path[i];
        if (c === "%") {
            if (!/^[0-9A-Fa-f]{2}$/.test(path.slice(i + 1, i + 3))) return `has a malformed percent-escape at position ${i} of its path`;
            i += 2;
        } else if (c === "@") {
            return "has '@' in its path; credentials never go in a URL (set git.username and git.token instead)";
        } else if (!PATH_CHARS.test(c)) {
            return `has the character ${JSON.stringify(c)} in its path`;
        }
    }
    let segments: string[];
    try {
        segments = path.split("/").map((s) => decodeURIComponent(s));
    } catch {
        return "has percent-escapes in its path that do not decode to UTF-8";
    }
    for (const segment of segments) {
        const bad = [...segment].find((c) => c.codePointAt(0)! <= 0x1f || c.codePointAt(0) === 0x7f || c === "\\" || c === "@");
        if (bad !== undefined) return `has an encoded ${bad === "@" || bad === "\\" ? JSON.stringify(bad) : `control character (${hex(bad)})`} in its path`;
        if (segment === "." || segment === "..") return "has a '.' or '..' segment in its path";
    }
    return undefined;
}

/**
 * Parses a raw repository URL: `http(s)://host[:port][/path]`, printable ASCII only, no user info, query or fragment.
 * Problems never echo the URL (it may hold a token).
 */
export function parseRepoUrl(raw: string): Parsed<RepoUrl> {
    const fail = (problem: string): Parsed<RepoUrl> => ({ problem });
    if (raw.length === 0) return fail("must not be empty");
    if (raw.length > REPO_URL_MAX_LENGTH) return fail(`is longer than ${REPO_URL_MAX_LENGTH} characters`);
    const bad = unprintable(raw);
    if (bad) return fail(`contains ${bad}`);
    if (raw.includes("\\")) return fail("contains a backslash");
    if (SCP_LIKE.test(raw) && !raw.includes("://")) return fail("SSH clone URLs are not supported; use the https:// clone URL");
    const scheme = SCHEME.exec(raw)?.[1];
    if (!scheme) return fail(`is not a URL; expected e.g. "https://git.example.com/org/repo.git"`);
    if (scheme !== "https" && scheme !== "http") {
        return fail(["https", "http"].includes(scheme.toLowerCase())
            ? `has the scheme "${scheme}"; write it in lower case`
            : `has the unsupported scheme "${scheme}"; only http(s) clone URLs are supported`);
    }
    if (!raw.startsWith(`${scheme}://`)) return fail(`must start with "${scheme}://"`);
    if (/[?#]/.test(raw)) return fail("must not have a query or fragment ('?', '#'): credentials never go in a URL");
    const rest = raw.slice(scheme.length + 3);
    const slash = rest.indexOf("/");
    const authority = slash < 0 ? rest : rest.slice(0, slash);
    const path = slash < 0 ? "" : rest.slice(slash);
    if (authority.includes("@") || /%40/i.test(authority)) {
        return fail("must not contain credentials; set git.username and git.token (as a secret) instead");
    }
    if (authority.includes("%")) return fail("has a percent-escape in its host");
    const portAt = authority.startsWith("[") ? authority.indexOf("]:") + 1 : authority.lastIndexOf(":");
    const host = portAt > 0 ? authority.slice(0, portAt) : authority;
    const port = portAt > 0 ? authority.slice(portAt + 1) : undefined;
    const hp = hostProblem(host);
    if (hp) return fail(hp);
    if (port !== undefined && (!PORT.test(port) || Number(port) > 65535)) return fail("has an invalid port (1-65535, no leading zero)");
    const pp = pathProblem(path);
    if (pp) return fail(pp);
    return { ok: { scheme, host, ...(port !== undefined ? { port } : {}), path } };
}

/** Why a repository URL is unusable, or undefined when it is fine. */
export function repoUrlProblem(url: string): string | undefined {
    return parseRepoUrl(url).problem;
}

/**
 * The default directory name of a repository: the last segment of its URL path, percent-decoded, without `.git`
 * (`https://host/org/api.git` → `api`). Undefined when the URL is invalid or its path has no segment.
 */
export function repoDirName(url: string): string | undefined {
    const parsed = parseRepoUrl(url);
    if (!parsed.ok) return undefined;
    const segments = parsed.ok.path.split("/").filter((s) => s !== "");
    if (segments.length === 0) return undefined;
    const name = decodeURIComponent(segments[segments.length - 1]).replace(/\.git$/, "");
    return name === "" ? undefined : name;
}

/** Why a directory name under HOME is unusable for a repository, or undefined when it is fine. */
export function repoNameProblem(name: string): string | undefined {
    if (Buffer.byteLength(name) > REPO_NAME_MAX_LENGTH) return `is longer than ${REPO_NAME_MAX_LENGTH} bytes`;
    if (!REPO_NAME.test(name)) {
        return `is not a usable directory name; use letters, digits, '.', '_', '-', starting with a letter, digit or '_' (no dotfiles such as .ssh)`;
    }
    if (RESERVED_REPO_NAMES.some((r) => (typeof r === "string" ? r === name : r.test(name)))) {
        return `is reserved in HOME (${RESERVED_REPO_NAMES.map((r) => (typeof r === "string" ? r : `${r.source.replace(/^\^/, "")}*`)).join(", ")})`;
    }
    return undefined;
}

/**
 * The credential scope entry of a repository: `scheme://host[:port]` exactly as git will describe the request to
 * its credential helper (`protocol=` and `host=`). The helper answers only requests whose `protocol://host` equals
 * one of these entries, literally.
 */
export function credentialScope(url: string): string {
    const parsed = parseRepoUrl(url);
    if (!parsed.ok) throw new Error(`credentialScope of an invalid URL: ${parsed.problem}`);
    const { scheme, host, port } = parsed.ok;
    return `${scheme}://${host}${port !== undefined ? `:${port}` : ""}`;
}

/**
 * The `hosts` file of the git-credentials Secret: one `scheme://host[:port]` per line, sorted, no duplicate. Pass
 * every repository the gitspace clones (the repos and the dotfiles repository).
 */
export function credentialHosts(repos: ReadonlyArray<{ url: string }>): string {
    const scopes = [...new Set(repos.map((r) => credentialScope(r.url)))].sort();
    return scopes.map((s) => `${s}\n`).join("");
}

export const SCRIPT_PATH_MAX_LENGTH = 255;
/** A path segment of a script inside a repository: no dotfile-looking `.`/`..`, no option-looking `-x`. */
const SCRIPT_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/**
 * Why a script path inside a cloned repository (dotfiles `installCommand`) is unusable, or undefined when it is
 * fine: a relative path of plain segments (letters, digits, `.`, `_`, `-`; none starting with `.` or `-`), at most
 * SCRIPT_PATH_MAX_LENGTH characters. It is run as a program, never through a shell, so it takes no arguments.
 */
export function scriptPathProblem(path: string): string | undefined {
    if (path.length === 0) return "must not be empty";
    if (path.length > SCRIPT_PATH_MAX_LENGTH) return `is longer than ${SCRIPT_PATH_MAX_LENGTH} characters`;
    if (path.startsWith("/")) return "must be a path relative to the repository (no leading '/')";
    const bad = path.split("/").find((segment) => !SCRIPT_SEGMENT.test(segment));
    if (bad !== undefined) {
        return `must be a relative path of a script in the repository, e.g. "install.sh" or "script/bootstrap" ` +
            `(segments of letters, digits, '.', '_', '-', not starting with '.' or '-'; no arguments, no spaces)`;
    }
    return undefined;
}
