import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { DEV_UID, baseEnv, chownR, manifest, manifestObject, requireRoot, requireTool, rmrf, run, script, tmpDir, podEnv } from "./helpers";

const UBUNTU_PASSWD = [
    "root:x:0:0:root:/root:/bin/bash",
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
    "ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash",
    "",
].join("\n");
const UBUNTU_GROUP = ["root:x:0:", "adm:x:4:syslog,ubuntu", "sudo:x:27:ubuntu", "users:x:100:", "ubuntu:x:1000:", "nogroup:x:65534:", ""].join("\n");

describe("scripts: write-user-identity.sh (the IDE container's /etc/passwd and /etc/group)", () => {
    let dir: string;
    let etc: string;
    let out: string;
    beforeEach(() => {
        dir = tmpDir();
        etc = path.join(dir, "etc");
        out = path.join(dir, "identity");
        fs.mkdirSync(etc);
        fs.mkdirSync(out);
        fs.writeFileSync(path.join(etc, "passwd"), UBUNTU_PASSWD);
        fs.writeFileSync(path.join(etc, "group"), UBUNTU_GROUP);
    });
    afterEach(() => rmrf(dir));

    const env = (extra: Record<string, string> = {}) =>
        // The pod env of a default developer (gitspaceEnv): HOME /home/vscode, GITSPACE_USER vscode, uid/gid 1000.
        podEnv({}, { GITSPACE_ETC_DIR: etc, GITSPACE_IDENTITY_DIR: out, ...extra });

    it("replaces Ubuntu 24.04's `ubuntu` (uid 1000) by the configured user, as a non-root process", async () => {
        chownR(out, DEV_UID);
        const r = await run(script("common/write-user-identity.sh"), [], { env: env(), asUid: DEV_UID });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /^\[gitspace\] identity: vscode uid=1000 gid=1000 .*replaced conflicting user\(s\): ubuntu/m);
        const passwd = fs.readFileSync(path.join(out, "passwd"), "utf8").trim().split("\n");
        const group = fs.readFileSync(path.join(out, "group"), "utf8").trim().split("\n");
        assert.deepEqual(passwd.filter((l) => l.split(":")[2] === "1000"), ["vscode:x:1000:1000:vscode:/home/vscode:/bin/bash"]);
        assert.equal(passwd.filter((l) => l.startsWith("ubuntu:")).length, 0);
        assert.ok(passwd.includes("root:x:0:0:root:/root:/bin/bash"), "root kept");
        assert.ok(passwd.includes("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin"), "nobody kept");
        assert.deepEqual(group.filter((l) => l.split(":")[2] === "1000"), ["vscode:x:1000:"]);
        assert.ok(group.includes("adm:x:4:syslog"), "removed user dropped from member lists: " + group.join(" | "));
        assert.ok(group.includes("sudo:x:27:"), group.join(" | "));
        for (const f of ["passwd", "group"]) assert.equal(fs.statSync(path.join(out, f)).mode & 0o777, 0o644);
    });

    it("real `id` with the files mounted over /etc/passwd and /etc/group prints uid=1000(vscode) gid=1000(vscode) groups=1000(vscode)", async () => {
        requireRoot("bind-mounts the generated files over /etc/passwd in a private mount namespace");
        requireTool("unshare", "setpriv", "id");
        const r = await run(script("common/write-user-identity.sh"), [], { env: env() });
        assert.equal(r.code, 0, r.stderr);
        const idOut = await run("unshare", ["-m", "--propagation", "private", "bash", "-c", `mount --bind "$OUT/passwd" /etc/passwd && mount --bind "$OUT/group" /etc/group && exec setpriv --reuid=1000 --regid=1000 --groups=1000 id`], { env: baseEnv({ OUT: out }) });
        assert.equal(idOut.code, 0, idOut.stderr);
        assert.equal(idOut.stdout.trim(), "uid=1000(vscode) gid=1000(vscode) groups=1000(vscode)");
        const whoami = await run("unshare", ["-m", "--propagation", "private", "bash", "-c", `mount --bind "$OUT/passwd" /etc/passwd && exec setpriv --reuid=1000 --regid=1000 --clear-groups bash -c 'getent passwd vscode; getent passwd 1000; getent passwd ubuntu || echo no-ubuntu'`], { env: baseEnv({ OUT: out }) });
        assert.equal(whoami.stdout, "vscode:x:1000:1000:vscode:/home/vscode:/bin/bash\nvscode:x:1000:1000:vscode:/home/vscode:/bin/bash\nno-ubuntu\n");
    });

    it("is idempotent: a second run rewrites nothing (same inode, same mtime)", async () => {
        assert.equal((await run(script("common/write-user-identity.sh"), [], { env: env() })).code, 0);
        const before = ["passwd", "group"].map((f) => fs.statSync(path.join(out, f)));
        await new Promise((r) => setTimeout(r, 20));
        const r = await run(script("common/write-user-identity.sh"), [], { env: env() });
        assert.equal(r.code, 0, r.stderr);
        const after = ["passwd", "group"].map((f) => fs.statSync(path.join(out, f)));
        for (let i = 0; i < 2; i++) {
            assert.equal(after[i].ino, before[i].ino);
            assert.equal(after[i].mtimeMs, before[i].mtimeMs);
        }
    });

    it("handles another configured identity (name and gid differ from the image's)", async () => {
        const r = await run(script("common/write-user-identity.sh"), [], { env: env({ GITSPACE_USER: "alice", GITSPACE_UID: "1500", GITSPACE_GID: "100", HOME: "/home/alice" }) });
        assert.equal(r.code, 0, r.stderr);
        const passwd = fs.readFileSync(path.join(out, "passwd"), "utf8");
        const group = fs.readFileSync(path.join(out, "group"), "utf8");
        assert.match(passwd, /^alice:x:1500:100:alice:\/home\/alice:\/bin\/bash$/m);
        assert.match(passwd, /^ubuntu:x:1000:/m, "ubuntu does not conflict with 1500 and stays");
        assert.match(group, /^alice:x:100:$/m);
        assert.doesNotMatch(group, /^users:/m, "group `users` held gid 100: replaced");
    });

    it("refuses bad input with a clear message: uid 0, bad name, missing identity dir", async () => {
        let r = await run(script("common/write-user-identity.sh"), [], { env: env({ GITSPACE_UID: "0" }) });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /\[gitspace\] ERROR: .*must not be 0/);
        r = await run(script("common/write-user-identity.sh"), [], { env: env({ GITSPACE_USER: "Bad:Name" }) });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /not a valid user name/);
        r = await run(script("common/write-user-identity.sh"), [], { env: env({ GITSPACE_IDENTITY_DIR: path.join(dir, "missing") }) });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /identity directory .* does not exist/);
    });
});

describe("scripts: supported-os-distribution.sh", () => {
    let dir: string;
    beforeEach(() => (dir = tmpDir()));
    afterEach(() => rmrf(dir));
    const check = (content: string) => {
        fs.writeFileSync(path.join(dir, "os-release"), content);
        return run(script("common/supported-os-distribution.sh"), [], { env: baseEnv({ GITSPACE_OS_RELEASE: path.join(dir, "os-release") }) });
    };

    it("accepts Ubuntu 24.04, Debian 12 and a derivative with ID_LIKE", async () => {
        for (const content of [
            'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n',
            'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
            'NAME="Linux Mint"\nID=linuxmint\nID_LIKE="ubuntu debian"\n',
        ]) {
            const r = await check(content);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stderr, /^\[gitspace\] distribution: .* is supported$/m);
        }
    });

    it("rejects Alpine and Fedora with a clear error, and a missing file", async () => {
        for (const [content, name] of [
            ['NAME="Alpine Linux"\nID=alpine\nPRETTY_NAME="Alpine Linux v3.20"\n', "Alpine"],
            ['NAME="Fedora Linux"\nID=fedora\nPRETTY_NAME="Fedora Linux 40"\n', "Fedora"],
        ]) {
            const r = await check(content);
            assert.equal(r.code, 1);
            assert.match(r.stderr, new RegExp(`\\[gitspace\\] ERROR: unsupported distribution: ${name}.*Debian or Ubuntu`));
        }
        const r = await run(script("common/supported-os-distribution.sh"), [], { env: baseEnv({ GITSPACE_OS_RELEASE: path.join(dir, "nope") }) });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /cannot read os-release/);
    });

    it("accepts this test machine's own /etc/os-release (Debian)", async () => {
        const r = await run(script("common/supported-os-distribution.sh"), [], { env: baseEnv() });
        assert.equal(r.code, 0, r.stderr);
    });
});

describe("scripts: set-env.sh (skeleton dotfiles on a fresh HOME)", () => {
    let dir: string;
    let home: string;
    let skel: string;
    beforeEach(() => {
        dir = tmpDir();
        home = path.join(dir, "home");
        skel = path.join(dir, "skel");
        fs.mkdirSync(home);
        fs.mkdirSync(path.join(skel, ".config", "x"), { recursive: true });
        fs.writeFileSync(path.join(skel, ".bashrc"), "# skel bashrc\n");
        fs.writeFileSync(path.join(skel, ".profile"), "# skel profile\n");
        fs.writeFileSync(path.join(skel, ".config", "x", "y"), "skel\n");
    });
    afterEach(() => rmrf(dir));
    const env = () => baseEnv({ HOME: home, GITSPACE_SKEL_DIR: skel });

    it("copies the skeleton into an empty HOME as the developer, never overwriting, once", async () => {
        fs.writeFileSync(path.join(home, ".bashrc"), "# mine\n");
        fs.mkdirSync(path.join(home, ".config"));
        fs.symlinkSync("/etc/passwd", path.join(home, ".profile.d"));
        chownR(home, DEV_UID);
        const r = await run(script("common/set-env.sh"), [], { env: env(), asUid: DEV_UID });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(fs.readFileSync(path.join(home, ".bashrc"), "utf8"), "# mine\n", "user file kept");
        assert.equal(fs.readFileSync(path.join(home, ".profile"), "utf8"), "# skel profile\n");
        assert.ok(!fs.existsSync(path.join(home, ".config", "x")), "an existing dir is not merged into");
        assert.equal(fs.statSync(path.join(home, ".profile")).uid, DEV_UID);
        assert.match(r.stderr, /copied 1 \(\.profile\), kept 2 existing/);
        // The user deletes .profile: the next start does not bring it back, and changes nothing.
        fs.unlinkSync(path.join(home, ".profile"));
        const before = manifestObject(manifest(home));
        const r2 = await run(script("common/set-env.sh"), [], { env: env(), asUid: DEV_UID });
        assert.equal(r2.code, 0, r2.stderr);
        assert.deepEqual(manifestObject(manifest(home)), before);
    });
});
