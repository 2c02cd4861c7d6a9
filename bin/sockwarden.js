#!/usr/bin/env node
// Launcher: the published package ships dist/ built (npm pack's prepack); in a clone, `npm run build`
// (which `npm start` and `npm test` run first) compiles the TypeScript sources into it.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    'sockwarden: dist/ is missing; in a clone of the repository, run `npm run build` first\n',
  );
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
