/**
 * The `sockwarden` command. Exit codes: 0 success, 1 failure, 2 invalid configuration or usage.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { SockwardenError } from '../errors.js';
import { soakHelpText } from '../soak/plan.js';
import { bench } from './bench.js';
import { serve } from './serve.js';
import { helpText } from './serve-flags.js';
import { soak } from './soak.js';

const USAGE = `Usage: sockwarden <command> [flags]

Commands:
  serve     Run the gateway standalone (sockwarden serve --help lists every flag).
  soak      Drive churn and faults at a running gateway and check nothing leaked (--help).
  bench     Compare sockwarden with ws, Socket.IO and uWebSockets.js (from a clone; --help).
  --version Print the version.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Runs the command line; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const code = await runCommand(argv);
  // A cluster worker's channel to its primary would keep it alive after it is done. Closed through
  // the worker, not process.disconnect(): node:cluster takes a bare disconnect for a lost primary
  // and exits at once with 0, which cut drains short and hid a worker's exit code.
  if (cluster.isWorker && cluster.worker?.isConnected()) cluster.worker.disconnect();
  return code;
}

async function runCommand(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'serve') {
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(`${helpText()}\n`);
        return 0;
      }
      return await serve(rest, process.env);
    }
    if (command === 'soak') {
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(`${soakHelpText()}\n`);
        return 0;
      }
      return await soak(rest);
    }
    if (command === 'bench') return await bench(rest);
    if (command === '--version' || command === '-v') {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    if (command === undefined || command === '--help' || command === '-h') {
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    process.stderr.write(`sockwarden: unknown command "${command}"\n${USAGE}\n`);
    return 2;
  } catch (error) {
    if (error instanceof SockwardenError && error.code === 'invalid_config') {
      process.stderr.write(`sockwarden: invalid configuration: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`sockwarden: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}
