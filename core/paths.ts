/** File paths built from names: proven to stay under their root, whatever the names hold. */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { RelaycastError } from './errors.ts';

/**
 * `root` joined with `parts`, resolved, or RC_NAME_INVALID when the result is the root itself or
 * lies outside it. Names are validated at the boundary (core/names.ts); this is the second lock on
 * the door for every path we write to or delete.
 */
export function resolveUnder(root: string, ...parts: string[]): string {
  const base = resolve(root);
  const target = resolve(base, ...parts);
  const rel = relative(base, target);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel))
    throw new RelaycastError('RC_NAME_INVALID', `path ${JSON.stringify(parts.join('/'))} leaves ${base}`);
  return target;
}
