import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { DEV_UID, Entry, baseEnv, chownR, manifest, manifestObject, requireRoot, requireTool, rmrf, run, script, tmpDir } from "./helpers";

const MIGRATE = script("common/migrate-to-home.sh");
/** Names in workspaces/ that HOME already has: kept aside in the conflicts folder. */
const CONFLICTS = ["repo2", "notes", "emptydir", ".gitconfig"];

function write(p: string, content: string, mode?: number) {
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
    if (mode !== undefined) fs.chmodSync(p, mode);
}

/** The fault matrix: a legacy volume (layout b) with every kind of entry and conflict. */
function buildLegacyHome(home: string) {
    fs.mkdirSync(home, { recursive: true });
    // Already in HOME (the volume root).
    fs.symlinkSync("/etc/passwd", path.join(home, ".gitconfig"));
    write(path.join(home, "repo2", "mine.txt"), "home's repo2\n");
    write(path.join(home, "notes"), "a file named notes\n");
    fs.mkdirSync(path.join(home, "emptydir"));
    write(path.join(home, ".bashrc"), "# home bashrc\n");
    // The legacy workspaces/ directory.
    const ws = path.join(home, "workspaces");
    write(path.join(ws, "repo1", ".git", "HEAD"), "ref: refs/heads/main\n");
    write(path.join(ws, "repo1", "src", "a.txt"), "repo1 a\n");
    write(path.join(ws, "repo2", "x"), "legacy repo2\n");
    write(path.join(ws, "notes", "n.txt"), "notes is a dir here\n");
    write(path.join(ws, "emptydir"), "emptydir is a file here\n");
    write(path.join(ws, ".gitconfig"), "[user]\n\tname = legacy\n");
    write(path.join(ws, ".dotfile"), "dot\n");
    write(path.join(ws, ".config", "app", "settings.json"), "{}\n");
    write(path.join(ws, "with space", "file name.txt"), "spaces\n");
    write(path.join(ws, "new\nline", "f"), "newline in a name\n");
    write(path.join(ws, "workspaces", ".git", "HEAD"), "ref: refs/heads/main\n");
    write(path.join(ws, "workspaces", "README"), "a repo literally named workspaces, nested\n");
    write(path.join(ws, "ro-dir", "ro-file"), "read-only\n", 0o444);
    fs.chmodSync(path.join(ws, "ro-dir"), 0o555);
    write(path.join(ws, "ro-top-file"), "read-only file\n", 0o444);
    fs.symlinkSync("/etc", path.join(ws, "link-out"));
    fs.symlinkSync("repo1/src/a.txt", path.join(ws, "rel-link"));
    chownR(home, DEV_UID);
    fs.chmodSync(home, 0o2770);
}

/** manifest() exclusion: the migration's own state dir. */
const notState = (rel: string) => rel === ".gitspace" || rel.startsWith(".gitspace/");

/** What HOME must hold after the migration: the legacy entries moved up, conflicts in CONFLICTS_DIR. */
function expectedAfter(before: Map<string, Entry>, conflictsDir: string): Record<string, Entry> {
    const out = new Map<string, Entry>();
    for (const [rel, e] of before) {
        if (rel === "workspaces") continue;
        if (!rel.startsWith("workspaces/")) {
            out.set(rel, e);
            continue;
        }
        const inner = rel.slice("workspaces/".length);
        const top = inner.split("/")[0];
        out.set(CONFLICTS.includes(top) ? `${conflictsDir}/${inner}` : inner, e);
    }
    const dirMode = before.get("workspaces")!.mode; // not used: the conflicts dir is new
    void dirMode;
    return manifestObject(out);
}

function conflictsDirOf(home: string): string {
    const dirs = fs.readdirSync(home).filter((n) => n.startsWith("migrated-conflicts-"));
    assert.equal(dirs.length, 1, `one conflicts dir: ${dirs}`);
    return dirs[0];
}

function assertMigrated(home: string, before: Map<string, Entry>) {
    const cdir = conflictsDirOf(home);
    assert.match(cdir, /^migrated-conflicts-\d{8}T\d{6}Z$/);
    const after = manifest(home, notState);
    const cdirEntry = after.get(cdir);
    after.delete(cdir);
    assert.equal(cdirEntry?.type, "dir");
    assert.deepEqual(manifestObject(after), expectedAfter(before, cdir));
    const report = JSON.parse(fs.readFileSync(path.join(home, ".gitspace", "migration.json"), "utf8"));
    assert.equal(report.status, "complete");
    assert.equal(report.layout, "workspaces-subdir");
    assert.deepEqual(report.conflicts.map((c: { from: string }) => c.from).sort(), CONFLICTS.map((c) => `workspaces/${c}`).sort());
    assert.equal(report.moved.length, 10);
    assert.ok(report.moved.some((m: { from: string; to: string }) => m.from === "workspaces/new\nline" && m.to === "new\nline"));
    assert.ok(fs.existsSync(path.join(home, ".gitspace", "migration.done")));
    assert.equal(fs.readFileSync(path.join(home, "workspaces", "README"), "utf8"), "a repo literally named workspaces, nested\n");
    assert.equal(fs.readlinkSync(path.join(home, ".gitconfig")), "/etc/passwd", "planted symlink untouched");
}

describe("scripts: migrate-to-home.sh (legacy layouts, fault matrix)", function () {
    this.timeout(120000);
    let dir: string;
    let home: string;
    before(() => {
        requireRoot("creates files for another uid and runs the migration as that non-root uid");
        requireTool("setpriv", "jq", "flock");
    });
    beforeEach(() => {
        dir = tmpDir();
        home = path.join(dir, "home");
    });
    afterEach(() => rmrf(dir));

    const migrate = (args: string[] = [], extra: Record<string, string> = {}, asUid: number | undefined = DEV_UID) =>
        run(MIGRATE, [...args, home], { env: baseEnv({ HOME: home, ...extra }), asUid });

    it("moves every legacy entry (dotfiles, spaces, newlines, read-only, symlinks, nested workspaces) up; conflicts kept aside; 0 files lost", async () => {
        buildLegacyHome(home);
        const before = manifest(home);
        const r = await migrate();
        assert.equal(r.code, 0, r.stderr);
        assertMigrated(home, before);
        assert.equal(fs.statSync(path.join(home, "ro-dir")).mode & 0o777, 0o555, "read-only dir keeps its mode");
        assert.match(r.stderr, /WARNING: migrate: keep conflict: workspaces\/repo2 -> migrated-conflicts-\S+\/repo2 \(HOME already has repo2\)/);
        assert.match(r.stderr, /migrate: complete \(layout workspaces-subdir: 10 moved, 4 kept aside as conflicts/);
        assert.equal(fs.readFileSync("/etc/passwd", "utf8").length > 0, true);
    });

    it("a second run changes nothing and exits at once (done marker)", async () => {
        buildLegacyHome(home);
        assert.equal((await migrate()).code, 0);
        const all = manifestObject(manifest(home));
        const r = await migrate();
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /migrate: already done/);
        assert.deepEqual(manifestObject(manifest(home)), all);
    });

    it("--dry-run prints the plan and changes nothing", async () => {
        buildLegacyHome(home);
        const before = manifestObject(manifest(home));
        const r = await migrate(["--dry-run"]);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(manifestObject(manifest(home)), before, "nothing changed, not even a state dir");
        assert.match(r.stderr, /dry-run: would move workspaces\/repo1 -> repo1/);
        assert.match(r.stderr, /dry-run: would keep conflict: workspaces\/notes -> migrated-conflicts-\S+\/notes/);
        assert.match(r.stderr, /dry-run: would move workspaces\/workspaces -> workspaces \(after parking\)/);
        assert.match(r.stderr, /dry-run: layout workspaces-subdir; nothing was changed/);
    });

    it("kill -9 right after every rename, then a re-run: the migration finishes with 0 files lost", async () => {
        // 15 renames: 9 entries + 4 conflicts, parking the legacy dir, then its nested `workspaces` entry.
        const total = 15;
        for (let n = 1; n <= total + 1; n++) {
            rmrf(dir);
            fs.mkdirSync(dir, { recursive: true });
            fs.chmodSync(dir, 0o755);
            buildLegacyHome(home);
            const before = manifest(home);
            const killed = await migrate([], { GITSPACE_MIGRATE_FAULT_AFTER: String(n) });
            if (n <= total) assert.equal(killed.signal, "SIGKILL", `run with fault after ${n} was not killed: ${killed.stderr}`);
            else assert.equal(killed.code, 0, "no rename left to kill after");
            const r = await migrate();
            assert.equal(r.code, 0, `re-run after kill at rename ${n}: ${r.stderr}`);
            assertMigrated(home, before);
        }
    });

    it("real SIGKILLs at random moments, re-run until done: same result", async () => {
        for (let i = 0; i < 6; i++) {
            rmrf(dir);
            fs.mkdirSync(dir, { recursive: true });
            fs.chmodSync(dir, 0o755);
            buildLegacyHome(home);
            const before = manifest(home);
            // Spawn, SIGKILL after a random delay, three times in a row; then let it finish.
            for (let k = 0; k < 3; k++) {
                const delay = 10 + Math.floor(Math.random() * 300);
                let childPid = 0;
                const p = run(MIGRATE, [home], { env: baseEnv({ HOME: home }), asUid: DEV_UID, onSpawn: (pid) => (childPid = pid) });
                const t = setTimeout(() => childPid && process.kill(childPid, "SIGKILL"), delay);
                await p;
                clearTimeout(t);
            }
            const r = await migrate();
            assert.equal(r.code, 0, r.stderr);
            assertMigrated(home, before);
        }
    });

    it("volume-root layout (repos at the root, a repo named workspaces): nothing moved, HOME usable, recorded", async () => {
        write(path.join(home, "api", ".git", "HEAD"), "ref\n");
        write(path.join(home, "workspaces", ".git", "HEAD"), "ref\n");
        write(path.join(home, "workspaces", "main.go"), "package main\n");
        chownR(home, DEV_UID);
        const before = manifestObject(manifest(home));
        const r = await migrate();
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(manifestObject(manifest(home, notState)), before);
        const report = JSON.parse(fs.readFileSync(path.join(home, ".gitspace", "migration.json"), "utf8"));
        assert.equal(report.status, "nothing-to-do");
        assert.equal(report.layout, "volume-root");
        assert.match(r.stderr, /is a git repository named workspaces/);
    });

    it("symlink plants: workspaces -> /etc and workspaces -> a dir outside are not followed (even as root)", async () => {
        fs.mkdirSync(home, { recursive: true });
        fs.symlinkSync("/etc", path.join(home, "workspaces"));
        chownR(home, DEV_UID);
        let r = await migrate();
        assert.equal(r.code, 0, r.stderr);
        assert.equal(fs.readlinkSync(path.join(home, "workspaces")), "/etc");
        assert.match(r.stderr, /is a symlink \(-> \/etc\), not a legacy directory: left untouched/);
        // As root, with a target it could really move: nothing outside HOME changes.
        rmrf(home);
        const outside = path.join(dir, "outside");
        write(path.join(outside, "precious", "data"), "outside HOME\n");
        fs.mkdirSync(home);
        fs.symlinkSync(outside, path.join(home, "workspaces"));
        chownR(home, DEV_UID);
        const outsideBefore = manifestObject(manifest(outside));
        const homeBefore = manifestObject(manifest(home));
        r = await migrate([], {}, undefined);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(manifestObject(manifest(outside)), outsideBefore);
        assert.deepEqual(manifestObject(manifest(home, notState)), homeBefore);
    });

    it("the seed's self-referential workspaces -> HOME link is removed (a loop for find -L), and recorded", async () => {
        fs.mkdirSync(home, { recursive: true });
        write(path.join(home, "api", "README"), "api\n");
        fs.symlinkSync(home, path.join(home, "workspaces"));
        chownR(home, DEV_UID);
        const r = await migrate();
        assert.equal(r.code, 0, r.stderr);
        assert.ok(!fs.existsSync(path.join(home, "workspaces")) && !isLink(path.join(home, "workspaces")));
        assert.equal(fs.readFileSync(path.join(home, "api", "README"), "utf8"), "api\n");
        const report = JSON.parse(fs.readFileSync(path.join(home, ".gitspace", "migration.json"), "utf8"));
        assert.deepEqual(report.removed_links, [{ path: "workspaces", target: home }]);
    });

    it("an entry it cannot rename (a root-owned directory) is left in workspaces/ and reported: exit 3, HOME usable, retried next time", async () => {
        buildLegacyHome(home);
        const locked = path.join(home, "workspaces", "root-owned");
        write(path.join(locked, "f"), "root's\n");
        fs.chownSync(locked, 0, 0);
        fs.chmodSync(locked, 0o755);
        const r = await migrate();
        assert.equal(r.code, 3, r.stderr);
        assert.match(r.stderr, /ERROR: migrate: workspaces\/root-owned not moved: directory not writable and owned by uid 0/);
        assert.match(r.stderr, /incomplete .*HOME is usable/);
        assert.equal(fs.readFileSync(path.join(locked, "f"), "utf8"), "root's\n");
        assert.ok(fs.existsSync(path.join(home, "repo1", "src", "a.txt")));
        assert.ok(!fs.existsSync(path.join(home, ".gitspace", "migration.done")));
        const report = JSON.parse(fs.readFileSync(path.join(home, ".gitspace", "migration.json"), "utf8"));
        assert.equal(report.status, "partial");
        assert.equal(report.failed[0].from, "workspaces/root-owned");
        // Once fixed (an admin chowns it), the next run finishes.
        fs.chownSync(locked, DEV_UID, DEV_UID);
        const r2 = await migrate();
        assert.equal(r2.code, 0, r2.stderr);
        assert.equal(fs.readFileSync(path.join(home, "root-owned", "f"), "utf8"), "root's\n");
        assert.ok(!fs.existsSync(path.join(home, "workspaces", "root-owned")));
    });

    it("refuses to move across filesystems (workspaces on another tmpfs): exit 3, nothing copied or deleted", async () => {
        requireTool("unshare", "mount");
        const out = await run("unshare", ["-m", "--propagation", "private", "bash", "-euc", `
            H="$1"; M="$2"
            mkdir -p "$H" && mount -t tmpfs -o mode=0755 homefs "$H" && mkdir "$H/workspaces" && mount -t tmpfs -o mode=0755 legacyfs "$H/workspaces"
            mkdir -p "$H/workspaces/repo1" && echo data > "$H/workspaces/repo1/file" && echo dot > "$H/workspaces/.dot"
            chown -R ${DEV_UID}:${DEV_UID} "$H"
            rc=0; setpriv --reuid=${DEV_UID} --regid=${DEV_UID} --clear-groups "$M" "$H" || rc=$?
            echo "rc=$rc"; find "$H" -path "$H/.gitspace" -prune -o -print | sort; cat "$H/workspaces/repo1/file"
            jq -r .status "$H/.gitspace/migration.json"`, "_", home, MIGRATE], { env: baseEnv() });
        assert.match(out.stdout, /^rc=3$/m, out.stderr + out.stdout);
        assert.match(out.stderr, /workspaces not moved: is another filesystem \(a mount point\): refusing to copy and delete across devices/);
        assert.match(out.stdout, /workspaces\/repo1\/file\ndata\npartial\n$/);
        assert.doesNotMatch(out.stdout, new RegExp(`^${home}/repo1$`, "m"));
    });

    // "Legacy" = no gitspace init has ever prepared this HOME (scripts/README.md). Each kind of init evidence, with a
    // ~/workspaces the user made later, must keep that directory exactly as it is.
    for (const evidence of ["initialized.json", "clone-status.json", "skel.done"]) {
        it(`a HOME a gitspace already prepared (.gitspace/${evidence}) is not legacy: the user's own ~/workspaces is never flattened`, async () => {
            buildLegacyHome(home);
            fs.mkdirSync(path.join(home, ".gitspace"), { mode: 0o700 });
            fs.writeFileSync(path.join(home, ".gitspace", evidence), evidence === "initialized.json" ? '{"first_init_at":"2026-01-01T00:00:00Z"}\n' : "[]\n");
            chownR(home, DEV_UID);
            const before = manifestObject(manifest(home, notState));
            const dry = await migrate(["--dry-run"]);
            assert.equal(dry.code, 0, dry.stderr);
            assert.match(dry.stderr, /dry-run: would skip: .* was already prepared by a gitspace/);
            const r = await migrate();
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stderr, new RegExp(`skip: .* was already prepared by a gitspace \\(\\.gitspace/${evidence.replace(".", "\\.")} exists\\)`));
            assert.deepEqual(manifestObject(manifest(home, notState)), before, "HOME changed");
            const report = JSON.parse(fs.readFileSync(path.join(home, ".gitspace", "migration.json"), "utf8"));
            assert.equal(report.status, "not-legacy");
            assert.equal(report.evidence, `.gitspace/${evidence}`);
            assert.deepEqual([report.moved, report.conflicts], [[], []]);
            assert.ok(fs.existsSync(path.join(home, ".gitspace", "migration.done")));
            const again = await migrate();
            assert.match(again.stderr, /migrate: already done/);
            assert.deepEqual(manifestObject(manifest(home, notState)), before);
        });
    }

    it("an interrupted migration finishes even when an init marker appeared meanwhile (the journal wins)", async () => {
        buildLegacyHome(home);
        const before = manifest(home, notState);
        const killed = await migrate([], { GITSPACE_MIGRATE_FAULT_AFTER: "3" });
        assert.equal(killed.signal, "SIGKILL", killed.stderr);
        fs.writeFileSync(path.join(home, ".gitspace", "initialized.json"), "{}\n");
        fs.chownSync(path.join(home, ".gitspace", "initialized.json"), DEV_UID, DEV_UID);
        const r = await migrate();
        assert.equal(r.code, 0, r.stderr);
        assertMigrated(home, before);
    });

    it("fails clearly when HOME is not writable (no chown attempted)", async () => {
        fs.mkdirSync(path.join(home, "workspaces", "a"), { recursive: true });
        const r = await migrate();
        assert.equal(r.code, 1);
        assert.match(r.stderr, /ERROR: migrate: HOME_DIR .* is not writable by uid 4242; the pod's fsGroup must make the volume writable/);
    });
});

function isLink(p: string): boolean {
    try {
        return fs.lstatSync(p).isSymbolicLink();
    } catch {
        return false;
    }
}
