// The `hubbub` command (package.json "bin", built to dist/bin/hubbub.js). Without a subcommand
// it serves, so `hubbub --port 8080` works as `npm start -- --port 8080` does.
import { VERSION } from '../version.js';
import { checkConfig } from './check-config.js';
import { CommandError, type CommandResult, runCommand } from './command.js';
import { publish } from './publish.js';
import { serve } from './serve.js';
import { token } from './token.js';

const COMMANDS: Record<string, (args: readonly string[]) => Promise<CommandResult>> = {
  serve,
  'check-config': checkConfig,
  publish,
  token,
};

const HELP = `hubbub ${VERSION}: a real-time messaging server

Usage: hubbub [serve] [--flag value ...]        run the server (the default command)
       hubbub check-config FILE                 check a config file, print what it sets
       hubbub publish CHANNEL DATA|-            publish JSON, or each line of stdin
       hubbub token --user ID [--ttl 1h]        sign a connection token (development)
       hubbub COMMAND --help                    a command's flags
       hubbub --version

Example, from cron: echo '{"text":"backup done"}' | hubbub publish ops:alerts -`;

function dispatch(argv: readonly string[]): Promise<CommandResult> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    console.log(HELP);
    return Promise.resolve(0);
  }
  if (first === '--version' || first === '-v') {
    console.log(VERSION);
    return Promise.resolve(0);
  }
  if (first === undefined || first.startsWith('-')) return serve(argv);
  const command = COMMANDS[first];
  if (!command) throw new CommandError(`unknown command "${first}"; commands: ${Object.keys(COMMANDS).join(', ')} (hubbub --help)`, 2);
  return command(rest);
}

runCommand(async () => dispatch(process.argv.slice(2)));
