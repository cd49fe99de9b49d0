import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { COMMON, DEV_UID, GitServer, chownR, grepTree, makeBareRepo, manifest, manifestObject, podEnv, requireRoot, requireTool, rmrf, run, script, startGitServer, stepDurations, tmpDir, writeGitSecret } from "./helpers";

const TOKEN = "gs-init-token-55e1c0ffee";
const STEPS = ["supported-os-distribution", "migrate-to-home", "write-user-identity", "set-env", "setup-git-credentials", "clone-code", "detect-devcontainer-user"];

describe("scripts: gitspace-init.sh end to end (non-root, real git server, legacy volume)", function () {
    this.timeout(60000);
    let dir: string;
    let home: string;
    let server: GitServer;
    let env: Record<string, string>;

    before(async () => {
        requireRoot("prepares files for the developer uid and runs the init as that uid");
        requireTool("git", "jq", "setpriv");
        dir = tmpDir();
        const srv = path.join(dir, "srv");
        fs.mkdirSync(srv);
        makeBareRepo(srv, "api", "api content");
        server = await startGitServer(srv, "dev", TOKEN);
        // Secrets, image files, identity emptyDir.
        // The developer as the stack config describes it; env and Secret come from the program's own builders.
        const developer = {
            name: "dev",
            user: { name: "dev", uid: DEV_UID, gid: DEV_UID },
            repos: [{ url: `${server.url}/api.git`, name: "api" }, { url: `${server.url}/web.git`, name: "web" }],
            migrateLegacyWorkspaces: true,
            git: { username: "dev", token: TOKEN },
        };
        const creds = path.join(dir, "git");
        writeGitSecret(creds, developer);
        for (const f of ["username", "token", "hosts"]) {
            fs.chownSync(path.join(creds, f), 0, DEV_UID);
            fs.chmodSync(path.join(creds, f), 0o440);
        }
        const etc = path.join(dir, "etc");
        fs.mkdirSync(path.join(etc, "skel"), { recursive: true });
        fs.writeFileSync(path.join(etc, "passwd"), "root:x:0:0:root:/root:/bin/bash\nubuntu:x:1000:1000::/home/ubuntu:/bin/bash\n");
        fs.writeFileSync(path.join(etc, "group"), "root:x:0:\nubuntu:x:1000:\n");
        fs.writeFileSync(path.join(etc, "skel", ".bashrc"), "# skel\n");
        fs.writeFileSync(path.join(etc, "gitconfig"), `[credential]\n\thelper = ${path.join(COMMON, "git-credential-gitspace")}\n`);
        fs.mkdirSync(path.join(dir, "identity"));
        chownR(path.join(dir, "identity"), DEV_UID);
        // A legacy volume: workspaces/ with a repo and a dotfile; its devcontainer.json asks for another user.
        home = path.join(dir, "home", "dev");
        fs.mkdirSync(path.join(home, "workspaces", "legacy", ".devcontainer"), { recursive: true });
        fs.writeFileSync(path.join(home, "workspaces", "legacy", "file"), "legacy\n");
        fs.writeFileSync(path.join(home, "workspaces", ".dotfile"), "dot\n");
        chownR(path.join(dir, "home"), DEV_UID);
        fs.chmodSync(home, 0o2770);
        env = podEnv(developer, {
            HOME: home,
            GITSPACE_GIT_CREDENTIALS_DIR: creds,
            GITSPACE_IDENTITY_DIR: path.join(dir, "identity"),
            GITSPACE_ETC_DIR: etc,
            GITSPACE_SKEL_DIR: path.join(etc, "skel"),
            GIT_CONFIG_SYSTEM: path.join(etc, "gitconfig"),
            GITSPACE_CLONE_ATTEMPTS: "2",
            GITSPACE_CLONE_RETRY_DELAY: "0.1",
        });
        assert.equal(env.GITSPACE_MIGRATE_LEGACY, "true");
        assert.equal(env.GITSPACE_UID, String(DEV_UID));
    });
    after(async () => {
        await server.close();
        rmrf(dir);
    });

    const init = () => run(script("common/gitspace-init.sh"), [], { env, asUid: DEV_UID, groups: [DEV_UID] });

    it("first start: every step logged with a duration; HOME migrated, identity written, repo cloned, failure reported, exit 0", async () => {
        fs.writeFileSync(path.join(home, "workspaces", "legacy", ".devcontainer", "devcontainer.json"), '{ "remoteUser": "node", // JSONC\n}');
        const r = await init();
        assert.equal(r.code, 0, r.stderr);
        const steps = stepDurations(r.stderr);
        assert.deepEqual([...steps.keys()], STEPS, r.stderr);
        for (const s of STEPS) assert.match(r.stderr, new RegExp(`^\\[gitspace\\] step: ${s}$`, "m"));
        for (const line of r.stderr.trim().split("\n")) assert.match(line, /^\[gitspace\] /, `unprefixed log line: ${line}`);
        assert.equal(fs.readFileSync(path.join(home, "legacy", "file"), "utf8"), "legacy\n");
        assert.equal(fs.readFileSync(path.join(home, ".dotfile"), "utf8"), "dot\n");
        assert.ok(!fs.existsSync(path.join(home, "workspaces")));
        assert.equal(fs.readFileSync(path.join(home, "api", "README"), "utf8"), "api content\n");
        assert.equal(fs.readFileSync(path.join(home, ".bashrc"), "utf8"), "# skel\n");
        assert.match(fs.readFileSync(path.join(dir, "identity", "passwd"), "utf8"), new RegExp(`^dev:x:${DEV_UID}:${DEV_UID}:dev:${home}:/bin/bash$`, "m"));
        assert.match(r.stderr, /ERROR: clone web: failed after 2 attempt\(s\)/);
        assert.match(r.stderr, /git credentials: mounted/);
        assert.match(r.stderr, /init: HOME .* ready in \d+\.\d{3}s/);
        assert.deepEqual(grepTree(home, TOKEN), []);
        assert.ok(!r.stderr.includes(TOKEN));
        for (const p of fs.readdirSync(home)) assert.equal(fs.lstatSync(path.join(home, p)).uid, DEV_UID, `${p} owned by the developer`);
    });

    it("warm start: fast, every step still logged, and nothing in HOME changes", async () => {
        const before = manifestObject(manifest(home));
        const r = await init();
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual([...stepDurations(r.stderr).keys()], STEPS);
        assert.match(r.stderr, /migrate: already done/);
        assert.match(r.stderr, /clone api: .* already exists, left untouched/);
        assert.deepEqual(manifestObject(manifest(home)), before);
        assert.ok(stepDurations(r.stderr).get("migrate-to-home")! < 0.5, "migration skipped in O(1)");
    });

    it("warns when the repository's devcontainer.json asks for another user (runAsUser is fixed by the pod)", async () => {
        fs.mkdirSync(path.join(home, "api", ".devcontainer"), { recursive: true });
        fs.writeFileSync(path.join(home, "api", ".devcontainer", "devcontainer.json"), '{\n  // comment\n  "containerUser": "1000:1000",\n}\n');
        const r = await init();
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, new RegExp(`WARNING: devcontainer user: .*api/.devcontainer/devcontainer.json asks for '1000:1000' but this gitspace runs as dev \\(uid ${DEV_UID}, gid ${DEV_UID}\\)`));
        fs.rmSync(path.join(home, "api", ".devcontainer"), { recursive: true });
    });

    it("migrateLegacyWorkspaces turned on later for a HOME this gitspace already initialised: the user's own ~/workspaces is left alone", async () => {
        const fresh = path.join(dir, "home", "fresh");
        fs.mkdirSync(fresh);
        chownR(fresh, DEV_UID);
        const off = { ...env, HOME: fresh, GITSPACE_MIGRATE_LEGACY: "false", GITSPACE_REPOS: "[]" };
        let r = await run(script("common/gitspace-init.sh"), [], { env: off, asUid: DEV_UID, groups: [DEV_UID] });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(fs.existsSync(path.join(fresh, ".gitspace", "initialized.json")), "the init marks the HOME it prepared");
        fs.mkdirSync(path.join(fresh, "workspaces", "project"), { recursive: true });
        fs.writeFileSync(path.join(fresh, "workspaces", "project", "main.go"), "package main\n");
        chownR(fresh, DEV_UID);
        const before = manifestObject(manifest(fresh, (p) => p.startsWith(".gitspace")));
        r = await run(script("common/gitspace-init.sh"), [], { env: { ...off, GITSPACE_MIGRATE_LEGACY: "true" }, asUid: DEV_UID, groups: [DEV_UID] });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /migrate: skip: .* was already prepared by a gitspace/);
        assert.deepEqual(manifestObject(manifest(fresh, (p) => p.startsWith(".gitspace"))), before);
        assert.equal(JSON.parse(fs.readFileSync(path.join(fresh, ".gitspace", "migration.json"), "utf8")).status, "not-legacy");
    });

    it("fails with a clear message on an unsupported distribution or a missing HOME", async () => {
        fs.writeFileSync(path.join(dir, "os-release"), "ID=alpine\n");
        let r = await run(script("common/gitspace-init.sh"), [], { env: { ...env, GITSPACE_OS_RELEASE: path.join(dir, "os-release") }, asUid: DEV_UID, groups: [DEV_UID] });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /step: supported-os-distribution failed \(exit 1\)/);
        // Booleans are exactly what the program writes: a look-alike is an error before anything in HOME changes.
        for (const v of ["yes", "True", "1", "on", "TRUE", "true "]) {
            const before = manifestObject(manifest(home));
            r = await run(script("common/gitspace-init.sh"), [], { env: { ...env, GITSPACE_MIGRATE_LEGACY: v }, asUid: DEV_UID, groups: [DEV_UID] });
            assert.equal(r.code, 1, v);
            assert.match(r.stderr, new RegExp(`ERROR: GITSPACE_MIGRATE_LEGACY must be 'true' or 'false' \\(got '${v}'\\)`));
            assert.deepEqual(manifestObject(manifest(home)), before);
        }
        r = await run(script("common/gitspace-init.sh"), [], { env: { ...env, HOME: path.join(dir, "nohome") }, asUid: DEV_UID });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /HOME .* does not exist \(is the home volume mounted\?\)/);
    });
});
