/**
 * The gitspace portal library: typed operations on one team stack through the Pulumi Automation API, and the
 * HTTP service over them. See portal/README.md.
 */
export * from "./types";
export * from "./errors";
export { KeyedQueue } from "./queue";
export { BatchQueue, QueuedItem, QueueEntry } from "./batch";
export { ResourceOwners, BatchEvents } from "./group";
export { withBusyRetry, backoffDelay, isConcurrentUpdateError, isTornStateRead, withStateReadRetry, RetryOptions, StateReadRetryOptions, DEFAULT_RETRY } from "./retry";
export {
    addDeveloper, updateDeveloper, removeDeveloper, setRunning, validate, applyOps, mergePatch, rawConfigFromConfigMap,
    ConfigOp, Mutation, RawConfig, SECRET_FIELDS, TEAM_SECRET_FIELDS, teamConfigOps,
} from "./mutations";
export { StackDriver, StackDriverFactory, AutomationOptions, AutomationStackDriver, automationDriverFactory, GITSPACE_COMPONENT_TYPE, lockConfigFile, LockOptions, DEFAULT_LOCK } from "./driver";
export { GitspacePortal, PortalOptions, gitspacesOf } from "./gitspaces";
export { checkStackRef, teamNameSchema, envNameSchema } from "./stackref";
export { checkUntrustedJson, JSON_LIMITS, FORBIDDEN_KEYS } from "./limits";
export { EventCollector, parseUrn } from "./events";
export { StackCatalog, StackExistsError, StackListing, parseStackName, teamStacks, checkTeamConfig, automationCatalog } from "./stacks";
export { streamOperation, StreamedOperation } from "./stream";
export { createInMemoryPortal, MemoryStackDriver, exampleTeamValues, InMemoryPortal, MemoryLiveBackend, readyPod } from "./memory";
export { deriveStatus, cleanText, currentStep, importantLines, StatusInput, INIT_CONTAINER, IDE_CONTAINER } from "./live/status";
export { kubeLiveBackend, LiveBackend, LiveHub, StackLive, PodWatch } from "./live/watch";
export {
    createPortalServer, PortalServerOptions, openApiDocument, resolvePortalToken, portalTokenFromEnv, MIN_TOKEN_LENGTH, COMMON_HEADERS, DEFAULT_MAX_BODY_BYTES,
} from "./http/server";
export { ROUTES, Route, allowedMethods } from "./http/routes";
export {
    IdleReaper, IdleSource, IdleCluster, portalIdleSource, kubeIdleCluster, decideIdle, parseActivity, idleIntervalMs, startIdleReaper,
} from "./idle";
