/**
 * Retry of an engine operation that lost the race for the stack lock to another process (Automation API
 * `ConcurrentUpdateError`), with exponential backoff and jitter; then a clear StackBusyError.
 */
import { ConcurrentUpdateError } from "@pulumi/pulumi/automation";
import { StackBusyError } from "./errors";

export interface RetryOptions {
    /** Attempts in all (the first one included). Default 6. */
    attempts?: number;
    /** Delay before the first retry. Default 1000 ms. */
    initialDelayMs?: number;
    /** Upper bound of one delay. Default 15000 ms. */
    maxDelayMs?: number;
    /** Multiplier between delays. Default 2. */
    factor?: number;
    /** Random spread of a delay, 0..1. Default 0.2 (±20 %). */
    jitter?: number;
    /** Injected for tests. */
    sleep?: (ms: number) => Promise<void>;
    random?: () => number;
}

export const DEFAULT_RETRY: Required<Omit<RetryOptions, "sleep" | "random">> = {
    attempts: 6, initialDelayMs: 1000, maxDelayMs: 15000, factor: 2, jitter: 0.2,
};

/** Is this the Automation API's "another update is in progress" error (by class or, across copies of the SDK, by name)? */
export function isConcurrentUpdateError(e: unknown): boolean {
    return e instanceof ConcurrentUpdateError || (e instanceof Error && e.name === "ConcurrentUpdateError");
}

/** The delay before retry number `retry` (1-based), without jitter. */
export function backoffDelay(retry: number, opts: RetryOptions = {}): number {
    const o = { ...DEFAULT_RETRY, ...opts };
    return Math.min(o.maxDelayMs, o.initialDelayMs * o.factor ** (retry - 1));
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn`; on ConcurrentUpdateError waits and retries, up to `attempts` in all, then throws StackBusyError.
 * Any other error is thrown at once. `onRetry` is told about each wait.
 */
export async function withBusyRetry<T>(
    stack: string,
    fn: (attempt: number) => Promise<T>,
    opts: RetryOptions = {},
    onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void,
): Promise<T> {
    const o = { ...DEFAULT_RETRY, ...opts };
    const sleep = opts.sleep ?? defaultSleep;
    const random = opts.random ?? Math.random;
    let last: unknown;
    for (let attempt = 1; attempt <= o.attempts; attempt++) {
        try {
            return await fn(attempt);
        } catch (e) {
            if (!isConcurrentUpdateError(e)) throw e;
            last = e;
            if (attempt === o.attempts) break;
            const base = backoffDelay(attempt, o);
            const delayMs = Math.round(base * (1 + o.jitter * (2 * random() - 1)));
            onRetry?.({ attempt, delayMs, error: e });
            await sleep(delayMs);
        }
    }
    throw new StackBusyError(stack, o.attempts, last);
}

/**
 * Did the CLI read the stack's checkpoint while another process was writing it? The DIY backend reads it without
 * the stack lock (every command that loads the stack does, an update before it takes the lock), and a CLI `pulumi up`
 * racing the portal rewrites it after every step: the read then ends early (`failed to load checkpoint: EOF`, or
 * `… unexpected end of JSON input`). The command stopped before it did anything, so it can run again. Only the
 * CLI's own final error line counts, never a resource's message that happens to contain the words.
 */
export function isTornStateRead(e: unknown): boolean {
    if (!(e instanceof Error)) return false;
    const stderr = (e as { commandResult?: { stderr?: unknown } }).commandResult?.stderr;
    return typeof stderr === "string" && TORN_STATE_READ.test(stderr);
}

const TORN_STATE_READ = /^error: failed to load checkpoint: (?:place \d+: )?(?:EOF|unexpected EOF|unexpected end of JSON input)\r?$/m;

export interface StateReadRetryOptions {
    /** Attempts in all (the first one included). Default 6. */
    attempts?: number;
    /** Delay before retry n is n times this. Default 250 ms (a write takes milliseconds). */
    delayMs?: number;
    /** Injected for tests. */
    sleep?: (ms: number) => Promise<void>;
}

/**
 * Runs a CLI command again while it fails on a torn checkpoint read (`isTornStateRead`); any other outcome, and the
 * last torn read once the attempts are spent, is the caller's as it came.
 */
export async function withStateReadRetry<T>(fn: () => Promise<T>, opts: StateReadRetryOptions = {}): Promise<T> {
    const attempts = opts.attempts ?? 6;
    const sleep = opts.sleep ?? defaultSleep;
    for (let attempt = 1; ; attempt++) {
        try {
            return await fn();
        } catch (e) {
            if (!isTornStateRead(e) || attempt >= attempts) throw e;
            await sleep(attempt * (opts.delayMs ?? 250));
        }
    }
}
