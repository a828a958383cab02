import { verifyConfig } from '../config/index.ts';

/** `skiff verify <config>`: validates a file without starting (exit 0 when valid). */
export async function verifyCommand(args: string[]): Promise<number> {
  const path = args.find((a) => !a.startsWith('-'));
  if (!path) {
    process.stderr.write('usage: skiff verify <config>\n');
    return 2;
  }
  const r = await verifyConfig(path);
  for (const m of r.messages) process.stdout.write(`${m}\n`);
  process.stdout.write(r.ok ? `${path}: ok\n` : `${path}: invalid\n`);
  return r.ok ? 0 : 1;
}
