/** Stream, channel and app names: what may appear in URLs and registry keys. */
import { RelaycastError } from './errors.ts';

const NAME_RE = /^[A-Za-z0-9._~-]{1,128}$/;

export function validateStreamName(app: string, name: string): void {
  if (!NAME_RE.test(name))
    throw new RelaycastError('RC_PUBLISH_KEY_INVALID', 'stream names may use A-Z a-z 0-9 . _ ~ - (1-128)');
  // <name>~backup is where a channel's backup publisher lives on an origin
  if (name.endsWith('~backup'))
    throw new RelaycastError('RC_PUBLISH_KEY_INVALID', "stream names may not end in '~backup' (reserved)");
  if (!/^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(app) || app.length > 128)
    throw new RelaycastError('RC_PUBLISH_KEY_INVALID', 'app names may use A-Z a-z 0-9 . _ ~ - and /');
}
