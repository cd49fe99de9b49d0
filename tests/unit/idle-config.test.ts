import { strict as assert } from "assert";
import { ConfigError, MAX_IDLE_TIMEOUT_MINUTES, parseIdleTimeout, parseTeamConfig } from "../../components/config";
import { buildPodSpec } from "../../components/builders";
import { rawConfig } from "./harness";

function problems(raw: Record<string, unknown>): string[] {
    try {
        parseTeamConfig(raw);
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
        return e.problems.map((p) => `${p.path}: ${p.message}`);
    }
    assert.fail("config was accepted");
}

const withDev = (fields: Record<string, unknown>, defaults?: Record<string, unknown>) =>
    rawConfig({ ...(defaults ? { defaults } : {}), developers: [{ name: "alice", ...fields }] });
const resolved = (fields: Record<string, unknown>, defaults?: Record<string, unknown>) => parseTeamConfig(withDev(fields, defaults)).developers[0];

describe("config: idleTimeout", () => {
    it("is off when unset, here and in defaults", () => {
        const d = resolved({});
        assert.equal(d.idleTimeoutMinutes, undefined);
        assert.ok(!("idleTimeoutMinutes" in d), "no key at all when off");
    });

    for (const [value, minutes] of [["1m", 1], ["30m", 30], ["2h", 120], ["1h30m", 90], ["168h", MAX_IDLE_TIMEOUT_MINUTES], ["10080m", 10080], ["167h59m", 10079]] as const) {
        it(`"${value}" is ${minutes} minutes, resolved once by the schema`, () => {
            assert.equal(resolved({ idleTimeout: value }).idleTimeoutMinutes, minutes);
            assert.equal(resolved({}, { idleTimeout: value }).idleTimeoutMinutes, minutes, "from defaults");
        });
    }

    it("the developer's own value wins over defaults; \"off\" turns a defaults timeout off for one developer", () => {
        assert.equal(resolved({ idleTimeout: "15m" }, { idleTimeout: "2h" }).idleTimeoutMinutes, 15);
        assert.equal(resolved({ idleTimeout: "off" }, { idleTimeout: "2h" }).idleTimeoutMinutes, undefined);
        assert.equal(resolved({}, { idleTimeout: "off" }).idleTimeoutMinutes, undefined);
    });

    it("does not change the pod: the portal's reaper acts on it, not the workload", () => {
        const scope = { team: "platform", environment: "dev" };
        const spec = (d: ReturnType<typeof resolved>) => JSON.stringify(buildPodSpec({ scope, developer: d, image: "img", ideAuth: "password" } as never));
        assert.equal(spec(resolved({ idleTimeout: "30m" })), spec(resolved({})));
        const pod = buildPodSpec({ scope, developer: resolved({ idleTimeout: "30m" }), image: "img", ideAuth: "password" } as never);
        assert.equal(pod.automountServiceAccountToken, false, "pods get no Kubernetes API access");
    });

    const refused: Array<[unknown, RegExp]> = [
        [30, /bare number is ambiguous \(write "30m" for minutes\)/],
        [0, /bare number is ambiguous/],
        [1.5, /bare number/],
        [true, /must be a duration such as "30m"/],
        [null, /must be a duration/],
        [["30m"], /must be a duration/],
        [{ minutes: 30 }, /must be a duration/],
        ["0m", /must be at least 1m/],
        ["0", /must be at least 1m/],
        ["0h", /must be at least 1m/],
        ["00m", /must be at least 1m/],
        ["0h0m", /must be at least 1m/],
        ["-5m", /must be at least 1m/],
        ["+5m", /must be at least 1m/],
        [" -1h", /must be at least 1m/],
        ["169h", /longer than a week \(168h\)/],
        ["10081m", /longer than a week/],
        ["9999h", /longer than a week/],
        ["999999m", /longer than a week/],
        ["99999999999999h", /invalid duration/],
        ["1h60m", /minutes under 60 after hours/],
        ["1h90m", /minutes under 60/],
        ["30", /invalid duration "30"; expected a duration such as/],
        ["30s", /invalid duration/],
        ["1800s", /invalid duration/],
        ["30M", /invalid duration/],
        ["2H", /invalid duration/],
        ["30min", /invalid duration/],
        ["30 m", /invalid duration/],
        [" 30m", /invalid duration/],
        ["30m ", /invalid duration/],
        ["30m\n", /invalid duration/],
        ["\t30m", /invalid duration/],
        ["1.5h", /invalid duration/],
        ["1,5h", /invalid duration/],
        ["1e2m", /invalid duration/],
        ["0x1Em", /invalid duration/],
        ["030m", /invalid duration/],
        ["30m30m", /invalid duration/],
        ["30m1h", /invalid duration/],
        ["1d", /invalid duration/],
        ["PT30M", /invalid duration/],
        ["\uff13\uff10m", /invalid duration/],
        ["\u0663\u0660m", /invalid duration/],
        ["30\u200bm", /invalid duration/],
        ["30m\u0000", /invalid duration/],
        ["", /invalid duration ""/],
        ["Off", /invalid duration "Off"/],
        ["OFF", /invalid duration/],
        ["none", /invalid duration/],
        ["false", /invalid duration/],
        ["never", /invalid duration/],
        ["m", /invalid duration/],
        ["h", /invalid duration/],
        ["x".repeat(100000), /invalid duration "x{40}"; expected/],
    ];
    for (const [value, message] of refused) {
        it(`refuses ${JSON.stringify(value).slice(0, 40)} with a clear message at its config path`, () => {
            const dev = problems(withDev({ idleTimeout: value }));
            assert.equal(dev.length, 1, dev.join("\n"));
            assert.ok(dev[0].startsWith("gitspace:developers[0].idleTimeout: "), dev[0]);
            assert.match(dev[0], message);
            const def = problems(withDev({}, { idleTimeout: value }));
            assert.equal(def.length, 1, def.join("\n"));
            assert.ok(def[0].startsWith("gitspace:defaults.idleTimeout: "), def[0]);
            assert.ok(def[0].length < 400, "the message stays short whatever the input");
        });
    }

    it("every bad field is reported at once, one per developer", () => {
        const raw = rawConfig({ developers: [{ name: "a", idleTimeout: "5" }, { name: "b", idleTimeout: "2h" }, { name: "c", idleTimeout: -1 }] });
        assert.deepEqual(problems(raw).map((p) => p.split(":").slice(0, 2).join(":")), ["gitspace:developers[0].idleTimeout", "gitspace:developers[2].idleTimeout"]);
    });

    it("parseIdleTimeout is the one rule (the schema uses it)", () => {
        assert.deepEqual(parseIdleTimeout("45m"), { minutes: 45 });
        assert.deepEqual(parseIdleTimeout("off"), { minutes: 0 });
        assert.ok("problem" in parseIdleTimeout("45"));
    });
});

describe("config: stoppedReason (written by the portal's idle reaper)", () => {
    it("is kept on a stopped gitspace", () => {
        assert.equal(resolved({ running: false, stoppedReason: "idle" }).stoppedReason, "idle");
    });

    it("means nothing on a running one (a CLI start may leave it behind): not resolved", () => {
        assert.equal(resolved({ running: true, stoppedReason: "idle" }).stoppedReason, undefined);
        assert.equal(resolved({ stoppedReason: "idle" }).stoppedReason, undefined, "running by default");
        assert.equal(resolved({ stoppedReason: "idle" }, { running: false }).stoppedReason, "idle", "stopped through defaults");
    });

    for (const value of ["Idle", "IDLE", "idle ", "manual", "", 1, true, null, ["idle"]]) {
        it(`refuses ${JSON.stringify(value)}`, () => {
            const p = problems(withDev({ running: false, stoppedReason: value }));
            assert.equal(p.length, 1);
            assert.match(p[0], /^gitspace:developers\[0\]\.stoppedReason: unknown stop reason .*; expected "idle"/);
        });
    }

    it("is not a defaults field", () => {
        assert.match(problems(withDev({}, { stoppedReason: "idle" }))[0], /^gitspace:defaults: unknown field "stoppedReason"/);
    });
});
