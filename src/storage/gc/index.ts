export { collectGarbage, type GcReport, type GcSettings, type RepoSweep } from './run.ts';
export { globToRegExp, keptTags, policyFor } from './policy.ts';
