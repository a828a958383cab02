/**
 * Small typed readers over a canonical config tree. `canonicalize` has already checked every
 * value against the schema, so these only pick a value or fall back to a default; the casts
 * are safe by that contract.
 */

import type { ConfigIssue } from './errors.ts';

export type Tree = Record<string, unknown>;

/** Issues and warnings gathered while normalizing. */
export interface NormalizeContext {
  issues: ConfigIssue[];
  warnings: string[];
  /** Directory relative paths are resolved against (the process cwd, as zot does). */
  cwd: string;
}

/** The sub-tree at `key`, or undefined when the section is absent. */
export function section(t: Tree | undefined, key: string): Tree | undefined {
  const v = t?.[key];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Tree) : undefined;
}

export function has(t: Tree | undefined, key: string): boolean {
  return t !== undefined && t[key] !== undefined;
}

export function bool(t: Tree | undefined, key: string, fallback: boolean): boolean {
  const v = t?.[key];
  return typeof v === 'boolean' ? v : fallback;
}

export function num(t: Tree | undefined, key: string): number | undefined;
export function num(t: Tree | undefined, key: string, fallback: number): number;
export function num(t: Tree | undefined, key: string, fallback?: number): number | undefined {
  const v = t?.[key];
  return typeof v === 'number' ? v : fallback;
}

export function str(t: Tree | undefined, key: string): string | undefined;
export function str(t: Tree | undefined, key: string, fallback: string): string;
export function str(t: Tree | undefined, key: string, fallback?: string): string | undefined {
  const v = t?.[key];
  return typeof v === 'string' ? v : fallback;
}

export function strs(t: Tree | undefined, key: string): string[] {
  const v = t?.[key];
  return Array.isArray(v) ? (v as string[]) : [];
}

export function list(t: Tree | undefined, key: string): Tree[] {
  const v = t?.[key];
  return Array.isArray(v) ? (v as Tree[]) : [];
}

/** Copy of `t` without undefined values, typed as the caller's target shape. */
export function pick<T>(t: Tree | undefined): T | undefined {
  return t === undefined ? undefined : (structuredClone(t) as T);
}

/** Record an issue about a key path. */
export function issue(ctx: NormalizeContext, path: string, text: string): void {
  ctx.issues.push({ path, message: `${path}: ${text}` });
}
