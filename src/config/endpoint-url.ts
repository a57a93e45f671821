/** The one check of an endpoint URL, shared by flags, environment and the config file. */
import { UsageError } from '../errors.js';

/** The URL as it may be shown: any user-info (`user:secret@`) hidden, parseable or not. */
function shownUrl(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/]*@/i, '$1(credentials hidden)@');
}

/** Checks an endpoint URL and returns it without a trailing slash; UsageError otherwise. */
export function normalizeEndpointUrl(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`--endpoint-url '${shownUrl(text)}' is not a URL (expected e.g. http://127.0.0.1:7480)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new UsageError(`--endpoint-url '${shownUrl(text)}': only http:// and https:// are supported`);
  }
  if (u.username || u.password) {
    throw new UsageError(`--endpoint-url must not carry credentials; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or --profile`);
  }
  if (u.search || u.hash) throw new UsageError(`--endpoint-url '${u.origin}…' must not have a query or fragment`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}
