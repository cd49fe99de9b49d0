/**
 * Pure config mutations of one developer. Input: the raw `gitspace:` values of a stack (as the program reads
 * them); output: the would-be raw config, validated with the stack's own `parseTeamConfig` (so problems carry
 * config paths such as `gitspace:developers[4].ide`), and the path-based config operations that produce it
 * (`pulumi config set --path`), secrets (`git.token`) marked secret.
 */
import { ConfigError, CONFIG_NAMESPACE, parseTeamConfig, rawTeamConfig, TeamConfig } from "../components/config";
import { DeveloperExistsError, DeveloperNotFoundError, ValidationError } from "./errors";
import { checkUntrustedJson } from "./limits";

/** The `gitspace:<key>` values of a stack, parsed as the program parses them, plus unknown `gitspace:` keys. */
export interface RawConfig {
    values: Record<string, unknown>;
    unknownKeys: string[];
}

export type ConfigLeaf = string | number | boolean;

export type ConfigOp =
    | { op: "set"; path: string; value: ConfigLeaf; secret: boolean }
    | { op: "remove"; path: string };

export interface Mutation {
    /** The developer's index in `gitspace:developers` (before the change). */
    index: number;
    developer: string;
    next: RawConfig;
    /** Validated, defaults resolved. */
    team: TeamConfig;
    ops: ConfigOp[];
}

/** Developer fields stored as Pulumi secrets (relative to the developer entry). */
export const SECRET_FIELDS: ReadonlyArray<ReadonlyArray<string>> = [["git", "token"]];


/** From `pulumi config --json` (Automation API `getAllConfig`): `{ "gitspace:developers": { value, secret } }`. */
export function rawConfigFromConfigMap(map: Record<string, { value: string; secret?: boolean }>, knownKeys: readonly string[]): RawConfig {
    return rawTeamConfig(Object.fromEntries(Object.entries(map).map(([key, { value }]) => [key, value])), knownKeys);
}

export function developerEntries(raw: RawConfig): unknown[] {
    return Array.isArray(raw.values.developers) ? raw.values.developers : [];
}

const entryName = (entry: unknown) =>
    isPlainObject(entry) && typeof entry.name === "string" ? entry.name : undefined;

export function findDeveloper(raw: RawConfig, name: string): number {
    return developerEntries(raw).findIndex((e) => entryName(e) === name);
}

/** Validates a would-be config of `stack` (it defaults the environment); throws ValidationError with every problem. */
export function validate(raw: RawConfig, stack: string): TeamConfig {
    try {
        return parseTeamConfig(raw.values, raw.unknownKeys, { stack });
    } catch (e) {
        if (e instanceof ConfigError) throw new ValidationError(e.problems);
        throw e;
    }
}

const devPath = (index: number) => `${CONFIG_NAMESPACE}:developers[${index}]`;

function withDevelopers(raw: RawConfig, developers: unknown[]): RawConfig {
    return { values: { ...raw.values, developers }, unknownKeys: raw.unknownKeys };
}

/** Untrusted input: plain JSON within the limits (no prototype keys, bounded depth and size), and an object. */
function requireObject(body: unknown, path: string): asserts body is Record<string, unknown> {
    checkUntrustedJson(body, path);
    if (!isPlainObject(body)) {
        throw new ValidationError([{ path, message: "must be an object (a developer entry)" }], "invalid request body");
    }
}

/** Team-level fields stored as Pulumi secrets (relative to the `gitspace:` values). */
export const TEAM_SECRET_FIELDS: ReadonlyArray<ReadonlyArray<string>> = [["images", "password"]];

/**
 * The config ops that write a whole team config (`gitspace:` values) into a new stack: every leaf by path,
 * the registry password and every developer's git token as secrets.
 */
export function teamConfigOps(values: Record<string, unknown>): ConfigOp[] {
    const ops: ConfigOp[] = [];
    for (const [key, value] of Object.entries(values)) {
        if (key === "developers" && Array.isArray(value)) {
            value.forEach((entry, i) => ops.push(...setOps(devPath(i), entry, [])));
            continue;
        }
        for (const op of setOps(`${CONFIG_NAMESPACE}:${key}`, value, ["\0"])) {
            const rel = parseConfigPath(op.path);
            const secret = TEAM_SECRET_FIELDS.some((f) => f.length === rel.length && f.every((p, j) => p === rel[j]));
            ops.push(op.op === "set" ? { ...op, secret } : op);
        }
    }
    return ops;
}

/** Appends a developer. */
export function addDeveloper(raw: RawConfig, stack: string, entry: unknown): Mutation {
    const index = developerEntries(raw).length;
    requireObject(entry, devPath(index));
    const clean = stripUndefined(entry) as Record<string, unknown>;
    const name = entryName(clean);
    if (name !== undefined && findDeveloper(raw, name) >= 0) throw new DeveloperExistsError(stack, name);
    const next = withDevelopers(raw, [...developerEntries(raw), clean]);
    const team = validate(next, stack);
    return { index, developer: name!, next, team, ops: setOps(devPath(index), clean, []) };
}

/** Applies a JSON merge patch (RFC 7386: `null` deletes a field) to a developer's entry. */
export function updateDeveloper(raw: RawConfig, stack: string, developer: string, patch: unknown): Mutation {
    const index = findDeveloper(raw, developer);
    if (index < 0) throw new DeveloperNotFoundError(stack, developer);
    requireObject(patch, devPath(index));
    if ("name" in patch && patch.name !== developer) {
        throw new ValidationError([{ path: `${devPath(index)}.name`, message: `cannot rename "${developer}"; remove it and add a new developer` }], "invalid request body");
    }
    const old = developerEntries(raw)[index] as Record<string, unknown>;
    const entry = mergePatch(old, patch) as Record<string, unknown>;
    const developers = [...developerEntries(raw)];
    developers[index] = entry;
    const next = withDevelopers(raw, developers);
    const team = validate(next, stack);
    return { index, developer, next, team, ops: diffOps(devPath(index), old, entry, []) };
}

/** Start or Stop by a person: also clears a stop reason the idle reaper left (`stoppedReason`). */
export const setRunning = (raw: RawConfig, stack: string, developer: string, running: boolean) =>
    updateDeveloper(raw, stack, developer, { running, stoppedReason: null });

/**
 * The idle reaper's stop: `running: false` and `stoppedReason: "idle"`, decided on the config as it is when the
 * stop runs: nothing (undefined) when the gitspace is no longer running or no longer has an idleTimeout.
 */
export function stopForIdle(raw: RawConfig, stack: string, developer: string): Mutation | undefined {
    const resolved = validate(raw, stack).developers.find((d) => d.name === developer);
    if (!resolved) throw new DeveloperNotFoundError(stack, developer);
    if (!resolved.running || resolved.idleTimeoutMinutes === undefined) return undefined;
    return updateDeveloper(raw, stack, developer, { running: false, stoppedReason: "idle" });
}

/** Removes a developer's entry (its home data stays unless its `retainHome` is false). */
export function removeDeveloper(raw: RawConfig, stack: string, developer: string): Mutation {
    const index = findDeveloper(raw, developer);
    if (index < 0) throw new DeveloperNotFoundError(stack, developer);
    const developers = developerEntries(raw).filter((_, i) => i !== index);
    const next = withDevelopers(raw, developers);
    const team = validate(next, stack);
    return { index, developer, next, team, ops: [{ op: "remove", path: devPath(index) }] };
}

// ---------------------------------------------------------------------------------------------------------------
// Op generation

const isSecret = (rel: ReadonlyArray<string | number>) =>
    SECRET_FIELDS.some((f) => f.length === rel.length && f.every((p, i) => p === rel[i]));

function childPath(base: string, key: string | number): string {
    if (typeof key === "number") return `${base}[${key}]`;
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

/** `set` ops for every leaf of `value` at `path` (`rel`: the path relative to the developer entry). */
function setOps(path: string, value: unknown, rel: Array<string | number>): ConfigOp[] {
    if (value === undefined || value === null) return [];
    if (Array.isArray(value)) return value.flatMap((v, i) => setOps(childPath(path, i), v, [...rel, i]));
    if (isPlainObject(value)) return Object.entries(value).flatMap(([k, v]) => setOps(childPath(path, k), v, [...rel, k]));
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
        return [{ op: "set", path, value, secret: isSecret(rel) }];
    }
    throw new ValidationError([{ path, message: "unsupported value" }], "invalid request body");
}

/** Ops turning `old` into `next` at `path`: objects field by field, lists and changed types replaced whole. */
function diffOps(path: string, old: unknown, next: unknown, rel: Array<string | number>): ConfigOp[] {
    if (deepEqual(old, next)) return [];
    if (isPlainObject(old) && isPlainObject(next)) {
        const keys = [...new Set([...Object.keys(old), ...Object.keys(next)])];
        return keys.flatMap((k) => diffOps(childPath(path, k), old[k], next[k], [...rel, k]));
    }
    const ops: ConfigOp[] = [];
    if (old !== undefined && (next === undefined || typeof old === "object" || typeof next === "object")) {
        ops.push({ op: "remove", path });
    }
    return [...ops, ...setOps(path, next, rel)];
}

// ---------------------------------------------------------------------------------------------------------------
// Applying ops to a plain object (the in-memory stack, tests)

/** `gitspace:developers[3].git.token` → ["developers", 3, "git", "token"] */
export function parseConfigPath(path: string): Array<string | number> {
    const prefix = `${CONFIG_NAMESPACE}:`;
    if (!path.startsWith(prefix)) throw new Error(`not a ${CONFIG_NAMESPACE} config path: ${path}`);
    const rest = path.substring(prefix.length);
    const parts: Array<string | number> = [];
    const re = /([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\./g;
    let m: RegExpExecArray | null;
    let consumed = 0;
    while ((m = re.exec(rest)) !== null) {
        if (m.index !== consumed) throw new Error(`bad config path: ${path}`);
        consumed = re.lastIndex;
        if (m[1] !== undefined) parts.push(m[1]);
        else if (m[2] !== undefined) parts.push(Number(m[2]));
        else if (m[3] !== undefined) parts.push(JSON.parse(m[3]) as string);
    }
    if (consumed !== rest.length) throw new Error(`bad config path: ${path}`);
    return parts;
}

/** Applies ops to raw values (a copy), as `pulumi config set/rm --path` would. */
export function applyOps(values: Record<string, unknown>, ops: ConfigOp[]): Record<string, unknown> {
    const root: Record<string, unknown> = structuredClone(values);
    for (const op of ops) {
        const parts = parseConfigPath(op.path);
        let node: any = root;
        for (let i = 0; i < parts.length - 1; i++) {
            if (node[parts[i]] === undefined) {
                if (op.op === "remove") { node = undefined; break; }
                node[parts[i]] = typeof parts[i + 1] === "number" ? [] : {};
            }
            node = node[parts[i]];
        }
        if (node === undefined) continue;
        const last = parts[parts.length - 1];
        if (op.op === "set") {
            if (Array.isArray(node) && typeof last === "number" && last > node.length) {
                throw new Error(`index out of range: ${op.path}`);
            }
            node[last] = op.value;
        } else if (Array.isArray(node) && typeof last === "number") {
            node.splice(last, 1);
        } else {
            delete node[last];
        }
    }
    return root;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

export function isPlainObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function mergePatch(target: unknown, patch: unknown): unknown {
    if (!isPlainObject(patch)) return patch;
    const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
    for (const [k, v] of Object.entries(patch)) {
        if (v === null) delete out[k];
        else if (v !== undefined) out[k] = mergePatch(out[k], v);
    }
    return out;
}

function stripUndefined(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(stripUndefined);
    if (isPlainObject(v)) {
        return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined && x !== null).map(([k, x]) => [k, stripUndefined(x)]));
    }
    return v;
}

export function deepEqual(a: unknown, b: unknown): boolean {
    if (a === b) return true;
    if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
    if (isPlainObject(a) && isPlainObject(b)) {
        const ka = Object.keys(a), kb = Object.keys(b);
        return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
    }
    return false;
}

/** A developer entry for display: secret fields replaced by "[secret]". */
export function redactEntry(entry: unknown): Record<string, unknown> | undefined {
    if (!isPlainObject(entry)) return undefined;
    const copy = structuredClone(entry);
    for (const field of SECRET_FIELDS) {
        let node: any = copy;
        for (const p of field.slice(0, -1)) node = isPlainObject(node) ? node[p] : undefined;
        const last = field[field.length - 1];
        if (isPlainObject(node) && node[last] !== undefined) node[last] = "[secret]";
    }
    return copy;
}
