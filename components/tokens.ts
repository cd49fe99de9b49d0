/**
 * Pulumi type tokens of this package's components (`gitspace:<module>:<Type>`), defined once. The components, the
 * portal (which finds a developer's Gitspace by its URN) and the tests import them from here.
 */
export const TYPE_TOKENS = {
    gitspace: "gitspace:gitspace:Gitspace",
    teamNamespace: "gitspace:gitspace:TeamNamespace",
    runtimeImages: "gitspace:images:RuntimeImages",
} as const;

export type TypeToken = (typeof TYPE_TOKENS)[keyof typeof TYPE_TOKENS];
