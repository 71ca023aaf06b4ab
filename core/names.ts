/**
 * Stream, channel and app names: the one rule for what may appear in URLs, registry keys and,
 * through --hls-dir, file paths. Every entry point (RTMP publish and play, viewer and internal
 * HTTP paths, REST, gRPC, CLI) checks names here, once, before anything else sees them.
 *
 * - a name: 1-128 of A-Z a-z 0-9 . _ ~ -, and not only dots (`.` and `..` are path steps);
 * - an app: one or more such segments joined by `/` (no empty segment), at most 128 in all;
 * - `<name>~backup` is reserved: it is where a channel's backup publisher lives on an origin.
 */
import { RelaycastError } from './errors.ts';

const SEGMENT_RE = /^[A-Za-z0-9._~-]{1,128}$/;
const ONLY_DOTS_RE = /^\.+$/;

function segmentProblem(segment: string): string | undefined {
  if (!SEGMENT_RE.test(segment)) return 'may use A-Z a-z 0-9 . _ ~ - (1-128 characters)';
  if (ONLY_DOTS_RE.test(segment)) return "may not be '.' or '..' (or only dots)";
  return undefined;
}

/** Throws RC_NAME_INVALID unless `name` is a valid stream or channel name. */
export function validateName(name: string, what = 'stream name'): void {
  const problem = segmentProblem(name);
  if (problem) throw new RelaycastError('RC_NAME_INVALID', `${what} ${JSON.stringify(name)} ${problem}`);
}

/** Throws RC_NAME_INVALID unless `app` is a valid app (segments joined by '/'). */
export function validateAppName(app: string): void {
  if (app.length === 0 || app.length > 128)
    throw new RelaycastError('RC_NAME_INVALID', 'app names are 1-128 characters');
  for (const segment of app.split('/')) {
    const problem = segment === '' ? 'may not have an empty segment' : segmentProblem(segment);
    if (problem)
      throw new RelaycastError(
        'RC_NAME_INVALID',
        `app ${JSON.stringify(app)}: each '/'-separated part ${problem}`,
      );
  }
}

/** The app and stream name of a stream a viewer or an admin names (lookups). */
export function validateStreamId(app: string, name: string): void {
  validateAppName(app);
  validateName(name);
}

/** A stream name something may publish or create as a channel: valid and not reserved. */
export function validateStreamName(app: string, name: string): void {
  validateStreamId(app, name);
  if (name.endsWith('~backup'))
    throw new RelaycastError('RC_NAME_INVALID', "stream names may not end in '~backup' (reserved)");
}
