import bcrypt from 'bcryptjs';
import type { Logger } from 'pino';
import { readTextFile, watchFiles, type FileWatch } from '../platform/watched-files.ts';

/** bcrypt in the spellings `htpasswd -B` (2y) and other tools (2a, 2b) write. */
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/**
 * An htpasswd file with bcrypt hashes only (zot accepts nothing else; MD5-crypt, SHA1 and
 * crypt(3) entries are skipped with a warning). The file is re-read when it changes; a
 * broken rewrite keeps the previous users. `generation` changes on every reload so caches
 * of verified credentials can tell they are stale.
 */
export class HtpasswdFile {
  private users = new Map<string, string>();
  private watcher: FileWatch | undefined;
  /** A hash of the highest cost seen, compared against for unknown users so they take as long. */
  private dummy = '';
  generation = 0;

  private constructor(
    readonly path: string,
    private readonly log: Logger,
    private readonly onReload: () => void,
  ) {}

  /** Reads the file (failing loudly when unreadable) and starts watching it. */
  static async open(path: string, log: Logger, onReload: () => void = () => undefined): Promise<HtpasswdFile> {
    const f = new HtpasswdFile(path, log, onReload);
    await f.load();
    f.watcher = watchFiles([path], () => {
      f.load().then(
        () => {
          log.info({ path, users: f.users.size }, 'htpasswd file reloaded');
          f.onReload();
        },
        (err: unknown) => log.error({ path, err: (err as Error).message }, 'htpasswd reload failed; keeping the previous users'),
      );
    });
    return f;
  }

  private async load(): Promise<void> {
    const text = await readTextFile(this.path, 'htpasswd file');
    const users = new Map<string, string>();
    let maxCost = 4;
    let maxHash = '';
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const colon = line.indexOf(':');
      const user = colon > 0 ? line.slice(0, colon) : '';
      const hash = colon > 0 ? line.slice(colon + 1) : '';
      const m = BCRYPT.exec(hash);
      if (!user || !m) {
        this.log.warn({ path: this.path, line: i + 1, user: user || undefined }, 'htpasswd entry skipped: only bcrypt hashes ($2y$/$2a$/$2b$) are accepted');
        return;
      }
      users.set(user, hash);
      const cost = Number(m[1]);
      if (cost >= maxCost) (maxCost = cost), (maxHash = hash);
    });
    this.users = users;
    this.dummy = maxHash || bcrypt.hashSync('skiff-dummy', 4);
    this.generation++;
  }

  /** Whether `user` exists with this password. Unknown users cost a bcrypt compare too. */
  async verify(user: string, password: string): Promise<boolean> {
    const hash = this.users.get(user);
    if (hash === undefined) {
      await bcrypt.compare(password, this.dummy);
      return false;
    }
    return bcrypt.compare(password, hash);
  }

  has(user: string): boolean {
    return this.users.has(user);
  }

  close(): void {
    this.watcher?.close();
  }
}
