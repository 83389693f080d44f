#!/usr/bin/env node
/**
 * `push-cluster <command>`: publish, read a room's history or presence, show the cluster, sign a
 * development token. In the image: `docker compose exec node node dist/cli/push-cluster.js …`;
 * from the repository: `npm run cli -- …`. `push-cluster --help` lists the commands.
 */
import { runCli } from './run-cli.js';

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  stdin: readStdin,
});
