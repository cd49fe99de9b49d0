import * as assert from "assert";
import {
    addDeveloper, applyOps, ConfigOp, DeveloperExistsError, DeveloperNotFoundError, rawConfigFromConfigMap, RawConfig,
    removeDeveloper, setRunning, updateDeveloper, ValidationError,
} from "../../portal";
import { CONFIG_KEYS } from "../../components/config";
import { SSH_KEY, teamValues } from "./helpers";

const raw = (): RawConfig => ({ values: teamValues(), unknownKeys: [] });
const sets = (ops: ConfigOp[]) => ops.filter((o): o is Extract<ConfigOp, { op: "set" }> => o.op === "set");

function problems(fn: () => unknown) {
    try {
        fn();
    } catch (e) {
        assert.ok(e instanceof ValidationError, String(e));
        return e.problems;
    }
    assert.fail("expected a ValidationError");
}

describe("portal: config mutations", () => {
    it("add: appends the entry as path ops at developers[3], the git token as a secret", () => {
        const m = addDeveloper(raw(), "platform-dev", {
            name: "erin", ide: "goland", sshPublicKeys: [SSH_KEY], user: { name: "dev", uid: 1001, gid: 1001 },
            repos: [{ url: "https://git.example.com/acme/web.git", branch: "main" }],
            git: { username: "erin", token: "tok-123" }, running: false,
        });
        assert.strictEqual(m.index, 3);
        assert.strictEqual(m.developer, "erin");
        assert.deepStrictEqual(m.ops, [
            { op: "set", path: "gitspace:developers[3].name", value: "erin", secret: false },
            { op: "set", path: "gitspace:developers[3].ide", value: "goland", secret: false },
            { op: "set", path: "gitspace:developers[3].sshPublicKeys[0]", value: SSH_KEY, secret: false },
            { op: "set", path: "gitspace:developers[3].user.name", value: "dev", secret: false },
            { op: "set", path: "gitspace:developers[3].user.uid", value: 1001, secret: false },
            { op: "set", path: "gitspace:developers[3].user.gid", value: 1001, secret: false },
            { op: "set", path: "gitspace:developers[3].repos[0].url", value: "https://git.example.com/acme/web.git", secret: false },
            { op: "set", path: "gitspace:developers[3].repos[0].branch", value: "main", secret: false },
            { op: "set", path: "gitspace:developers[3].git.username", value: "erin", secret: false },
            { op: "set", path: "gitspace:developers[3].git.token", value: "tok-123", secret: true },
            { op: "set", path: "gitspace:developers[3].running", value: false, secret: false },
        ]);
        // The ops produce exactly the would-be config, which the stack's schema accepted.
        assert.deepStrictEqual(applyOps(raw().values, m.ops), m.next.values);
        assert.strictEqual(m.team.developers[3].user.name, "dev");
        assert.strictEqual(m.team.developers[3].running, false);
    });

    it("add: validation errors name every bad field by its config path", () => {
        const p = problems(() => addDeveloper(raw(), "platform-dev", {
            name: "Erin", ide: "vscod", storage: "lots", repos: [{ url: "git@github.com:a/b.git" }], colour: "blue",
        }));
        const byPath = Object.fromEntries(p.map((x) => [x.path, x.message]));
        assert.match(byPath["gitspace:developers[3].name"], /DNS label/);
        assert.match(byPath["gitspace:developers[3].ide"], /unknown IDE "vscod"/);
        assert.match(byPath["gitspace:developers[3].storage"], /invalid quantity/);
        assert.match(byPath["gitspace:developers[3].repos[0].url"], /SSH clone URLs are not supported/);
        assert.match(byPath["gitspace:developers[3]"], /unknown field "colour"/);
        assert.deepStrictEqual(problems(() => addDeveloper(raw(), "s", { ide: "vs_code_web" })).map((x) => x.path), ["gitspace:developers[3].name"]);
        assert.deepStrictEqual(problems(() => addDeveloper(raw(), "s", "erin")).map((x) => x.path), ["gitspace:developers[3]"]);
        // An SSH IDE without keys: a cross-field rule of the same schema.
        assert.deepStrictEqual(problems(() => addDeveloper(raw(), "s", { name: "erin", ide: "vs_code" })).map((x) => x.path), ["gitspace:developers[3].sshPublicKeys"]);
    });

    it("add: an existing name is a conflict, not a validation error", () => {
        assert.throws(() => addDeveloper(raw(), "platform-dev", { name: "bob" }), DeveloperExistsError);
    });

    it("update: a merge patch becomes minimal path ops; lists are replaced whole; null deletes", () => {
        const m = updateDeveloper(raw(), "platform-dev", "alice", {
            storage: "20Gi", repos: [{ url: "https://git.example.com/acme/web.git" }], resources: null, running: false,
        });
        assert.strictEqual(m.index, 0);
        assert.deepStrictEqual(m.ops, [
            { op: "remove", path: "gitspace:developers[0].repos" },
            { op: "set", path: "gitspace:developers[0].repos[0].url", value: "https://git.example.com/acme/web.git", secret: false },
            { op: "set", path: "gitspace:developers[0].storage", value: "20Gi", secret: false },
            { op: "set", path: "gitspace:developers[0].running", value: false, secret: false },
        ]);
        assert.deepStrictEqual(applyOps(raw().values, m.ops), m.next.values);
    });

    it("update: changing the git username keeps the stored token; a new token is set as a secret", () => {
        const keep = updateDeveloper(raw(), "s", "bob", { git: { username: "robert" } });
        assert.deepStrictEqual(keep.ops, [{ op: "set", path: "gitspace:developers[1].git.username", value: "robert", secret: false }]);
        const rotate = updateDeveloper(raw(), "s", "bob", { git: { token: "new-token" } });
        assert.deepStrictEqual(rotate.ops, [{ op: "set", path: "gitspace:developers[1].git.token", value: "new-token", secret: true }]);
        const drop = updateDeveloper(raw(), "s", "bob", { git: null });
        assert.deepStrictEqual(drop.ops, [{ op: "remove", path: "gitspace:developers[1].git" }]);
    });

    it("update: validation paths, rename refused, unknown developer", () => {
        assert.deepStrictEqual(problems(() => updateDeveloper(raw(), "s", "carol", { ide: "intellij" })).map((x) => x.path), ["gitspace:developers[2].sshPublicKeys"]);
        assert.deepStrictEqual(problems(() => updateDeveloper(raw(), "s", "carol", { running: "yes" })).map((x) => x.path), ["gitspace:developers[2].running"]);
        assert.deepStrictEqual(problems(() => updateDeveloper(raw(), "s", "carol", { name: "caroline" })).map((x) => x.path), ["gitspace:developers[2].name"]);
        assert.throws(() => updateDeveloper(raw(), "s", "zoe", { running: true }), DeveloperNotFoundError);
    });

    it("stop/start set running; remove deletes the entry by index (the CLI shifts the rest, secrets included)", () => {
        assert.deepStrictEqual(setRunning(raw(), "s", "alice", false).ops, [{ op: "set", path: "gitspace:developers[0].running", value: false, secret: false }]);
        assert.deepStrictEqual(setRunning(raw(), "s", "carol", true).ops, [{ op: "set", path: "gitspace:developers[2].running", value: true, secret: false }]);
        assert.deepStrictEqual(setRunning(raw(), "s", "alice", true).ops, [{ op: "set", path: "gitspace:developers[0].running", value: true, secret: false }]);
        const m = removeDeveloper(raw(), "s", "bob");
        assert.deepStrictEqual(m.ops, [{ op: "remove", path: "gitspace:developers[1]" }]);
        assert.deepStrictEqual((applyOps(raw().values, m.ops).developers as Array<{ name: string }>).map((d) => d.name), ["alice", "carol"]);
        assert.throws(() => removeDeveloper(raw(), "s", "zoe"), DeveloperNotFoundError);
    });

    it("removing the last developer fails the schema (a stack needs one)", () => {
        const one: RawConfig = { values: { ...teamValues(), developers: [{ name: "alice" }] }, unknownKeys: [] };
        assert.deepStrictEqual(problems(() => removeDeveloper(one, "s", "alice")).map((x) => x.path), ["gitspace:developers"]);
    });

    it("reads `pulumi config --json` the way the program does (strings stay strings, objects from JSON)", () => {
        const r = rawConfigFromConfigMap({
            "gitspace:team": { value: "platform" },
            "gitspace:domain": { value: "example.com" },
            "gitspace:developers": { value: JSON.stringify([{ name: "a", git: { username: "u", token: "t" } }]), secret: true },
            "gitspace:developer": { value: "typo" },
            "kubernetes:context": { value: "kind" },
        }, CONFIG_KEYS);
        assert.deepStrictEqual(r.values, { team: "platform", domain: "example.com", developers: [{ name: "a", git: { username: "u", token: "t" } }], developer: "typo" });
        assert.deepStrictEqual(r.unknownKeys, ["developer"]);
    });

    it("string leaves that the CLI would retype are flagged", () => {
        const { needsStringType } = require("../../portal/driver") as typeof import("../../portal/driver");
        assert.ok(needsStringType("12345") && needsStringType("true") && needsStringType("-1"));
        assert.ok(!needsStringType("10Gi") && !needsStringType("1.5") && !needsStringType("alice"));
        const m = updateDeveloper(raw(), "s", "bob", { git: { token: "12345" } });
        assert.deepStrictEqual(sets(m.ops).map((o) => [o.value, o.secret]), [["12345", true]]);
    });
});
