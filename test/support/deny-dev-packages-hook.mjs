// The resolve hook of deny-dev-packages.mjs.
const DEV_ONLY = /^(esbuild|tsx|typescript|vitest|@esbuild\/[^/]+)(\/|$)/;

export async function resolve(specifier, context, next) {
  if (DEV_ONLY.test(specifier)) throw new Error(`development package imported at run time: ${specifier}`);
  return next(specifier, context);
}
