import { runCli } from './admin/cli/run.ts';

/**
 * `tobira`: the operator's command line (clients, members, admins, migrations, signing keys).
 * Run it as `tobira ...` (package.json `bin`) or `npm run tobira -- ...`; `tobira --help` lists
 * every command. The exit code is set, not forced, so output is flushed before the process ends.
 */
process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
