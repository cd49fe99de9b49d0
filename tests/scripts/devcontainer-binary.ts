/**
 * The `gitspace-devcontainer` helper (images/devcontainer, Go) the scripts run, built once with the machine's Go into
 * a cache outside the repository, keyed by a hash of its source: `npm test` and CI build it themselves, a second
 * run reuses it. The images build the same source in images/base/Dockerfile (stage `devcontainer-build`, pushed as
 * the `devcontainer` image).
 *
 * Environment: GITSPACE_GO (the go command; default /usr/local/go/bin/go when it exists, else `go` on PATH, e.g.
 * Debian's golang-go, which tests/setup/apt-packages.txt installs: the module builds with Go 1.19 and later),
 * GITSPACE_DEVCONTAINER_CACHE (default ~/.cache/gitspace-devcontainer).
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const DEVCONTAINER_SRC = path.resolve(__dirname, "..", "..", "images", "devcontainer");

/** The go command the tests use. */
export function goCommand(): string {
    if (process.env.GITSPACE_GO) return process.env.GITSPACE_GO;
    return fs.existsSync("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : "go";
}

/** SHA-256 of every file of the source (path and content), in path order. */
function sourceHash(): string {
    const h = crypto.createHash("sha256");
    const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]);
    for (const f of walk(DEVCONTAINER_SRC).sort()) {
        h.update(path.relative(DEVCONTAINER_SRC, f)).update("\0").update(fs.readFileSync(f)).update("\0");
    }
    return h.digest("hex").slice(0, 16);
}

/** True when every directory above `dir` lets other users through (mode o+x). */
function traversableByOthers(dir: string): boolean {
    for (let d = dir; ; d = path.dirname(d)) {
        if ((fs.statSync(d).mode & 0o001) === 0) return false;
        if (d === path.dirname(d)) return true;
    }
}

/**
 * The path of the binary for this source, building it when the cache has none. Tests run it as an unprivileged uid
 * too: when the cache sits where others cannot enter (root's HOME), a world-readable copy is used.
 */
export function devcontainerBinary(): string {
    const cache = process.env.GITSPACE_DEVCONTAINER_CACHE ?? path.join(os.homedir(), ".cache", "gitspace-devcontainer");
    const dir = path.join(cache, sourceHash());
    const bin = path.join(dir, "gitspace-devcontainer");
    if (!fs.existsSync(bin)) {
        fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
        const tmp = `${bin}.tmp-${process.pid}`;
        const go = goCommand();
        const r = spawnSync(go, ["build", "-trimpath", "-o", tmp, "."], {
            cwd: DEVCONTAINER_SRC, encoding: "utf8", env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly" },
        });
        if (r.error || r.status !== 0) {
            throw new Error(`cannot build images/devcontainer with ${go} (set GITSPACE_GO to a Go >= 1.19): ${r.error ?? r.stderr}`);
        }
        fs.renameSync(tmp, bin);
    }
    if (traversableByOthers(dir)) return bin;
    const staged = fs.mkdtempSync(path.join(os.tmpdir(), "gs-devcontainer-"));
    fs.chmodSync(staged, 0o755);
    fs.copyFileSync(bin, path.join(staged, "gitspace-devcontainer"));
    fs.chmodSync(path.join(staged, "gitspace-devcontainer"), 0o755);
    process.on("exit", () => fs.rmSync(staged, { recursive: true, force: true }));
    return path.join(staged, "gitspace-devcontainer");
}
