/**
 * Files the gateway serves from its own package, never from the internet: the browser build of the
 * client SDK under `/sdk/` (`/sdk/client/browser.js` and the two modules it imports), and pages such
 * as the demo chat.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

const DIST = fileURLToPath(new URL('..', import.meta.url));

/** The files under `/sdk/`: the browser SDK's module graph, read once at start. */
function sdkFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(`${DIST}client`)) {
    if (name.endsWith('.js')) files.set(`/sdk/client/${name}`, readFileSync(`${DIST}client/${name}`));
  }
  for (const name of ['protocol.js', 'errors.js']) files.set(`/sdk/${name}`, readFileSync(`${DIST}${name}`));
  return files;
}

/** Serves the SDK files and fixed pages; `serve` answers a request or returns false. */
export function staticAssets(
  pages: Record<string, string>,
): (pathname: string, res: ServerResponse) => boolean {
  let sdk: Map<string, Buffer> | undefined;
  return (pathname, res) => {
    const page = pages[pathname];
    if (page !== undefined) {
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' })
        .end(page);
      return true;
    }
    if (!pathname.startsWith('/sdk/')) return false;
    sdk ??= sdkFiles();
    const file = sdk.get(pathname);
    if (!file) return false;
    res
      .writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' })
      .end(file);
    return true;
  };
}
