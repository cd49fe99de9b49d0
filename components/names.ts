/**
 * Every name the stack derives from the team, the environment and the developer: namespaces, the routing
 * identifier, hostnames and the names of objects inside a namespace. One module, so the program, the portal and the
 * tests compute the same names.
 *
 * The scheme is collision-free by construction: a name component (team, environment, developer) is a DNS label that
 * never contains `--`, and components are joined with `--`. Splitting a name on `--` therefore gives back its
 * components, so two different (team, environment, developer) triples can never produce the same name, and names with
 * a different number of components (a namespace per developer vs. one per team stack, a hostname with vs. without an
 * app port) can never be equal either. Every name must also fit in 63 characters: `nameProblems` reports the ones that
 * do not, and the config is rejected.
 */

import { DNS_LABEL, DNS_SUBDOMAIN } from "./patterns";

export { DNS_LABEL, DNS_SUBDOMAIN } from "./patterns";
/** Joins name components. Components never contain it. */
export const SEPARATOR = "--";
/** Kubernetes namespaces, Service names and hostname labels are DNS labels: at most 63 characters. */
export const NAME_LIMIT = 63;
/** Prefix of every namespace the stack creates. */
export const NAMESPACE_PREFIX = "gitspace";

/** A DNS label (lowercase letters, digits, `-`; letter or digit at both ends); `--` inside is refused separately. */
export const NAME_COMPONENT = DNS_LABEL;

/** Why `name` cannot be a name component (team, environment, developer), or undefined when it can. */
export function nameComponentProblem(name: string): string | undefined {
    if (name.length === 0) return "must not be empty";
    if (name.length > NAME_LIMIT) return `must be at most ${NAME_LIMIT} characters`;
    if (!NAME_COMPONENT.test(name)) {
        return `invalid name ${JSON.stringify(name)}; must be a DNS label (lowercase letters, digits, '-')`;
    }
    if (name.includes(SEPARATOR)) {
        return `invalid name ${JSON.stringify(name)}; must not contain "--" (it separates the parts of generated names)`;
    }
    return undefined;
}

/**
 * `per-developer`: one namespace per developer (`gitspace--<team>--<env>--<developer>`).
 * `shared`: one namespace per team stack (`gitspace--<team>--<env>`), objects named per developer (`<role>--<developer>`).
 */
export const NAMESPACE_LAYOUTS = ["per-developer", "shared"] as const;
export type NamespaceLayout = (typeof NAMESPACE_LAYOUTS)[number];

/** The team stack a name belongs to. */
export interface NameScope { team: string; environment: string }

/** Objects of one developer's gitspace; in the shared layout each is suffixed with `--<developer>`. */
export const OBJECT_ROLES = {
    deployment: "gitspace",
    service: "gitspace",
    route: "gitspace",
    sshService: "ssh",
    homeClaim: "home",
    gitCredentials: "git-credentials",
    idePassword: "ide-password",
    sshAuthorizedKeys: "ssh-authorized-keys",
    sshHostKey: "ssh-host-key",
    allowRouter: "allow-router",
    allowSsh: "allow-ssh",
} as const;
export type ObjectRole = keyof typeof OBJECT_ROLES;
export type ObjectNames = { [R in ObjectRole]: string };

/** Namespace-wide objects: one per namespace in either layout. */
export const NAMESPACE_OBJECTS = {
    quota: "gitspace",
    limitRange: "gitspace",
    defaultDeny: "default-deny-ingress",
    egress: "egress",
    registryCredentials: "registry-credentials",
    routerRole: "gitspace-router",
} as const;

/** The namespace shared by every gitspace of a team stack: `gitspace--<team>--<env>`. */
export function teamNamespaceName(scope: NameScope): string {
    return [NAMESPACE_PREFIX, scope.team, scope.environment].join(SEPARATOR);
}

/** A developer's own namespace: `gitspace--<team>--<env>--<developer>`. */
export function developerNamespaceName(scope: NameScope, developer: string): string {
    return [NAMESPACE_PREFIX, scope.team, scope.environment, developer].join(SEPARATOR);
}

/** The namespace a developer's gitspace lives in, for the layout. */
export function namespaceName(scope: NameScope, developer: string, layout: NamespaceLayout): string {
    return layout === "shared" ? teamNamespaceName(scope) : developerNamespaceName(scope, developer);
}

/**
 * The routing identifier `<developer>--<team>--<env>`: the hostname label of the IDE, the `gitspace` label caddy2-k8s
 * reads, and the selector of the pod. The developer comes first, so a label starts with the name people look for.
 */
export function identifier(scope: NameScope, developer: string): string {
    return [developer, scope.team, scope.environment].join(SEPARATOR);
}

/** The hostname label of an app port: `<identifier>--<port>`, one component more than any IDE hostname. */
export function appPortLabel(scope: NameScope, developer: string, port: number): string {
    return [identifier(scope, developer), String(port)].join(SEPARATOR);
}

/** `<identifier>.<domain>`, or `<identifier>--<port>.<domain>` for an app port. */
export function hostname(scope: NameScope, domain: string, developer: string, port?: number): string {
    return `${port === undefined ? identifier(scope, developer) : appPortLabel(scope, developer, port)}.${domain}`;
}

/** `https://` + `hostname(…)`. */
export function gitspaceUrl(scope: NameScope, domain: string, developer: string, port?: number): string {
    return `https://${hostname(scope, domain, developer, port)}`;
}

/** The names of a developer's objects in its namespace: `<role>` per developer namespace, `<role>--<developer>` shared. */
export function objectNames(developer: string, layout: NamespaceLayout): ObjectNames {
    const name = (role: string) => (layout === "shared" ? [role, developer].join(SEPARATOR) : role);
    return Object.fromEntries(Object.entries(OBJECT_ROLES).map(([key, role]) => [key, name(role)])) as ObjectNames;
}

/** The HTTPRoute of an app port: `app-<port>`, or `app-<port>--<developer>` in a shared namespace. */
export function appRouteName(developer: string, layout: NamespaceLayout, port: number): string {
    const role = `app-${port}`;
    return layout === "shared" ? [role, developer].join(SEPARATOR) : role;
}

export interface NameCheck {
    scope: NameScope;
    developer: string;
    layout: NamespaceLayout;
    /** App ports routed as `<identifier>--<port>`. */
    ports: readonly number[];
}

/**
 * Every derived name that would break a Kubernetes or DNS limit, as messages naming the name and the limit. The
 * developer's name is the one that can change, so the messages say what to shorten.
 */
export function nameProblems(check: NameCheck): string[] {
    const { scope, developer, layout, ports } = check;
    const problems: string[] = [];
    const tooLong = (what: string, name: string) => {
        if (name.length > NAME_LIMIT) {
            problems.push(`${what} "${name}" would be ${name.length} characters, over the limit of ${NAME_LIMIT}; shorten the team, environment or developer name`);
        }
    };
    tooLong("namespace", namespaceName(scope, developer, layout));
    tooLong("hostname label", identifier(scope, developer));
    const longestPort = ports.reduce((a, b) => (String(b).length > String(a).length ? b : a), ports[0]);
    if (longestPort !== undefined) {
        tooLong("app hostname label", appPortLabel(scope, developer, longestPort));
        tooLong("app route name", appRouteName(developer, layout, longestPort));
    }
    for (const [role, name] of Object.entries(objectNames(developer, layout))) tooLong(`${role} name`, name);
    // A DNS label with "--" in its 3rd and 4th characters is reserved for IDNA (RFC 5891 §4.2.3.1); public CAs such as
    // Let's Encrypt refuse certificates for it. That happens exactly when the first component has two characters.
    if (identifier(scope, developer).substring(2, 4) === SEPARATOR) {
        problems.push(`hostname label "${identifier(scope, developer)}" has "--" in its 3rd and 4th characters, a form reserved for internationalized names (RFC 5891) that certificate authorities refuse; use a developer name of 1 or at least 3 characters`);
    }
    return problems;
}

/** The name part of a label or annotation key, and a label value (when not empty). */
export const QUALIFIED_NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** Why `key` is not a valid label or annotation key (`[prefix/]name`), or undefined when it is. */
export function metadataKeyProblem(key: string): string | undefined {
    const slash = key.indexOf("/");
    const prefix = slash === -1 ? undefined : key.substring(0, slash);
    const name = slash === -1 ? key : key.substring(slash + 1);
    const bad = `invalid key ${JSON.stringify(key)}; expected [prefix/]name, prefix a DNS subdomain, name at most 63 of [A-Za-z0-9-_.] starting and ending alphanumeric`;
    if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return bad;
    if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_PART.test(name)) return bad;
    return undefined;
}
