#!/usr/bin/env node
// Run after any npm install that changes the lock: node scripts/fix-lock.js
// The registry here mirrors only this platform's packages, so npm leaves other platforms'
// optional binaries out of the lock and `npm ci` then refuses it. Add those entries with
// their platform constraints (npm ci never downloads them on a non-matching platform).
const fs = require('fs');
const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8'));
const pk = lock.packages; let added = 0;
const OSES = ['android', 'darwin', 'freebsd', 'linux', 'win32', 'openharmony', 'openbsd', 'netbsd', 'sunos', 'aix', 'wasi'];
for (const [loc, meta] of Object.entries(pk)) {
  for (const [name, ver] of Object.entries(meta.optionalDependencies || {})) {
    if (pk[`node_modules/${name}`] || pk[`${loc}/node_modules/${name}`]) continue;
    const parts = name.split('/')[1].replace(/^rollup-/, '').split('-');
    const os = OSES.includes(parts[0]) ? parts[0] : 'none';
    const entry = { version: ver, dev: meta.dev || undefined, optional: true, os: [os], cpu: [parts[1] || 'none'] };
    const abi = parts.slice(2).join('-');
    if (os === 'linux') entry.libc = [abi.includes('musl') || abi === 'ohos' ? 'musl' : 'glibc'];
    pk[`node_modules/${name}`] = entry; added++;
  }
}
const keys = Object.keys(pk).sort((a, b) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0));
lock.packages = Object.fromEntries(keys.map((k) => [k, pk[k]]));
fs.writeFileSync('package-lock.json', JSON.stringify(lock, null, 2) + '\n');
console.log('added', added);
