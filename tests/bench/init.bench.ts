/**
 * Benchmark: warm start of the init container with a HOME of 1k, 10k and 100k files, against the seed's
 * `chown -R uid:gid HOME` on the same tree, in one run. Two warm-start figures:
 *   - init: the whole gitspace-init.sh (all steps; no repository to clone, so no network);
 *   - migrate+identity: migrate-to-home.sh + write-user-identity.sh, the part that touched HOME in the seed.
 * Each figure is the best of 3 runs after one cold run has prepared HOME (migration done, skeleton copied).
 * Prints seconds and ratios; asserts nothing (tests do not assert timings).
 *
 *   npm run bench:init        (as root: chown -R needs it; GITSPACE_BENCH_SIZES=1000,10000 to choose sizes)
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { devcontainerBinary } from "../scripts/devcontainer-binary";

const ROOT = path.resolve(__dirname, "..", "..");
const COMMON = path.join(ROOT, "scripts", "common");
const SIZES = (process.env.GITSPACE_BENCH_SIZES ?? "1000,10000,100000").split(",").map(Number);
const UID = process.getuid ? process.getuid() : 0;
const GID = process.getgid ? process.getgid() : 0;

/** HOME with `n` files: node_modules-like trees, 100 files per directory, a few dotfiles. */
function buildHome(home: string, n: number) {
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(path.join(home, ".bashrc"), "# bench\n");
    const perDir = 100;
    for (let i = 0; i < n; i++) {
        const d = path.join(home, "project", "node_modules", `pkg${Math.floor(i / (perDir * 50))}`, `dir${Math.floor(i / perDir)}`);
        if (i % perDir === 0) fs.mkdirSync(d, { recursive: true });
        fs.writeFileSync(path.join(d, `f${i}.js`), "module.exports = 1;\n");
    }
}

function time(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
    const start = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { env, encoding: "utf8" });
    const s = Number(process.hrtime.bigint() - start) / 1e9;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
    return s;
}

const best = (f: () => number, n = 3) => Math.min(...Array.from({ length: n }, f));

/** Drops the page, dentry and inode caches (root only), as on a pod start with a freshly attached volume. */
function dropCaches(): boolean {
    try {
        spawnSync("sync");
        fs.writeFileSync("/proc/sys/vm/drop_caches", "3");
        return true;
    } catch {
        return false;
    }
}

function main() {
    if (UID !== 0) console.warn("[bench] not root: chown -R to your own uid still walks every file, figures stay comparable");
    const rows: string[] = [];
    for (const size of SIZES) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gs-bench-"));
        try {
            const home = path.join(dir, "home");
            const identity = path.join(dir, "identity");
            fs.mkdirSync(identity);
            const t0 = Date.now();
            buildHome(home, size);
            const buildS = (Date.now() - t0) / 1000;
            const env = {
                PATH: process.env.PATH,
                LANG: "C.UTF-8",
                HOME: home,
                GITSPACE_USER: "vscode",
                GITSPACE_UID: String(UID === 0 ? 1000 : UID),
                GITSPACE_GID: String(UID === 0 ? 1000 : GID),
                GITSPACE_MIGRATE_LEGACY: "true",
                GITSPACE_REPOS: "[]",
                GITSPACE_IDENTITY_DIR: identity,
                GITSPACE_GIT_CREDENTIALS_DIR: path.join(dir, "no-credentials"),
                GIT_CONFIG_SYSTEM: path.join(dir, "gitconfig"),
                GITSPACE_DEVCONTAINER: devcontainerBinary(),
            };
            // Cold start once: migration recorded, skeleton copied.
            time(path.join(COMMON, "gitspace-init.sh"), [], env);
            const init = best(() => time(path.join(COMMON, "gitspace-init.sh"), [], env));
            const part = best(() => time("bash", ["-c", `"$1/migrate-to-home.sh" "$HOME" && "$1/write-user-identity.sh"`, "_", COMMON], env));
            const chown = best(() => time("chown", ["-R", `${UID}:${GID}`, home], env), 2);
            // Cold cache: what a pod start on a freshly attached volume sees.
            const canDrop = dropCaches();
            const initCold = canDrop ? time(path.join(COMMON, "gitspace-init.sh"), [], env) : NaN;
            if (canDrop) dropCaches();
            const chownCold = canDrop ? time("chown", ["-R", `${UID}:${GID}`, home], env) : NaN;
            const files = Number(spawnSync("bash", ["-c", `find "$1" -type f | wc -l`, "_", home], { encoding: "utf8" }).stdout.trim());
            rows.push(
                [
                    `${String(size).padStart(7)} files (${files} in HOME, built in ${buildS.toFixed(1)} s)`,
                    `init ${init.toFixed(3)} s`,
                    `migrate+identity ${part.toFixed(3)} s`,
                    `chown -R ${chown.toFixed(3)} s`,
                    `chown/init ${(chown / init).toFixed(1)}x`,
                    `chown/migrate+identity ${(chown / part).toFixed(1)}x`,
                    canDrop
                        ? `cold cache: init ${initCold.toFixed(3)} s, chown -R ${chownCold.toFixed(3)} s, chown/init ${(chownCold / initCold).toFixed(1)}x`
                        : "cold cache: not measured (needs root to drop caches)",
                ].join(" | "),
            );
            console.log(rows[rows.length - 1]);
        } finally {
            spawnSync("rm", ["-rf", dir]);
        }
    }
    console.log("\nwarm start of gitspace-init.sh vs the seed's `chown -R uid:gid HOME` (hot cache: best of 3; cold cache: caches dropped before each; goal: <= 1 s at 100k files, >= 50x)");
    for (const r of rows) console.log(r);
}

main();
