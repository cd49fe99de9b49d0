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

export const CONFIG_NAMESPACE = "gitspace";
export const PLATFORMS = ["linux/amd64", "linux/arm64"] as const;
export type Platform = (typeof PLATFORMS)[number];

export interface UserConfig { name: string; uid: number; gid: number }
export interface ResourceList { cpu: string; memory: string }
export interface ResourcesConfig { requests: ResourceList; limits: ResourceList }
export interface RepoConfig { url: string; branch?: string; /** Directory under HOME. */ name: string }
export interface GitCredentials { username: string; token: string }

export interface ImagesConfig {
    registry: string;
    tag: string;
    platforms: Platform[];
    push: boolean;
    build: boolean;
    vscodeExtensions: string[];
    /** Image the `base` flavor is built FROM. */
    baseImage: string;
    /** Existing buildx builder to build with (e.g. a `remote` builder); buildx's current one when unset. */
    builder?: string;
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
}

export interface RouterConfig {
    /** Namespace of the caddy2-k8s router allowed to reach the IDE port. */
    namespace: string;
}

export interface TeamConfig {
    team: string;
    domain: string;
    storageClass?: string;
    /** `password`: code-server asks for a generated password; `proxy`: an authenticating proxy in front does. */
    ideAuth: "password" | "proxy";
    router: RouterConfig;
    images: ImagesConfig;
    developers: DeveloperConfig[];
}

export const BUILT_IN_DEFAULTS = {
    ide: "vs_code_web" as IdeType,
    storage: "10Gi",
    user: { name: "vscode", uid: 1000, gid: 1000 } as UserConfig,
    resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "2", memory: "4Gi" } } as ResourcesConfig,
    running: true,
    migrateLegacyWorkspaces: false,
    retainHome: true,
};

// ---------------------------------------------------------------------------------------------------------------
// Building blocks

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const POSIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const MEMORY = /^([0-9]+(\.[0-9]+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$/;
const CPU = /^([0-9]+(\.[0-9]+)?)(m)?$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const REGISTRY_REPO = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
const SSH_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$/;
const GIT_BRANCH = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*\.lock$)[A-Za-z0-9._/-]+(?<![/.])$/;
const DIR_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const EXTENSION_ID = /^[A-Za-z0-9][A-Za-z0-9-]*\.[A-Za-z0-9][A-Za-z0-9._-]*(@[0-9A-Za-z.+-]+)?$/;

const required = (what: string) => (iss: { input?: unknown }) =>
    iss.input === undefined ? "required" : `must be ${what}`;

const dnsLabel = () =>
    z.string({ error: required("a string") })
        .max(63, { error: "must be at most 63 characters" })
        .regex(DNS_LABEL, { error: (iss) => `invalid name ${JSON.stringify(iss.input)}; must be a DNS label (lowercase letters, digits, '-')` });

const memoryQuantity = z.string({ error: required("a quantity string such as \"2Gi\"") })
    .regex(MEMORY, { error: (iss) => `invalid quantity ${JSON.stringify(iss.input)}; expected e.g. "512Mi", "4Gi"` });
const cpuQuantity = z.union([z.string(), z.number()], { error: required("a CPU quantity such as \"500m\" or \"2\"") })
    .transform((v) => String(v))
    .refine((v) => CPU.test(v), { error: (iss) => `invalid CPU quantity ${JSON.stringify(iss.input)}; expected e.g. "500m", "2"` });

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

const repoSchema = z.strictObject({
    url: z.string({ error: required("a string") }).superRefine((url, ctx) => {
        const problem = repoUrlProblem(url);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
    branch: z.string().regex(GIT_BRANCH, { error: (iss) => `invalid branch name ${JSON.stringify(iss.input)}` }).optional(),
    name: z.string()
        .regex(DIR_NAME, { error: (iss) => `invalid directory name ${JSON.stringify(iss.input)}; use letters, digits, '.', '_', '-'` })
        .optional(),
});

const gitSchema = z.strictObject({
    username: z.string({ error: required("a string") }).min(1, { error: "must not be empty" }),
    // The token is never echoed in messages.
    token: z.string({ error: required("a string (set it with `pulumi config set --secret --path`)") })
        .min(1, { error: "must not be empty" }),
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
};

const defaultsSchema = z.strictObject(developerSettings);

const developerSchema = z.strictObject({
    name: dnsLabel(),
    repos: z.array(repoSchema).optional(),
    git: gitSchema.optional(),
    homeVolumeName: z.string().regex(DNS_SUBDOMAIN, { error: (iss) => `invalid PersistentVolume name ${JSON.stringify(iss.input)}` }).optional(),
    ...developerSettings,
});

const imagesSchema = z.strictObject({
    registry: z.string({ error: required("a string") })
        .regex(REGISTRY_REPO, { error: (iss) => `invalid registry repository ${JSON.stringify(iss.input)}; expected e.g. "registry.example.com/gitspace-runtime" (no scheme, no tag)` }),
    tag: z.string().regex(IMAGE_TAG, { error: (iss) => `invalid image tag ${JSON.stringify(iss.input)}` }).default("latest"),
    platforms: z.array(z.enum(PLATFORMS, { error: (iss) => `unknown platform ${JSON.stringify(iss.input)}; expected one of ${PLATFORMS.join(", ")}` }))
        .min(1, { error: "must list at least one platform" }).default([...PLATFORMS]),
    push: z.boolean({ error: "must be true or false" }).default(true),
    build: z.boolean({ error: "must be true or false" }).default(true),
    vscodeExtensions: z.array(z.string().regex(EXTENSION_ID, { error: (iss) => `invalid extension id ${JSON.stringify(iss.input)}; expected publisher.name[@version]` })).default([]),
    baseImage: z.string().min(1, { error: "must not be empty" }).default("ubuntu:24.04"),
    builder: z.string().min(1, { error: "must not be empty" }).optional(),
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
    team: dnsLabel(),
    domain: z.string({ error: required("a string") })
        .max(253)
        .regex(DNS_SUBDOMAIN, { error: (iss) => `invalid domain ${JSON.stringify(iss.input)}; expected e.g. "gitspace.example.com"` }),
    storageClass: z.string().regex(DNS_SUBDOMAIN, { error: (iss) => `invalid storage class name ${JSON.stringify(iss.input)}` }).optional(),
    ideAuth: z.enum(["password", "proxy"], { error: (iss) => `unknown ideAuth ${JSON.stringify(iss.input)}; expected "password" or "proxy"` }).default("password"),
    router: z.strictObject({ namespace: dnsLabel().default("caddy-system") }).default({ namespace: "caddy-system" }),
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

/** Why a repository URL is unusable, or undefined when it is fine. */
export function repoUrlProblem(url: string): string | undefined {
    if (/^[\w.-]+@[\w.-]+:/.test(url)) return "SSH clone URLs are not supported; use the https:// clone URL";
    let parsed: URL;
    try {
        parsed = new URL(url);
    } catch {
        return `invalid URL; expected e.g. "https://git.example.com/org/repo.git"`;
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
        return `unsupported scheme "${parsed.protocol.replace(/:$/, "")}"; only http(s) clone URLs are supported`;
    }
    if (parsed.username || parsed.password) {
        // Never echo the URL: it holds credentials.
        return "must not contain credentials; set git.username and git.token (as a secret) instead";
    }
    if (!repoDirName(url)) return "has no repository name in its path";
    return undefined;
}

/** `https://host/org/api.git` → `api` */
export function repoDirName(url: string): string {
    const path = new URL(url).pathname.replace(/\/+$/, "");
    return decodeURIComponent(path.substring(path.lastIndexOf("/") + 1)).replace(/\.git$/, "");
}

const UNITS: Record<string, number> = {
    "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The numeric value of a Kubernetes quantity already matched by MEMORY or CPU. */
export function quantityValue(quantity: string): number {
    const match = MEMORY.exec(quantity);
    if (!match) throw new Error(`not a quantity: ${quantity}`);
    return Number(match[1]) * UNITS[match[3] ?? ""];
}

/** Kubernetes namespace of a developer's gitspace. */
export function namespaceName(team: string, developer: string): string {
    return `gitspace-${team}-${developer}`;
}

/** The routing identifier: `https://<identifier>.<domain>`. */
export function identifier(team: string, developer: string): string {
    return `${team}-${developer}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Parse + resolve

type Parsed = { [K in ConfigKey]: z.output<(typeof TOP_LEVEL_SCHEMAS)[K]> };

/**
 * Validates the raw values of every `gitspace:` key (as `pulumi.Config#getObject` returns them; undefined when
 * unset) and resolves developer defaults. `unknownKeys` are other `gitspace:` keys found in the stack config
 * (typos such as `gitspace:developer`). Throws ConfigError listing every problem.
 */
export function parseTeamConfig(raw: Partial<Record<string, unknown>>, unknownKeys: string[] = []): TeamConfig {
    const problems: ConfigProblem[] = [];
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
    for (const key of unknownKeys) {
        problems.push({ path: `${CONFIG_NAMESPACE}:${key}`, message: `unknown configuration key; expected one of ${CONFIG_KEYS.join(", ")}` });
    }

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
        if (parsed.team && namespaceName(parsed.team, developer.name).length > 63) {
            problems.push({
                path: formatConfigPath(["developers", i, "name"]),
                message: `namespace "${namespaceName(parsed.team, developer.name)}" would be longer than 63 characters; shorten the team or developer name`,
            });
        }
    });
    checkUniqueNames(parsed.developers ?? [], problems);
    if (problems.length > 0) throw new ConfigError(problems);

    const p = parsed as Parsed;
    return {
        team: p.team,
        domain: p.domain,
        storageClass: p.storageClass,
        ideAuth: p.ideAuth,
        router: p.router,
        images: p.images,
        developers,
    };
}

type RawDeveloper = z.output<typeof developerSchema>;
type RawDefaults = z.output<typeof defaultsSchema>;

function resolveDeveloper(dev: RawDeveloper, defaults: RawDefaults, index: number, problems: ConfigProblem[]): DeveloperConfig {
    const at = (...path: PropertyKey[]) => formatConfigPath(["developers", index, ...path]);
    const resolved: DeveloperConfig = {
        name: dev.name,
        ide: dev.ide ?? defaults.ide ?? BUILT_IN_DEFAULTS.ide,
        repos: (dev.repos ?? []).map((r) => ({ url: r.url, branch: r.branch, name: r.name ?? repoDirName(r.url) })),
        storage: dev.storage ?? defaults.storage ?? BUILT_IN_DEFAULTS.storage,
        user: dev.user ?? defaults.user ?? BUILT_IN_DEFAULTS.user,
        running: dev.running ?? defaults.running ?? BUILT_IN_DEFAULTS.running,
        sshPublicKeys: dev.sshPublicKeys ?? defaults.sshPublicKeys ?? [],
        git: dev.git,
        ...(dev.homeVolumeName ? { homeVolumeName: dev.homeVolumeName } : {}),
        resources: dev.resources ?? defaults.resources ?? BUILT_IN_DEFAULTS.resources,
        migrateLegacyWorkspaces: dev.migrateLegacyWorkspaces ?? defaults.migrateLegacyWorkspaces ?? BUILT_IN_DEFAULTS.migrateLegacyWorkspaces,
        retainHome: dev.retainHome ?? defaults.retainHome ?? BUILT_IN_DEFAULTS.retainHome,
    };

    if (IDE_CATALOG[resolved.ide].access === "ssh" && resolved.sshPublicKeys.length === 0) {
        problems.push({ path: at("sshPublicKeys"), message: `required for the SSH IDE "${resolved.ide}" (at least one public key)` });
    }
    const seen = new Map<string, number>();
    resolved.repos.forEach((repo, r) => {
        if (!DIR_NAME.test(repo.name)) {
            problems.push({ path: at("repos", r, "name"), message: `directory name ${JSON.stringify(repo.name)} derived from the URL is unusable; set name` });
        }
        const first = seen.get(repo.name);
        if (first !== undefined) {
            problems.push({ path: at("repos", r, "name"), message: `directory "${repo.name}" is already used by repos[${first}]; set a distinct name` });
        } else {
            seen.set(repo.name, r);
        }
    });
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
export const STRING_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>(["team", "domain", "storageClass", "ideAuth"]);

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
    return parseTeamConfig(values, unknownKeys);
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
