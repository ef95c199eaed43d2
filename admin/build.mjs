#!/usr/bin/env node
// `npm run build:admin`: bundles the admin console (admin/src) into dist/admin with esbuild.
// Assets get content hashes in their names so the gateway can cache them forever; index.html is
// written last, pointing at the hashed files, so a half-finished build never serves a page that
// references missing assets.

import { build } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';

const here = import.meta.dirname;
const root = resolve(here, '..');
const outdir = process.env.DIALGATE_ADMIN_OUTDIR ? resolve(process.env.DIALGATE_ADMIN_OUTDIR) : join(root, 'dist', 'admin');

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const result = await build({
  entryPoints: { app: join(here, 'src', 'main.ts'), styles: join(here, 'src', 'styles.css') },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome109', 'firefox115', 'safari16'],
  minify: true,
  sourcemap: 'linked',
  entryNames: 'assets/[name]-[hash]',
  outdir,
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
  tsconfig: join(here, 'tsconfig.json'),
});

const outputs = Object.entries(result.metafile.outputs);
const find = (entry) => {
  const hit = outputs.find(([, o]) => o.entryPoint && basename(o.entryPoint) === entry);
  if (!hit) throw new Error(`build:admin: no output for ${entry}`);
  // metafile paths are relative to the working directory
  return '/admin/' + relative(outdir, resolve(process.cwd(), hit[0])).split(sep).join('/');
};
const js = find('main.ts');
const css = find('styles.css');

const icon =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0b5cad"/>' +
  '<path d="M10 8h5l2 6-3 2a12 12 0 0 0 6 6l2-3 6 2v5a2 2 0 0 1-2 2C15 28 4 17 4 10a2 2 0 0 1 2-2z" fill="#fff"/></svg>\n';
writeFileSync(join(outdir, 'favicon.svg'), icon);

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>dialgate admin</title>
<link rel="icon" href="/admin/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${css}">
<script type="module" src="${js}"></script>
</head>
<body>
<noscript><p>The dialgate admin console needs JavaScript.</p></noscript>
<div id="app"></div>
</body>
</html>
`;
// written atomically and last: the gateway treats index.html as "the console is built"
writeFileSync(join(outdir, 'index.html.tmp'), html);
renameSync(join(outdir, 'index.html.tmp'), join(outdir, 'index.html'));
console.log(`build:admin: ${outputs.length} assets → ${outdir}`);
