import { RegistryError } from '../errors/index.ts';
import type { Layout } from './layout/index.ts';
import type { RegistryIndex } from './index/index.ts';

/**
 * Creates repositories on first write and enforces zot's `storage.maxRepos` quota
 * (HTTP 429 for a push that would create one repository too many). Callers hold the
 * repository's lock.
 */
export class RepoGuard {
  constructor(
    private readonly layout: Layout,
    private readonly index: RegistryIndex,
    private readonly maxRepos: number,
  ) {}

  async ensure(repo: string): Promise<void> {
    if (this.index.repo(repo)) return;
    if (this.maxRepos > 0 && !(await this.layout.repos.fingerprint(repo))) {
      let count = 0;
      for (const _ of this.index.listRepos(undefined, undefined).items) count++;
      if (count >= this.maxRepos) {
        throw new RegistryError('TOOMANYREQUESTS', `repository quota of ${this.maxRepos} reached`, { detail: { maxRepos: this.maxRepos } });
      }
    }
    await this.layout.repos.ensure(repo);
    // A repository exists from its first write on, as in zot (its directory is the test):
    // listed in the catalog, with an empty tag list until something is tagged.
    await this.index.write.apply(repo, { fingerprint: await this.layout.repos.fingerprint(repo) });
  }
}
