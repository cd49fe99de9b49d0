/**
 * End to end, day two (issue 10, items 2-4): dotfiles applied, devcontainer.json lifecycle commands (postCreateCommand
 * once, postStartCommand on every start) and remoteEnv in the IDE session, and removing then re-adding a developer
 * keeps their home (same Namespace and PVC objects, same data) without `pulumi import`; a same-named namespace that is
 * not the stack's is refused and left untouched.
 * Real engine (Automation API, local file backend), real cluster, the runtime images gitspace.e2e.ts pushed (tag
 * `e2e`; mocha runs that file first), a real git server (basic auth) on the node's address.
 *
 *   npm run test:e2e        (or: npx mocha --config tests/e2e/mocharc.json tests/e2e/lifecycle.e2e.ts)
 */
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { developerNamespaceName } from "../../components/names";
import {
    E2eProject, e2eTeamValues, initStack, kubectl, makeProject, pulumi, randomSuffix, requireCli, requireCluster, requireImage,
} from "../portal/e2e-harness";
import { GitServer, baseEnv, startGitServer } from "../scripts/helpers";

const STACK = "dev";
const TEAM = `lc${randomSuffix()}`;
const GIT_USER = "alice";
const GIT_TOKEN = `e2e-lifecycle-${crypto.randomBytes(8).toString("hex")}`;
const ns = (dev: string) => developerNamespaceName({ team: TEAM, environment: STACK }, dev);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A bare repository `name.git` under root with these files on `main`. */
function makeRepo(root: string, name: string, files: Record<string, string>): void {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `gs-e2e-${name}-`));
    for (const [rel, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(work, rel)), { recursive: true });
        fs.writeFileSync(path.join(work, rel), content, { mode: rel.endsWith(".sh") ? 0o755 : 0o644 });
    }
    const env = baseEnv({ GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e", HOME: work, GIT_CONFIG_NOSYSTEM: "1" });
    execFileSync("bash", ["-c", `cd "$1" && git init -q -b main . && git add -A && git commit -q -m init && git clone -q --bare . "$2"`, "_", work, path.join(root, `${name}.git`)], { env });
    fs.rmSync(work, { recursive: true, force: true });
}

/** Runs a command in the IDE container of a developer's gitspace, as the container's user. */
function ide(dev: string, command: string): string {
    return kubectl("-n", ns(dev), "exec", "deploy/gitspace", "-c", "ide", "--", "bash", "-c", command).trim();
}

/** Polls `command` in the IDE container until it prints something (or fails after `timeoutMs`). */
async function eventually(dev: string, command: string, timeoutMs = 180000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const r = spawnSync("kubectl", ["-n", ns(dev), "exec", "deploy/gitspace", "-c", "ide", "--", "bash", "-c", command], { encoding: "utf8", env: process.env });
        if (r.status === 0 && r.stdout.trim() !== "") return r.stdout.trim();
        if (Date.now() > deadline) throw new Error(`${dev}: \`${command}\` printed nothing after ${timeoutMs} ms (${r.stderr})`);
        await sleep(2000);
    }
}

function waitReady(dev: string): void {
    kubectl("-n", ns(dev), "rollout", "status", "deploy/gitspace", "--timeout=300s");
    kubectl("-n", ns(dev), "wait", "--for=condition=Ready", "pod", "-l", "app=gitspace", "--timeout=300s");
}

/** Deletes the developer's pod and waits for its replacement. */
function restart(dev: string): void {
    const old = kubectl("-n", ns(dev), "get", "pods", "-l", "app=gitspace", "-o", "jsonpath={.items[0].metadata.name}").trim();
    kubectl("-n", ns(dev), "delete", "pod", old, "--wait=true");
    waitReady(dev);
}

describe("gitspace lifecycle end to end: dotfiles, devcontainer.json commands, re-adding a developer", function () {
    this.timeout(60 * 60 * 1000);
    let project: E2eProject;
    let stack: Stack;
    let git: GitServer;
    let developers: Record<string, unknown>[];
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "gitspace-e2e-lifecycle-"));
    const stackFile = () => path.join(project.dir, `Pulumi.${STACK}.yaml`);

    /** Every developer entry as last seen in the stack file (encrypted token included), else as first written. */
    const known = new Map<string, Record<string, unknown>>();
    /** Rewrites `gitspace:developers` in the stack file, keeping each developer's encrypted token as it is. */
    function setDevelopers(names: string[]): void {
        const doc = YAML.parse(fs.readFileSync(stackFile(), "utf8"));
        for (const d of doc.config["gitspace:developers"] as Array<Record<string, unknown>>) known.set(d.name as string, d);
        for (const d of developers) if (!known.has(d.name as string)) known.set(d.name as string, d);
        doc.config["gitspace:developers"] = names.map((n) => known.get(n));
        fs.writeFileSync(stackFile(), YAML.stringify(doc));
    }

    before(async () => {
        requireCli();
        requireCluster();
        await requireImage("127.0.0.1:5000/gitspace-runtime", "vscode", process.env.GITSPACE_E2E_IMAGE_TAG ?? "e2e");
        project = makeProject("gitspace-e2e-lifecycle-");
        const nodeIp = kubectl("get", "nodes", "-o", "jsonpath={.items[0].status.addresses[?(@.type==\"InternalIP\")].address}").trim();
        const repos = path.join(workDir, "repos");
        fs.mkdirSync(repos);
        makeRepo(repos, "app", {
            "README.md": "app\n",
            ".devcontainer/devcontainer.json": `// JSONC, as the devcontainers CLI reads it
{
  "remoteEnv": { "GREETING": "hello-from-devcontainer", "PATH": "\${containerEnv:PATH}:/opt/app/bin" },
  "postCreateCommand": "echo created >> $HOME/.e2e-create-count",
  "postStartCommand": { "count": "echo started >> $HOME/.e2e-start-count", "env": ["sh", "-c", "echo $GREETING > $HOME/.e2e-greeting"] },
  "postAttachCommand": "echo never",
}
`,
        });
        makeRepo(repos, "dotfiles", {
            "install.sh": "#!/bin/sh\nset -e\necho installed >> \"$HOME/.e2e-dotfiles-count\"\nid -u > \"$HOME/.e2e-dotfiles-uid\"\n",
            ".e2e-linked": "not linked: install.sh wins\n",
        });
        git = await startGitServer(repos, GIT_USER, GIT_TOKEN, "0.0.0.0");
        const url = (name: string) => `http://${nodeIp}:${git.port}/${name}.git`;
        developers = [
            { name: "dana", ide: "vs_code_web", repos: [{ url: url("app") }], dotfiles: { url: url("dotfiles") }, git: { username: GIT_USER, token: "placeholder" } },
            { name: "erin", ide: "vs_code_web" },
        ];
        initStack(project, STACK, { ...e2eTeamValues(TEAM, developers, STACK), egress: { allowedCidrs: [`${nodeIp}/32`] } });
        pulumi(project, ["config", "set", "--secret", "--path", "gitspace:developers[0].git.token", GIT_TOKEN, "--stack", STACK]);
        stack = await LocalWorkspace.selectStack({ stackName: STACK, workDir: project.dir }, { envVars: project.env });
    });

    after(async () => {
        await git?.close();
        for (const dev of ["dana", "erin", "mallory"]) spawnSync("kubectl", ["delete", "namespace", ns(dev), "--wait=false"], { env: process.env });
        project?.cleanup();
        fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("pulumi up: dotfiles applied once as the user, postCreateCommand and postStartCommand ran, remoteEnv in the session", async () => {
        const result = await stack.up({ onOutput: (o) => process.stdout.write(o.replace(/^/gm, "      ")) });
        assert.equal(result.summary.result, "succeeded");
        waitReady("dana");
        // The lifecycle runs in the background once the IDE container starts.
        await eventually("dana", "cat $HOME/.gitspace/lifecycle/app.start.json 2>/dev/null");
        assert.equal(ide("dana", "cat $HOME/.e2e-dotfiles-count"), "installed");
        assert.equal(ide("dana", "cat $HOME/.e2e-dotfiles-uid"), "1000", "dotfiles run as the user, never root");
        assert.equal(ide("dana", "test -L $HOME/.e2e-linked && echo linked || echo not-linked"), "not-linked");
        assert.equal(ide("dana", "jq -r .state $HOME/.gitspace/dotfiles.json"), "ok");
        assert.equal(ide("dana", "cat $HOME/.e2e-create-count"), "created");
        assert.equal(ide("dana", "cat $HOME/.e2e-start-count"), "started");
        assert.equal(ide("dana", "cat $HOME/.e2e-greeting"), "hello-from-devcontainer", "commands see remoteEnv");
        // code-server's own environment (its terminals inherit it).
        const env = ide("dana", "tr '\\0' '\\n' < /proc/$(pgrep -u $(id -u) -f 'code-server' | head -1)/environ");
        assert.match(env, /^GREETING=hello-from-devcontainer$/m);
        assert.match(env, /^PATH=.*:\/opt\/app\/bin$/m);
        assert.match(kubectl("-n", ns("dana"), "logs", "deploy/gitspace", "-c", "ide"), /postAttachCommand is not supported/);
        assert.equal(ide("dana", `grep -rlF -- '${GIT_TOKEN}' $HOME 2>/dev/null | wc -l`), "0", "no token in HOME (dotfiles clone included)");
    });

    it("on restart: postStartCommand runs again, postCreateCommand and the dotfiles do not", async () => {
        restart("dana");
        await eventually("dana", "test $(wc -l < $HOME/.e2e-start-count) -ge 2 && echo two");
        assert.equal(ide("dana", "cat $HOME/.e2e-start-count"), "started\nstarted");
        assert.equal(ide("dana", "cat $HOME/.e2e-create-count"), "created");
        assert.equal(ide("dana", "cat $HOME/.e2e-dotfiles-count"), "installed");
    });

    it("remove dana, pulumi up, re-add dana, pulumi up: the same Namespace and PVC come back with the data, no import by hand", async () => {
        const stamp = crypto.randomBytes(6).toString("hex");
        ide("dana", `echo ${stamp} > $HOME/.e2e-readd`);
        const nsUid = kubectl("get", "namespace", ns("dana"), "-o", "jsonpath={.metadata.uid}").trim();
        const pvcUid = kubectl("-n", ns("dana"), "get", "pvc", "home", "-o", "jsonpath={.metadata.uid}").trim();

        setDevelopers(["erin"]);
        let up = await stack.up();
        assert.equal(up.summary.result, "succeeded");
        assert.equal(kubectl("-n", ns("dana"), "get", "deploy", "--no-headers", "--ignore-not-found").trim(), "", "the workload is gone");
        assert.equal(kubectl("-n", ns("dana"), "get", "pvc", "home", "-o", "jsonpath={.metadata.uid}").trim(), pvcUid, "the PVC is kept");

        setDevelopers(["dana", "erin"]);
        up = await stack.up({ onOutput: (o) => process.stdout.write(o.replace(/^/gm, "      ")) });
        assert.equal(up.summary.result, "succeeded");
        assert.ok((up.summary.resourceChanges?.import ?? 0) >= 2, `expected the Namespace and the PVC imported: ${JSON.stringify(up.summary.resourceChanges)}`);
        waitReady("dana");
        assert.equal(kubectl("get", "namespace", ns("dana"), "-o", "jsonpath={.metadata.uid}").trim(), nsUid, "the same Namespace object");
        assert.equal(kubectl("-n", ns("dana"), "get", "pvc", "home", "-o", "jsonpath={.metadata.uid}").trim(), pvcUid, "the same PVC object");
        assert.equal(ide("dana", "cat $HOME/.e2e-readd"), stamp, "the data is there");
        assert.equal(ide("dana", "cat $HOME/.e2e-create-count"), "created", "a kept home does not run postCreateCommand again");

        const preview = await stack.preview();
        const changed = Object.entries(preview.changeSummary).filter(([op, n]) => op !== "same" && n > 0);
        assert.deepEqual(changed, [], `changes after re-adding: ${JSON.stringify(preview.changeSummary)}`);
    });

    it("a same-named namespace that is not the stack's is refused by name and left untouched", async () => {
        kubectl("create", "namespace", ns("mallory"));
        kubectl("label", "namespace", ns("mallory"), "owner=someone-else");
        developers.push({ name: "mallory", ide: "vs_code_web" });
        setDevelopers(["dana", "erin", "mallory"]);
        let message = "";
        try {
            await stack.preview();
        } catch (e) {
            message = String((e as Error).message);
        }
        assert.match(message, new RegExp(`Namespace ${ns("mallory")} already exists and is not this stack's`));
        const labels = JSON.parse(kubectl("get", "namespace", ns("mallory"), "-o", "jsonpath={.metadata.labels}"));
        assert.equal(labels.owner, "someone-else");
        assert.equal(labels["gitspace.io/team"], undefined, "nothing was applied to it");
        setDevelopers(["dana", "erin"]);
    });
});
