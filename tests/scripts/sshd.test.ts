import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { baseEnv, chownR, freePort, requireRoot, requireTool, rmrf, run, script, sleep, tmpDir, waitForPort, podEnv } from "./helpers";

const UID = 1000;

/**
 * A real sshd started like the IDE container does: the generated passwd/group mounted over /etc/passwd and
 * /etc/group (private mount namespace), running as uid 1000 with the fsGroup as supplementary group, HOME 2770.
 */
describe("scripts: run-ssh-server.sh (OpenSSH as the developer, key-only, across a restart)", function () {
    this.timeout(60000);
    let dir: string;
    let home: string;
    let secret: string;
    let identity: string;
    let runtime: string;
    let port: number;
    let sshd: ChildProcess | undefined;
    let sshdLog = "";

    before(async () => {
        requireRoot("mounts the identity files in a private mount namespace and switches to uid 1000");
        requireTool("sshd", "ssh", "ssh-keygen", "ssh-keyscan", "unshare", "setpriv");
        dir = tmpDir();
        home = path.join(dir, "home", "vscode");
        secret = path.join(dir, "secret");
        identity = path.join(dir, "identity");
        // Under a world-writable sticky parent, like /tmp.
        fs.mkdirSync(path.join(dir, "tmp"));
        fs.chmodSync(path.join(dir, "tmp"), 0o1777);
        runtime = path.join(dir, "tmp", "gitspace-sshd-1000");
        fs.mkdirSync(home, { recursive: true });
        fs.mkdirSync(secret);
        fs.mkdirSync(identity);
        // The Secret, as Pulumi generates it once: host key + authorized_keys, mode 0440 root:fsGroup.
        await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "host", "-f", path.join(secret, "ssh_host_ed25519_key")]);
        await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "client", "-f", path.join(dir, "client_key")]);
        await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "home-key", "-f", path.join(dir, "home_key")]);
        fs.copyFileSync(path.join(dir, "client_key.pub"), path.join(secret, "authorized_keys"));
        for (const f of fs.readdirSync(secret)) {
            fs.chownSync(path.join(secret, f), 0, UID);
            fs.chmodSync(path.join(secret, f), 0o440);
        }
        // HOME as fsGroup leaves it: group-writable + setgid; a key in ~/.ssh/authorized_keys too.
        fs.mkdirSync(path.join(home, ".ssh"));
        fs.copyFileSync(path.join(dir, "home_key.pub"), path.join(home, ".ssh", "authorized_keys"));
        chownR(path.join(dir, "home"), UID);
        fs.chmodSync(home, 0o2770);
        fs.chmodSync(path.join(home, ".ssh"), 0o2770);
        fs.chmodSync(path.join(home, ".ssh", "authorized_keys"), 0o660);
        // The identity files, written by the real script.
        fs.writeFileSync(path.join(dir, "passwd"), "root:x:0:0:root:/root:/bin/bash\nubuntu:x:1000:1000::/home/ubuntu:/bin/bash\nsshd:x:101:65534::/run/sshd:/usr/sbin/nologin\n");
        fs.writeFileSync(path.join(dir, "group"), "root:x:0:\nubuntu:x:1000:\nnogroup:x:65534:\n");
        const w = await run(script("common/write-user-identity.sh"), [], { env: baseEnv({ HOME: home, GITSPACE_USER: "vscode", GITSPACE_UID: "1000", GITSPACE_ETC_DIR: dir, GITSPACE_IDENTITY_DIR: identity }) });
        assert.equal(w.code, 0, w.stderr);
        port = await freePort();
    });
    after(async () => {
        await stop();
        rmrf(dir);
    });

    async function start(scriptPath = script("common/run-ssh-server.sh"), extraEnv: Record<string, string> = {}) {
        sshdLog = "";
        // The pod env of an SSH IDE developer (gitspaceEnv), with this machine's paths and a free port.
        const env = podEnv({ ide: "vs_code", sshPublicKeys: [fs.readFileSync(path.join(dir, "client_key.pub"), "utf8").trim()] }, {
            HOME: home,
            GITSPACE_IDE_PORT: String(port),
            GITSPACE_SSH_LISTEN: "127.0.0.1",
            GITSPACE_SSH_DIR: secret,
            GITSPACE_SSH_RUNTIME_DIR: runtime,
            JAVA_HOME: "/usr/local/gitspace/java",
            ...extraEnv,
        });
        const cmd = `mount --bind "$ID/passwd" /etc/passwd && mount --bind "$ID/group" /etc/group && exec setpriv --reuid=${UID} --regid=${UID} --groups=${UID} "$SCRIPT"`;
        sshd = spawn("unshare", ["-m", "--propagation", "private", "bash", "-c", cmd], { env: { ...env, ID: identity, SCRIPT: scriptPath }, stdio: ["ignore", "pipe", "pipe"] });
        sshd.stdout!.on("data", (d) => (sshdLog += d));
        sshd.stderr!.on("data", (d) => (sshdLog += d));
        await waitForPort(port, 10000).catch((e) => {
            throw new Error(`${e.message}\n${sshdLog}`);
        });
    }
    async function stop() {
        if (!sshd || sshd.exitCode !== null) return;
        const exited = new Promise((r) => sshd!.on("exit", r));
        sshd.kill("SIGTERM");
        await exited;
        sshd = undefined;
    }
    const ssh = (key: string, command: string, extra: string[] = []) =>
        run("ssh", ["-i", path.join(dir, key), "-p", String(port), "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${path.join(dir, "known_hosts")}`, "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5", ...extra, "vscode@127.0.0.1", command], { env: baseEnv({ HOME: dir }) });

    async function fingerprint(): Promise<string> {
        const scan = await run("ssh-keyscan", ["-t", "ed25519", "-p", String(port), "127.0.0.1"]);
        assert.equal(scan.code, 0, scan.stderr);
        fs.writeFileSync(path.join(dir, "scanned"), scan.stdout);
        const fp = await run("ssh-keygen", ["-lf", path.join(dir, "scanned")]);
        return fp.stdout.split(" ")[1];
    }

    it("generates a hardened config that `sshd -t` accepts, in a private runtime dir", async () => {
        await start();
        const config = fs.readFileSync(path.join(runtime, "sshd_config"), "utf8");
        for (const line of ["PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin no", "UsePAM no", "AllowUsers vscode", `PidFile ${runtime}/sshd.pid`, "AllowTcpForwarding yes", "X11Forwarding no", "Subsystem sftp internal-sftp", `AuthorizedKeysFile ${runtime}/authorized_keys .ssh/authorized_keys`, "StrictModes no", `Port ${port}`, `HostKey ${runtime}/ssh_host_ed25519_key`]) {
            assert.match(config, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"), line);
        }
        assert.match(config, /# StrictModes would reject every login here: the pod's fsGroup makes HOME group-writable/);
        assert.match(config, /^SetEnv PATH=\S+ JAVA_HOME=\/usr\/local\/gitspace\/java /m);
        const t = await run("/usr/sbin/sshd", ["-t", "-f", path.join(runtime, "sshd_config")], { asUid: UID, groups: [UID] });
        assert.equal(t.code, 0, t.stderr);
        const st = fs.statSync(runtime);
        assert.equal(st.mode & 0o777, 0o700);
        assert.equal(st.uid, UID);
        for (const f of ["ssh_host_ed25519_key", "authorized_keys", "sshd_config"]) assert.equal(fs.statSync(path.join(runtime, f)).mode & 0o777, 0o600, f);
        assert.ok(!runtime.startsWith(home));
    });

    it("real key login (Secret key and ~/.ssh key, HOME 2770): id, pwd and environment are the IDE's", async () => {
        const fp = await fingerprint();
        fs.writeFileSync(path.join(dir, "known_hosts"), fs.readFileSync(path.join(dir, "scanned"), "utf8").replace(/^127\.0\.0\.1/gm, `[127.0.0.1]:${port}`));
        const r = await ssh("client_key", "id; pwd; echo JAVA_HOME=$JAVA_HOME");
        assert.equal(r.code, 0, r.stderr + sshdLog);
        assert.equal(r.stdout, `uid=1000(vscode) gid=1000(vscode) groups=1000(vscode)\n${home}\nJAVA_HOME=/usr/local/gitspace/java\n`);
        const r2 = await ssh("home_key", "echo via-home-key");
        assert.equal(r2.code, 0, r2.stderr + sshdLog);
        assert.equal(r2.stdout, "via-home-key\n");
        assert.ok(fp.startsWith("SHA256:"));
        // sftp subsystem (VS Code Remote-SSH and Gateway use it).
        const sftp = await run("sftp", ["-i", path.join(dir, "client_key"), "-P", String(port), "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${path.join(dir, "known_hosts")}`, "-b", "-", "vscode@127.0.0.1"], { env: baseEnv({ HOME: dir }), input: "pwd\n" });
        assert.equal(sftp.code, 0, sftp.stderr);
        assert.match(sftp.stdout, new RegExp(`Remote working directory: ${home}`));
    });

    it("refuses password auth, other users and unknown keys", async () => {
        const other = await run("ssh", ["-i", path.join(dir, "client_key"), "-p", String(port), "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${path.join(dir, "known_hosts")}`, "-o", "IdentitiesOnly=yes", "root@127.0.0.1", "true"], { env: baseEnv({ HOME: dir }) });
        assert.notEqual(other.code, 0);
        await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "stranger")]);
        assert.notEqual((await ssh("stranger", "true")).code, 0);
        const pw = await run("ssh", ["-p", String(port), "-o", "BatchMode=yes", "-o", "PreferredAuthentications=password,keyboard-interactive", "-o", `UserKnownHostsFile=${path.join(dir, "known_hosts")}`, "vscode@127.0.0.1", "true"], { env: baseEnv({ HOME: dir }) });
        assert.notEqual(pw.code, 0);
        assert.match(pw.stderr, /Permission denied \(publickey\)/);
    });

    it("after a restart: same host key fingerprint, login still works with strict host key checking", async () => {
        const fp1 = await fingerprint();
        await stop();
        await sleep(100);
        await start();
        const fp2 = await fingerprint();
        assert.equal(fp2, fp1);
        const r = await ssh("client_key", "id -un");
        assert.equal(r.code, 0, r.stderr + sshdLog);
        assert.equal(r.stdout, "vscode\n");
    });

    it("run-jetbrains.sh and run-cursor.sh prepare their HOME dirs and run the same sshd", async () => {
        await stop();
        await start(script("jetbrains/run-jetbrains.sh"), { GITSPACE_IDE: "goland" });
        assert.ok(fs.statSync(path.join(home, ".cache", "JetBrains")).isDirectory());
        assert.match(sshdLog, /jetbrains: connect JetBrains Gateway over SSH to vscode@<gitspace host> port \d+ \(goland\)/);
        assert.equal((await ssh("client_key", "echo ok")).stdout, "ok\n");
        await stop();
        await start(script("cursor/run-cursor.sh"), { GITSPACE_IDE: "windsurf" });
        assert.ok(fs.statSync(path.join(home, ".windsurf-server")).isDirectory());
        assert.equal(fs.statSync(path.join(home, ".windsurf-server")).uid, UID);
        assert.equal((await ssh("client_key", "echo ok")).stdout, "ok\n");
        await stop();
    });

    it("without a mounted host key: generates one in the runtime dir with a warning", async () => {
        const noKey = path.join(dir, "secret-nokey");
        fs.mkdirSync(noKey, { recursive: true });
        fs.copyFileSync(path.join(secret, "authorized_keys"), path.join(noKey, "authorized_keys"));
        const rt = path.join(dir, "tmp", "rt2");
        const r = await run(script("common/setup-ssh-server.sh"), [], { env: baseEnv({ HOME: home, GITSPACE_USER: "vscode", GITSPACE_SSH_DIR: noKey, GITSPACE_SSH_RUNTIME_DIR: rt, GITSPACE_IDE_PORT: String(port) }), asUid: UID, groups: [UID] });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /WARNING: sshd: no host key mounted in .*; generating one/);
        assert.equal(r.stdout.trim(), path.join(rt, "sshd_config"));
        assert.equal(fs.statSync(path.join(rt, "ssh_host_ed25519_key")).mode & 0o777, 0o600);
    });
});
