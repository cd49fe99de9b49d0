/**
 * Limits on untrusted JSON (a request body, a developer entry or a merge patch handed to the library) checked
 * before anything walks it recursively: a developer entry is a few dozen values, so these bounds are generous,
 * and they keep every later step (merge, validation, config ops, error messages) small and fast.
 */
import { ValidationError } from "./errors";

/** A whole team config (team stacks): room for 1,000 developers. */
export const TEAM_JSON_LIMITS = { maxDepth: 16, maxNodes: 200_000, maxStringLength: 16384 };

export const JSON_LIMITS = {
    /** Nesting depth (a developer entry needs 4: resources.requests.cpu). */
    maxDepth: 16,
    /** Values in all (objects, arrays and leaves). */
    maxNodes: 2000,
    /** Characters of one string or object key. */
    maxStringLength: 16384,
};

/** Keys that would reach an object's prototype when copied with `obj[key] = …`: rejected everywhere. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

function childPath(base: string, key: string | number): string {
    if (typeof key === "number") return `${base}[${key}]`;
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key.substring(0, 64))}]`;
}

/**
 * Checks that `value` is plain JSON data within JSON_LIMITS, without recursion (an iterative walk that stops at
 * the first problem). Throws a ValidationError naming the path of the offending value under `path`.
 */
export function checkUntrustedJson(value: unknown, path: string, limits: typeof JSON_LIMITS = JSON_LIMITS): void {
    const fail = (at: string, message: string): never => {
        throw new ValidationError([{ path: at, message }], "invalid request body", "invalid_request");
    };
    const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: value, path, depth: 0 }];
    let nodes = 0;
    while (stack.length > 0) {
        const { v, path: at, depth } = stack.pop()!;
        if (++nodes > limits.maxNodes) fail(path, `too many values (more than ${limits.maxNodes})`);
        if (depth > limits.maxDepth) fail(at, `nested deeper than ${limits.maxDepth} levels`);
        if (v === null || v === undefined || typeof v === "boolean") continue;
        if (typeof v === "number") {
            if (!Number.isFinite(v)) fail(at, "must be a finite number");
            continue;
        }
        if (typeof v === "string") {
            if (v.length > limits.maxStringLength) fail(at, `string longer than ${limits.maxStringLength} characters`);
            continue;
        }
        if (Array.isArray(v)) {
            if (v.length > limits.maxNodes) fail(at, `too many values (more than ${limits.maxNodes})`);
            for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: childPath(at, i), depth: depth + 1 });
            continue;
        }
        if (typeof v === "object" && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)) {
            const keys = Object.keys(v);
            if (keys.length > limits.maxNodes) fail(at, `too many values (more than ${limits.maxNodes})`);
            for (let i = keys.length - 1; i >= 0; i--) {
                const k = keys[i];
                if (k.length > limits.maxStringLength) fail(at, `key longer than ${limits.maxStringLength} characters`);
                if (FORBIDDEN_KEYS.has(k)) fail(childPath(at, k), `the key ${JSON.stringify(k)} is not allowed`);
                stack.push({ v: (v as Record<string, unknown>)[k], path: childPath(at, k), depth: depth + 1 });
            }
            continue;
        }
        fail(at, `unsupported value (${typeof v}); only JSON data is accepted`);
    }
}
