// npm 11 on Linux writes package-lock.json without the other platforms' optional binaries, and
// `npm ci` then refuses the lock (npm/cli#4828, #8320). This adds every optional dependency that
// a locked package declares but the lock lacks, from the registry's own metadata, so `npm ci`
// works on a clean clone on any platform. Run it after `npm install` changes the lock.
// Where the registry in use does not carry a platform's package at all, the entry is built from the
// platform that the package name spells (`cli-linux-arm64-musl`): npm skips it on every other
// platform, so only the platform it names would ever fetch it.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

function registryMetadata(name, version) {
  try {
    const fields = ['version', 'dist.integrity', 'os', 'cpu', 'libc', 'license'];
    return JSON.parse(
      execFileSync('npm', ['view', `${name}@${version}`, '--json', ...fields], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    );
  } catch {
    return null;
  }
}

function platformFromName(name, version) {
  const match = /-(android|darwin|linux|win32|freebsd)-(arm64|x64|arm|ia32)(-musl)?$/.exec(name);
  if (!match) throw new Error(`${name}@${version}: not in the registry, and its name spells no platform`);
  return {
    version,
    os: [match[1]],
    cpu: [match[2]],
    ...(match[1] === 'linux' ? { libc: [match[3] ? 'musl' : 'glibc'] } : {}),
  };
}

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const added = [];
for (const [key, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const target = `node_modules/${name}`;
    if (lock.packages[target]) continue;
    const meta = registryMetadata(name, version) ?? platformFromName(name, version);
    lock.packages[target] = {
      version: meta.version,
      integrity: meta['dist.integrity'],
      ...(meta.cpu ? { cpu: meta.cpu } : {}),
      ...(entry.dev ? { dev: true } : {}),
      ...(meta.libc ? { libc: meta.libc } : {}),
      ...(meta.license ? { license: meta.license } : {}),
      optional: true,
      ...(meta.os ? { os: meta.os } : {}),
    };
    added.push(`${name}@${meta.version} (for ${key || 'the project'})`);
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(
  added.length
    ? `added to package-lock.json:\n  ${added.join('\n  ')}\n`
    : 'package-lock.json already complete\n',
);
