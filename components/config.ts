/**
 * The team stack configuration (keys under the `gitspace` config namespace): schema, defaults and validation.
 * The key names are a public contract read and written by tooling outside this repository.
 *
 * `parseTeamConfig` validates everything at once and throws one `ConfigError` naming every bad field as
 * `gitspace:<key>[index].<field>: <problem>`, before any resource is created. Secret values are never echoed.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { IDE_CATALOG, IDE_TYPES, IdeType } from "./catalog";
import { GIT_BRANCH, POSIX_USER } from "./patterns";
import { repoDirName, repoNameProblem, repoUrlProblem, scriptPathProblem } from "./repo";
import { DNS_SUBDOMAIN, NameScope, NamespaceLayout, nameComponentProblem, nameProblems } from "./names";
import {
    EgressConfig, RouterConfig, SshConfig, defaultLayout, egressSchema, environmentSchema, nameComponent,
    namespaceLayoutSchema, portsSchema, routerSchema, routingProblems, sshNodePortSchema, sshSchema,
} from "./routing-config";

export { repoDirName, repoUrlProblem } from "./repo";
export type { EgressConfig, RouterConfig, SshConfig } from "./routing-config";
export type { NamespaceLayout } from "./names";

export const CONFIG_NAMESPACE = "gitspace";
export const PLATFORMS = ["linux/amd64", "linux/arm64"] as const;
/** Compressions of pushed image layers: gzip reads everywhere; zstd is smaller (images/README.md, "Size"). */
export const LAYER_COMPRESSIONS = ["gzip", "zstd"] as const;
export type LayerCompression = (typeof LAYER_COMPRESSIONS)[number];
export type Platform = (typeof PLATFORMS)[number];

export interface UserConfig { name: string; uid: number; gid: number }
export interface ResourceList { cpu: string; memory: string }
export interface ResourcesConfig { requests: ResourceList; limits: ResourceList }
export interface RepoConfig { url: string; branch?: string; /** Directory under HOME. */ name: string }
export interface GitCredentials { username: string; token: string }
/**
 * The developer's dotfiles repository, cloned once into `~/.dotfiles` with the same URL and credential rules as the
 * repos; its install script then runs as the user in the IDE container (scripts/README.md).
 */
export interface DotfilesConfig {
    url: string;
    branch?: string;
    /** Script of the repository to run (a relative path), instead of looking for install.sh, setup.sh, … */
    installCommand?: string;
}

export interface ImagesConfig {
    registry: string;
    tag: string;
    platforms: Platform[];
    push: boolean;
    build: boolean;
    vscodeExtensions: string[];
    /** Image the `base` flavor is built FROM. */
    baseImage: string;
    /** Stack whose `images` output gives the refs (an organisation's images stack); set: nothing is built here. */
    fromStack?: string;
    /** Existing buildx builder to build with (e.g. a `remote` builder); buildx's current one when unset. */
    builder?: string;
    /** Compression of the pushed layers: `gzip`, or `zstd` (smaller; needs containerd >= 1.5 or Docker >= 23 to pull). */
    compression: LayerCompression;
    username?: string;
    password?: string;
}

export interface DeveloperConfig {
    name: string;
    ide: IdeType;
    repos: RepoConfig[];
    storage: string;
    user: UserConfig;
    running: boolean;
    sshPublicKeys: string[];
    git?: GitCredentials;
    resources: ResourcesConfig;
    migrateLegacyWorkspaces: boolean;
    /** Bind the home PVC to this existing PersistentVolume (e.g. the volume of a legacy `/workspaces` gitspace). */
    homeVolumeName?: string;
    /** Keep the Namespace and home PVC when the developer is removed from config or the stack is destroyed. */
    retainHome: boolean;
    /** App ports (dev servers) routed to `<identifier>--<port>.<domain>` in the gateway and ingress modes. */
    ports: number[];
    /** Fixed NodePort of the developer's sshd (ssh.serviceType NodePort); the cluster picks one when unset. */
    sshNodePort?: number;
    /** Dotfiles repository; none when unset. */
    dotfiles?: DotfilesConfig;
    /**
     * Idle auto-stop: minutes without IDE activity after which the portal's reaper stops the gitspace
     * (`running: false`, data kept). Unset: never stopped for idleness.
     */
    idleTimeoutMinutes?: number;
    /** Why the gitspace is stopped, when something other than a person stopped it (`idle`). Only while stopped. */
    stoppedReason?: StoppedReason;
}

/** Why a gitspace was stopped by the portal itself (the idle reaper); Start clears it. */
export const STOPPED_REASONS = ["idle"] as const;
export type StoppedReason = (typeof STOPPED_REASONS)[number];

export interface TeamConfig {
    team: string;
    /** Resolved: `gitspace:environment`, else the stack name. */
    environment: string;
    domain: string;
    storageClass?: string;
    /** `password`: code-server asks for a generated password; `proxy`: an authenticating proxy in front does. */
    ideAuth: "password" | "proxy";
    router: RouterConfig;
    /** Resolved: `gitspace:namespaceLayout`, else `shared` for caddy2-k8s and `per-developer` otherwise. */
    namespaceLayout: NamespaceLayout;
    ssh: SshConfig;
    egress: EgressConfig;
    images: ImagesConfig;
    developers: DeveloperConfig[];
}

/**
 * Defaults of the team-level keys, applied by the schema below and nowhere else: the components receive resolved
 * values; a component used on its own falls back to these same constants.
 */
export const TEAM_DEFAULTS = {
    ideAuth: "password" as TeamConfig["ideAuth"],
    images: {
        tag: "latest",
        platforms: [...PLATFORMS] as Platform[],
        push: true,
        build: true,
        vscodeExtensions: [] as string[],
        baseImage: "ubuntu:24.04",
        compression: "gzip" as LayerCompression,
    },
} as const;

export const BUILT_IN_DEFAULTS = {
    ide: "vs_code_web" as IdeType,
    storage: "10Gi",
    user: { name: "vscode", uid: 1000, gid: 1000 } as UserConfig,
    resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "2", memory: "4Gi" } } as ResourcesConfig,
    running: true,
    migrateLegacyWorkspaces: false,
    retainHome: true,
    ports: [] as number[],
};

// ---------------------------------------------------------------------------------------------------------------
// Building blocks

/** Any Kubernetes quantity this config uses, for its numeric value. */
const QUANTITY = /^([0-9]+(\.[0-9]+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$/;
/** Memory and storage: bytes, so no milli suffix (`512m` is half a byte, a typo for `512Mi`). */
const MEMORY = /^([0-9]+(\.[0-9]+)?)(k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$/;
const CPU = /^([0-9]+(\.[0-9]+)?)(m)?$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const REGISTRY_REPO = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
const SSH_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$/;
/** A Pulumi stack name: `stack`, `project/stack` or `org/project/stack`. */
const STACK_NAME = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,99}\/){0,2}[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const EXTENSION_ID = /^[A-Za-z0-9][A-Za-z0-9-]*\.[A-Za-z0-9][A-Za-z0-9._-]*(@[0-9A-Za-z.+-]+)?$/;

const required = (what: string) => (iss: { input?: unknown }) =>
    iss.input === undefined ? "required" : `must be ${what}`;

const memoryQuantity = z.string({ error: required("a quantity string such as \"2Gi\"") })
    .max(64, { error: "must be at most 64 characters", abort: true })
    .regex(MEMORY, { error: (iss) => `invalid quantity ${JSON.stringify(iss.input)}; expected e.g. "512Mi", "4Gi" (bytes: no milli suffix "m")` });
const cpuQuantity = z.union([z.string(), z.number()], { error: required("a CPU quantity such as \"500m\" or \"2\"") })
    .transform((v) => String(v))
    .refine((v) => v.length <= 64 && CPU.test(v), { error: (iss) => `invalid CPU quantity ${JSON.stringify(iss.input)}; expected e.g. "500m", "2"` });

const resourceList = z.strictObject({ cpu: cpuQuantity, memory: memoryQuantity });
const resourcesSchema = z.strictObject({ requests: resourceList, limits: resourceList });

const userSchema = z.strictObject({
    name: z.string({ error: required("a string") })
        .regex(POSIX_USER, { error: "must be a POSIX user name (lowercase letter or '_' first, then [a-z0-9_-], at most 32)" })
        .refine((n) => n !== "root", { error: "must not be root: gitspaces run as a non-root user" }),
    uid: z.number({ error: required("an integer") }).int({ error: "must be an integer" })
        .min(1, { error: "must be ≥ 1: gitspaces run as a non-root user" }).max(2147483647),
    gid: z.number({ error: required("an integer") }).int({ error: "must be an integer" })
        .min(1, { error: "must be ≥ 1: gitspaces run as a non-root group" }).max(2147483647),
});

const ideSchema = z.enum(IDE_TYPES as [IdeType, ...IdeType[]], {
    error: (iss) => iss.input === undefined
        ? "required"
        : `unknown IDE ${JSON.stringify(iss.input)}; expected one of ${IDE_TYPES.join(", ")}`,
});

/** A clone URL (repos and dotfiles): the rules of components/repo.ts. */
const repoUrlSchema = z.string({ error: required("a string") }).superRefine((url, ctx) => {
    const problem = repoUrlProblem(url);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});
const branchSchema = z.string({ error: "must be a string" })
    .max(255, { error: "must be at most 255 characters", abort: true })
    .regex(GIT_BRANCH, { error: (iss) => `invalid branch name ${JSON.stringify(iss.input)}; use letters, digits, '.', '_', '-', '/' as git allows them (not starting with '-' or '/', no '..')` });

const repoSchema = z.strictObject({
    url: repoUrlSchema,
    branch: branchSchema.optional(),
    name: z.string({ error: "must be a string" }).superRefine((name, ctx) => {
        const problem = repoNameProblem(name);
        if (problem) ctx.addIssue({ code: "custom", message: `directory name ${JSON.stringify(name.slice(0, 120))} ${problem}` });
    }).optional(),
});

/** One line of the git credential protocol: no control character (a newline would end the value), no space. */
const CREDENTIAL_VALUE = /^[^\x00-\x20\x7f]+$/;

const gitSchema = z.strictObject({
    username: z.string({ error: required("a string") }).min(1, { error: "must not be empty" }).max(256)
        .regex(CREDENTIAL_VALUE, { error: "must not contain spaces or control characters" }),
    // The token is never echoed in messages.
    token: z.string({ error: required("a string (set it with `pulumi config set --secret --path`)") })
        .min(1, { error: "must not be empty" }).max(4096, { error: "must be at most 4096 characters" })
        .regex(CREDENTIAL_VALUE, { error: "must not contain spaces or control characters" }),
});

const dotfilesSchema = z.strictObject({
    url: repoUrlSchema,
    branch: branchSchema.optional(),
    installCommand: z.string({ error: "must be a string" }).superRefine((path, ctx) => {
        const problem = scriptPathProblem(path);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    }).optional(),
}, { error: required("an object {url, branch?, installCommand?}") });

/** The longest idle timeout: a week (a longer one is a typo, or means "off", which is spelt "off"). */
export const MAX_IDLE_TIMEOUT_MINUTES = 7 * 24 * 60;
/** `30m`, `2h`, `1h30m`: whole hours and minutes, no leading zero, minutes under 60 after hours. */
const IDLE_DURATION = /^(?:([1-9][0-9]{0,3})h)?(?:([1-9][0-9]{0,5})m)?$/;
const IDLE_FORMAT = "a duration such as \"30m\", \"2h\" or \"1h30m\" (whole hours h and minutes m), or \"off\"";

/**
 * `idleTimeout`, parsed once here: minutes, or 0 for `"off"` (a developer's way out of a `defaults` timeout). One
 * format only: a bare number (minutes? seconds?), seconds, fractions, spaces, other spellings and zero are refused.
 */
export function parseIdleTimeout(value: unknown): { minutes: number; problem?: undefined } | { problem: string } {
    if (typeof value !== "string") {
        return { problem: typeof value === "number" ? `must be a string: ${IDLE_FORMAT}; a bare number is ambiguous (write "${value}m" for minutes)` : `must be ${IDLE_FORMAT}` };
    }
    if (value === "off") return { minutes: 0 };
    const shown = JSON.stringify(value.slice(0, 40));
    const m = value.length <= 16 && value !== "" ? IDLE_DURATION.exec(value) : null;
    if (!m) {
        if (/^[-+]/.test(value.trim()) || /^0+[hm]?$|^0+h0+m$/.test(value.trim())) return { problem: `invalid duration ${shown}: must be at least 1m; leave idleTimeout unset (or "off") to never stop for idleness` };
        return { problem: `invalid duration ${shown}; expected ${IDLE_FORMAT}` };
    }
    const hours = Number(m[1] ?? 0);
    const minutes = Number(m[2] ?? 0);
    if (m[1] !== undefined && minutes >= 60) return { problem: `invalid duration ${shown}: write minutes under 60 after hours (e.g. "2h30m")` };
    const total = hours * 60 + minutes;
    if (total > MAX_IDLE_TIMEOUT_MINUTES) return { problem: `${shown} is longer than a week (168h); leave idleTimeout unset (or "off") to never stop for idleness` };
    return { minutes: total };
}

const idleTimeoutSchema = z.string({ error: (iss) => parseIdleTimeout(iss.input).problem ?? `must be ${IDLE_FORMAT}` })
    .transform((value, ctx) => {
        const parsed = parseIdleTimeout(value);
        if ("problem" in parsed) {
            ctx.addIssue({ code: "custom", message: parsed.problem });
            return z.NEVER;
        }
        return parsed.minutes;
    });

/** Fields a developer may set, all of which `defaults` may also provide. */
const developerSettings = {
    ide: ideSchema.optional(),
    storage: memoryQuantity.optional(),
    user: userSchema.optional(),
    resources: resourcesSchema.optional(),
    running: z.boolean({ error: "must be true or false" }).optional(),
    sshPublicKeys: z.array(z.string().regex(SSH_KEY, { error: "not an OpenSSH public key (\"ssh-ed25519 AAAA… comment\")" })).optional(),
    migrateLegacyWorkspaces: z.boolean({ error: "must be true or false" }).optional(),
    retainHome: z.boolean({ error: "must be true or false" }).optional(),
    ports: portsSchema.optional(),
    dotfiles: dotfilesSchema.optional(),
    idleTimeout: idleTimeoutSchema.optional(),
};

const defaultsSchema = z.strictObject(developerSettings);

const developerSchema = z.strictObject({
    name: nameComponent(),
    sshNodePort: sshNodePortSchema.optional(),
    repos: z.array(repoSchema).optional(),
    git: gitSchema.optional(),
    homeVolumeName: z.string().regex(DNS_SUBDOMAIN, { error: (iss) => `invalid PersistentVolume name ${JSON.stringify(iss.input)}` }).optional(),
    // Written by the portal when its idle reaper stops the gitspace (with running: false); its Start removes it.
    stoppedReason: z.enum(STOPPED_REASONS, { error: (iss) => `unknown stop reason ${JSON.stringify(iss.input)}; expected ${STOPPED_REASONS.map((r) => `"${r}"`).join(", ")} (written by the portal)` }).optional(),
    ...developerSettings,
});

const imagesSchema = z.strictObject({
    registry: z.string({ error: required("a string") })
        .regex(REGISTRY_REPO, { error: (iss) => `invalid registry repository ${JSON.stringify(iss.input)}; expected e.g. "registry.example.com/gitspace-runtime" (no scheme, no tag)` }),
    tag: z.string().regex(IMAGE_TAG, { error: (iss) => `invalid image tag ${JSON.stringify(iss.input)}` }).default(TEAM_DEFAULTS.images.tag),
    platforms: z.array(z.enum(PLATFORMS, { error: (iss) => `unknown platform ${JSON.stringify(iss.input)}; expected one of ${PLATFORMS.join(", ")}` }))
        .min(1, { error: "must list at least one platform" }).default(() => [...TEAM_DEFAULTS.images.platforms]),
    push: z.boolean({ error: "must be true or false" }).default(TEAM_DEFAULTS.images.push),
    build: z.boolean({ error: "must be true or false" }).default(TEAM_DEFAULTS.images.build),
    vscodeExtensions: z.array(z.string().regex(EXTENSION_ID, { error: (iss) => `invalid extension id ${JSON.stringify(iss.input)}; expected publisher.name[@version]` })).default(() => [...TEAM_DEFAULTS.images.vscodeExtensions]),
    baseImage: z.string().min(1, { error: "must not be empty" }).default(TEAM_DEFAULTS.images.baseImage),
    // The organisation's images stack (images/stack, or another team stack): its `images` output gives the refs and
    // this stack builds nothing.
    fromStack: z.string().regex(STACK_NAME, { error: (iss) => `invalid stack name ${JSON.stringify(iss.input)}; expected "org/project/stack"` }).optional(),
    builder: z.string().min(1, { error: "must not be empty" }).optional(),
    compression: z.enum(LAYER_COMPRESSIONS, { error: (iss) => `unknown compression ${JSON.stringify(iss.input)}; expected one of ${LAYER_COMPRESSIONS.join(", ")}` })
        .default(TEAM_DEFAULTS.images.compression),
    username: z.string().min(1, { error: "must not be empty" }).optional(),
    password: z.string().min(1, { error: "must not be empty" }).optional(),
}, { error: required("an object (registry, tag, platforms, …)") }).superRefine((images, ctx) => {
    if ((images.username === undefined) !== (images.password === undefined)) {
        ctx.addIssue({
            code: "custom",
            path: [images.username === undefined ? "username" : "password"],
            message: "registry username and password must be set together",
        });
    }
});

/** The schema of every key under `gitspace:`; each is validated separately so paths name the config key. */
export const TOP_LEVEL_SCHEMAS = {
    team: nameComponent(),
    environment: environmentSchema,
    domain: z.string({ error: required("a string") })
        .max(253)
        .regex(DNS_SUBDOMAIN, { error: (iss) => `invalid domain ${JSON.stringify(iss.input)}; expected e.g. "gitspace.example.com"` }),
    storageClass: z.string().regex(DNS_SUBDOMAIN, { error: (iss) => `invalid storage class name ${JSON.stringify(iss.input)}` }).optional(),
    ideAuth: z.enum(["password", "proxy"], { error: (iss) => `unknown ideAuth ${JSON.stringify(iss.input)}; expected "password" or "proxy"` }).default(TEAM_DEFAULTS.ideAuth),
    router: routerSchema,
    namespaceLayout: namespaceLayoutSchema,
    ssh: sshSchema,
    egress: egressSchema,
    images: imagesSchema,
    defaults: defaultsSchema.default({}),
    // Each developer is parsed on its own (developerSchema) so one bad entry does not hide the others' problems.
    developers: z.array(z.unknown(), { error: required("a list of developers") })
        .min(1, { error: "must list at least one developer" }),
} as const;

export type ConfigKey = keyof typeof TOP_LEVEL_SCHEMAS;
export const CONFIG_KEYS = Object.keys(TOP_LEVEL_SCHEMAS) as ConfigKey[];

// ---------------------------------------------------------------------------------------------------------------
// Errors

export interface ConfigProblem { path: string; message: string }

export class ConfigError extends Error {
    constructor(readonly problems: ConfigProblem[]) {
        super(`invalid gitspace stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
            problems.map((p) => `  ${p.path}: ${p.message}`).join("\n"));
        this.name = "ConfigError";
    }
}

/** `["developers", 2, "ide"]` → `gitspace:developers[2].ide` */
export function formatConfigPath(path: ReadonlyArray<PropertyKey>): string {
    let out = CONFIG_NAMESPACE;
    path.forEach((part, i) => {
        if (typeof part === "number") out += `[${part}]`;
        else out += i === 0 ? `:${String(part)}` : `.${String(part)}`;
    });
    return out;
}

function issueMessage(issue: z.core.$ZodIssue): string {
    if (issue.code === "unrecognized_keys") {
        return `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`;
    }
    return issue.message;
}

// ---------------------------------------------------------------------------------------------------------------
// Pure checks

const UNITS: Record<string, number> = {
    "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The numeric value of a Kubernetes quantity already matched by MEMORY or CPU. */
export function quantityValue(quantity: string): number {
    const match = QUANTITY.exec(quantity);
    if (!match) throw new Error(`not a quantity: ${quantity}`);
    return Number(match[1]) * UNITS[match[3] ?? ""];
}

// ---------------------------------------------------------------------------------------------------------------
// Parse + resolve

type Parsed = { [K in ConfigKey]: z.output<(typeof TOP_LEVEL_SCHEMAS)[K]> };

/**
 * Validates the raw values of every `gitspace:` key (as `pulumi.Config#getObject` returns them; undefined when
 * unset) and resolves developer defaults. `unknownKeys` are other `gitspace:` keys found in the stack config
 * (typos such as `gitspace:developer`). Throws ConfigError listing every problem.
 */
export function parseTeamConfig(
    raw: Partial<Record<string, unknown>>, unknownKeys: string[] = [], options: ParseOptions = {},
): TeamConfig {
    const problems: ConfigProblem[] = [];
    const parsed = parseKeys(raw, problems);
    for (const key of unknownKeys) {
        problems.push({ path: `${CONFIG_NAMESPACE}:${key}`, message: `unknown configuration key; expected one of ${CONFIG_KEYS.join(", ")}` });
    }
    const environment = resolveEnvironment(parsed.environment, options.stack ?? pulumi.getStack(), parsed.team, problems);
    const layout = parsed.router ? parsed.namespaceLayout ?? defaultLayout(parsed.router) : undefined;

    const developers: DeveloperConfig[] = [];
    (parsed.developers ?? []).forEach((rawDeveloper, i) => {
        const result = developerSchema.safeParse(rawDeveloper);
        if (!result.success) {
            for (const issue of result.error.issues) {
                problems.push({ path: formatConfigPath(["developers", i, ...issue.path]), message: issueMessage(issue) });
            }
            return;
        }
        // Defaults that failed validation are reported above; resolve against none so this entry is still checked.
        const developer = resolveDeveloper(result.data, parsed.defaults ?? {}, i, problems);
        developers.push(developer);
        if (parsed.team && environment && layout) {
            const scope: NameScope = { team: parsed.team, environment };
            for (const message of nameProblems({ scope, developer: developer.name, layout, ports: developer.ports })) {
                problems.push({ path: formatConfigPath(["developers", i, "name"]), message });
            }
        }
    });
    checkUniqueNames(parsed.developers ?? [], problems);
    checkUniqueHomeVolumes(developers, parsed.developers ?? [], problems);
    checkRouting(parsed, developers, problems);
    if (problems.length > 0) throw new ConfigError(problems);

    const p = parsed as Parsed;
    return {
        team: p.team,
        environment: environment!,
        domain: p.domain,
        storageClass: p.storageClass,
        ideAuth: p.ideAuth,
        router: p.router,
        namespaceLayout: layout!,
        ssh: p.ssh,
        egress: p.egress,
        images: p.images,
        developers,
    };
}

export interface ParseOptions {
    /** The stack name (`org/project/stack` or `stack`); `gitspace:environment` defaults to it. Defaults to the running stack. */
    stack?: string;
}

/** Each top-level key parsed on its own, so a problem's path names its key. */
function parseKeys(raw: Partial<Record<string, unknown>>, problems: ConfigProblem[]): Partial<Parsed> {
    const parsed: Partial<Parsed> = {};
    for (const key of CONFIG_KEYS) {
        const result = TOP_LEVEL_SCHEMAS[key].safeParse(raw[key]);
        if (result.success) {
            (parsed as Record<string, unknown>)[key] = result.data;
        } else {
            for (const issue of result.error.issues) {
                problems.push({ path: formatConfigPath([key, ...issue.path]), message: issueMessage(issue) });
            }
        }
    }
    return parsed;
}

/**
 * `gitspace:environment`, else the stack's own name (the part after the last `/`), without the team: a stack named
 * `<team>-<env>` (the convention of the README and the portal, e.g. `platform-dev`) is environment `<env>`; any other
 * stack name (e.g. `dev`) is the environment itself.
 */
function resolveEnvironment(configured: string | undefined, stack: string, team: string | undefined, problems: ConfigProblem[]): string | undefined {
    if (configured !== undefined) return configured;
    const short = stack.substring(stack.lastIndexOf("/") + 1);
    const name = team !== undefined && short.startsWith(`${team}-`) && short.length > team.length + 1 ? short.substring(team.length + 1) : short;
    const problem = name === "" ? "required: there is no stack name to default it from" : nameComponentProblem(name);
    if (problem === undefined) return name;
    problems.push({
        path: formatConfigPath(["environment"]),
        message: name === "" ? problem : `required: the stack name ${JSON.stringify(short)} cannot default it (${problem}); set gitspace:environment`,
    });
    return undefined;
}

function checkRouting(parsed: Partial<Parsed>, developers: DeveloperConfig[], problems: ConfigProblem[]) {
    const indexOf = new Map((parsed.developers ?? []).map((d, i) => [(d as { name?: unknown } | null)?.name, i]));
    const view = developers.map((d) => ({
        index: indexOf.get(d.name) ?? 0, name: d.name, access: IDE_CATALOG[d.ide].access, ports: d.ports, sshNodePort: d.sshNodePort,
    }));
    for (const problem of routingProblems({ router: parsed.router, namespaceLayout: parsed.namespaceLayout, ssh: parsed.ssh, developers: view })) {
        problems.push({ path: formatConfigPath(problem.path), message: problem.message });
    }
}

type RawDeveloper = z.output<typeof developerSchema>;
type RawDefaults = z.output<typeof defaultsSchema>;

function resolveDeveloper(dev: RawDeveloper, defaults: RawDefaults, index: number, problems: ConfigProblem[]): DeveloperConfig {
    const at = (...path: PropertyKey[]) => formatConfigPath(["developers", index, ...path]);
    const resolved: DeveloperConfig = {
        name: dev.name,
        ide: dev.ide ?? defaults.ide ?? BUILT_IN_DEFAULTS.ide,
        repos: resolveRepos(dev.repos ?? [], at, problems),
        storage: dev.storage ?? defaults.storage ?? BUILT_IN_DEFAULTS.storage,
        user: dev.user ?? defaults.user ?? BUILT_IN_DEFAULTS.user,
        running: dev.running ?? defaults.running ?? BUILT_IN_DEFAULTS.running,
        sshPublicKeys: dev.sshPublicKeys ?? defaults.sshPublicKeys ?? [],
        git: dev.git,
        ...(dev.homeVolumeName ? { homeVolumeName: dev.homeVolumeName } : {}),
        resources: dev.resources ?? defaults.resources ?? BUILT_IN_DEFAULTS.resources,
        migrateLegacyWorkspaces: dev.migrateLegacyWorkspaces ?? defaults.migrateLegacyWorkspaces ?? BUILT_IN_DEFAULTS.migrateLegacyWorkspaces,
        retainHome: dev.retainHome ?? defaults.retainHome ?? BUILT_IN_DEFAULTS.retainHome,
        ports: dev.ports ?? defaults.ports ?? BUILT_IN_DEFAULTS.ports,
        ...(dev.sshNodePort !== undefined ? { sshNodePort: dev.sshNodePort } : {}),
        ...(dev.dotfiles ?? defaults.dotfiles ? { dotfiles: dev.dotfiles ?? defaults.dotfiles } : {}),
    };
    // 0 is "off": a developer's own "off" wins over a defaults timeout.
    const idle = dev.idleTimeout ?? defaults.idleTimeout;
    if (idle) resolved.idleTimeoutMinutes = idle;
    // A stop reason describes a stopped gitspace only (a CLI start may leave it behind: then it means nothing).
    if (dev.stoppedReason !== undefined && !resolved.running) resolved.stoppedReason = dev.stoppedReason;

    if (IDE_CATALOG[resolved.ide].access === "ssh" && resolved.sshPublicKeys.length === 0) {
        problems.push({ path: at("sshPublicKeys"), message: `required for the SSH IDE "${resolved.ide}" (at least one public key)` });
    }
    for (const kind of ["cpu", "memory"] as const) {
        const request = resolved.resources.requests[kind];
        const limit = resolved.resources.limits[kind];
        if (quantityValue(request) > quantityValue(limit)) {
            const where = dev.resources ? at("resources", "requests", kind) : formatConfigPath(["defaults", "resources", "requests", kind]);
            problems.push({ path: where, message: `request ${request} exceeds limit ${limit}` });
        }
    }
    if (quantityValue(resolved.storage) <= 0) {
        problems.push({ path: dev.storage ? at("storage") : formatConfigPath(["defaults", "storage"]), message: "must be greater than zero" });
    }
    return resolved;
}

/**
 * Each repository's directory name, resolved once: its own `name`, else the last segment of its URL without `.git`.
 * A derived name goes through the same rules as a given one; names are unique per developer.
 */
function resolveRepos(repos: NonNullable<RawDeveloper["repos"]>, at: (...path: PropertyKey[]) => string, problems: ConfigProblem[]): RepoConfig[] {
    const seen = new Map<string, number>();
    return repos.map((repo, r) => {
        const name = repo.name ?? repoDirName(repo.url) ?? "";
        if (repo.name === undefined) {
            const problem = name === "" ? "has no repository name in its path" : repoNameProblem(name);
            if (problem) {
                const what = name === "" ? "the URL" : `the directory name ${JSON.stringify(name.slice(0, 120))} derived from the URL`;
                problems.push({ path: at("repos", r, "name"), message: `${what} ${problem}; set name` });
            }
        }
        const first = seen.get(name);
        if (first !== undefined) {
            problems.push({ path: at("repos", r, "name"), message: `directory "${name}" is already used by repos[${first}]; set a distinct name` });
        } else if (name !== "") {
            seen.set(name, r);
        }
        return repo.branch !== undefined ? { url: repo.url, branch: repo.branch, name } : { url: repo.url, name };
    });
}

/** Two developers must not bind the same PersistentVolume: the second claim would stay Pending forever. */
function checkUniqueHomeVolumes(developers: DeveloperConfig[], rawDevelopers: unknown[], problems: ConfigProblem[]) {
    const seen = new Map<string, string>();
    developers.forEach((developer) => {
        const volume = developer.homeVolumeName;
        if (volume === undefined) return;
        const first = seen.get(volume);
        if (first !== undefined) {
            const index = rawDevelopers.findIndex((d) => (d as { name?: unknown } | null)?.name === developer.name);
            problems.push({
                path: formatConfigPath(["developers", index, "homeVolumeName"]),
                message: `PersistentVolume "${volume}" would be the home of both "${first}" and "${developer.name}"; each developer needs their own volume`,
            });
        } else {
            seen.set(volume, developer.name);
        }
    });
}

function checkUniqueNames(rawDevelopers: unknown[], problems: ConfigProblem[]) {
    const seen = new Map<string, number>();
    rawDevelopers.forEach((dev, i) => {
        const name = (dev as { name?: unknown } | null)?.name;
        if (typeof name !== "string") return;
        const first = seen.get(name);
        if (first !== undefined) {
            problems.push({ path: formatConfigPath(["developers", i, "name"]), message: `duplicate developer "${name}" (also developers[${first}])` });
        } else {
            seen.set(name, i);
        }
    });
}

/** Keys whose value is a plain string; the others hold YAML objects/lists (JSON in the runtime config). */
export const STRING_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>(["team", "environment", "domain", "storageClass", "ideAuth", "namespaceLayout"]);

/**
 * The raw values of the `gitspace:` keys in a flat config map (`gitspace:<key>` → the string the engine stores):
 * string keys as they are, the others parsed from JSON, and the keys this schema does not know. Shared by the
 * program and the portal, so both read a stack's config the same way.
 */
export function rawTeamConfig(all: Record<string, string>, knownKeys: readonly string[] = CONFIG_KEYS): { values: Record<string, unknown>; unknownKeys: string[] } {
    const values: Record<string, unknown> = {};
    const unknownKeys: string[] = [];
    const prefix = `${CONFIG_NAMESPACE}:`;
    for (const [fullKey, value] of Object.entries(all)) {
        if (!fullKey.startsWith(prefix)) continue;
        const key = fullKey.substring(prefix.length);
        if (!knownKeys.includes(key)) unknownKeys.push(key);
        values[key] = STRING_KEYS.has(key as ConfigKey) ? value : parseJsonOrString(value);
    }
    return { values, unknownKeys };
}

/**
 * Reads and validates the `gitspace:` keys of the current stack. Secret values (set with `--secret --path`) arrive
 * decrypted here and are wrapped back into Pulumi secrets by the components.
 */
export function loadTeamConfig(): TeamConfig {
    const { values, unknownKeys } = rawTeamConfig(pulumi.runtime.allConfig());
    return parseTeamConfig(values, unknownKeys, { stack: pulumi.getStack() });
}

function parseJsonOrString(value: string): unknown {
    try {
        return JSON.parse(value);
    } catch {
        return value;
    }
}

/** The schema of one `gitspace:developers[i]` entry as written (before defaults): the portal documents its request bodies with it. */
export const DEVELOPER_ENTRY_SCHEMA = developerSchema;
