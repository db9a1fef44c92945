// `node --import ./test/support/deny-dev-packages.mjs …`: any import of a development-only
// package (the build and test tools) fails, as it would after `npm ci --omit=dev`.
import { register } from 'node:module';

register('./deny-dev-packages-hook.mjs', import.meta.url);
