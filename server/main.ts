// The server's entry: `npm start` runs its build, `node dist/server/main.js` (`hubbub serve`
// without the other subcommands). The server itself is server/cli/serve.ts.
import { runCommand } from './cli/command.js';
import { serve } from './cli/serve.js';

runCommand(() => serve(process.argv.slice(2)));
