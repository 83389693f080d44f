/**
 * `npm run token -- --sub alice --rooms 'private:team-1' --publish 'chat:*' --ttl 1h`: the
 * development token minter (the `token` command of `push-cluster`, see `token-command.ts`).
 */
import { tokenCommand } from './token-command.js';

process.exitCode = await tokenCommand(
  process.argv.slice(2),
  process.env,
  (text) => process.stdout.write(text),
  (text) => process.stderr.write(text),
);
