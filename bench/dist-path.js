// What the A/B benches share: loading a module from a checkout's built dist/ (in the
// stage-folder layout or the flat one before it), and their `OTHER_CHECKOUT [--flag value]` args.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** A module of a checkout's dist/: the first of `names` that exists. */
const fromDist = (root, ...names) =>
  require(names.map((n) => path.join(root, 'dist', n)).find((p) => fs.existsSync(p)) ?? path.join(root, 'dist', names[0]));

function abArgs(argv = process.argv.slice(2)) {
  return {
    opt: (name, dflt) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : dflt; },
    other: path.resolve(argv[0] ?? ''),
    here: path.resolve(__dirname, '..'),
  };
}

module.exports = { fromDist, abArgs };
