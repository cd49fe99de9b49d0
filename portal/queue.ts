/**
 * A per-key async queue: operations with the same key (a stack name) run one at a time in arrival order;
 * operations with different keys run in parallel.
 */
export class KeyedQueue {
    private readonly tails = new Map<string, Promise<void>>();
    private readonly depth = new Map<string, number>();

    /** Number of operations queued or running for `key`. */
    size(key: string): number {
        return this.depth.get(key) ?? 0;
    }

    /**
     * Runs `fn` after every earlier operation on `key` settled. `onQueued(position)` is called (synchronously)
     * when `fn` has to wait, with the number of operations ahead of it.
     */
    run<T>(key: string, fn: () => Promise<T>, onQueued?: (position: number) => void): Promise<T> {
        const ahead = this.size(key);
        this.depth.set(key, ahead + 1);
        if (ahead > 0) onQueued?.(ahead);
        const previous = this.tails.get(key) ?? Promise.resolve();
        const result = previous.then(() => fn());
        const tail = result.then(() => undefined, () => undefined).then(() => {
            const left = this.size(key) - 1;
            if (left === 0) {
                this.depth.delete(key);
                this.tails.delete(key);
            } else {
                this.depth.set(key, left);
            }
        });
        this.tails.set(key, tail);
        return result;
    }
}
