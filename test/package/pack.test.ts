// The packed package on a host without a compiler: the prebuilt addon must load, so
// `npm install -g` builds nothing. Packs a copy of the project (prebuildify builds the addon in
// that copy, not in build/ where other test files load it), installs the tarball into an empty
// prefix with no compiler or make on PATH, then runs tcptrace --version and traces one connection.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { connectAndClose, describeKernel, listen, sleep } from '../helpers/kernel';

const project = path.resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(project, 'package.json'), 'utf8')) as { version: string; files: string[] };
const COMPILERS = /^(cc|c\+\+|gcc|g\+\+|cpp|clang|clang\+\+|make|gmake|ld|x86_64-linux-gnu-.*)(-\d+)?$/;
const root = mkdtempSync(path.join(tmpdir(), 'tcptrace-pack-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** PATH without any compiler, linker or make. */
function noCompilerPath(): string {
  const dir = path.join(root, 'bin');
  mkdirSync(dir);
  for (const from of ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin']) {
    if (!existsSync(from)) continue;
    for (const name of readdirSync(from)) {
      if (COMPILERS.test(name) || existsSync(path.join(dir, name))) continue;
      symlinkSync(path.join(from, name), path.join(dir, name));
    }
  }
  return dir;
}

describeKernel('the packed package', () => {
  it('installs with no compiler on PATH and traces a connection with the prebuilt addon', async () => {
    // 1. a copy to pack: the published files plus node_modules for prebuildify and node-gyp
    const copy = path.join(root, 'copy');
    mkdirSync(copy);
    for (const f of [...pkg.files.filter((x) => x !== 'prebuilds'), 'package.json', 'README.md']) {
      cpSync(path.join(project, f), path.join(copy, f), { recursive: true });
    }
    symlinkSync(path.join(project, 'node_modules'), path.join(copy, 'node_modules'));
    execFileSync('npx', ['--no-install', 'prebuildify', '--napi', '--strip', '--tag-libc'], { cwd: copy, stdio: 'pipe' });
    const tarball = path.join(root, execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', root], { cwd: copy, encoding: 'utf8' }).trim().split('\n').at(-1)!);
    const listed = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' });
    expect(listed).toContain('package/prebuilds/linux-x64/tcptrace.glibc.node');
    expect(listed).toContain('package/bpf/tcptrace.bpf.o');
    expect(listed).toContain('package/binding.gyp'); // the build from source stays the fallback

    // 2. install it where nothing is, with no way to compile
    const PATH = noCompilerPath();
    expect(() => execFileSync('sh', ['-c', 'command -v cc || command -v g++ || command -v make'], { env: { PATH } })).toThrow();
    const prefix = path.join(root, 'prefix');
    execFileSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball],
      { env: { ...process.env, PATH }, stdio: 'pipe' });
    const installed = path.join(prefix, 'lib/node_modules/tcptrace');
    expect(existsSync(path.join(installed, 'build'))).toBe(false); // nothing was compiled
    const tcptrace = path.join(prefix, 'bin/tcptrace');
    expect(execFileSync(tcptrace, ['--version'], { env: { PATH }, encoding: 'utf8' }).trim()).toBe(pkg.version);

    // 3. one traced loopback connection
    const srv = await listen();
    const child = spawn(tcptrace, ['-j', '-L', String(srv.port)], { env: { PATH } });
    let out = '', err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 1000 && !err.includes('tracing'); i++) await sleep(20);
      expect(err).toContain('tracing TCP state changes');
      await connectAndClose(srv.port);
      for (let i = 0; i < 500 && !out.includes('"LAST_ACK","newstate":"CLOSE"'); i++) await sleep(20);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    // the transitions of the capture (its typed records aside: docs/SCHEMA.md, "Captures")
    const events = out.trim().split('\n').map((l) => JSON.parse(l) as { type?: string; oldstate: string; newstate: string; sport: number }).filter((e) => e.type === undefined);
    expect(events.map((e) => `${e.oldstate}->${e.newstate}`)).toEqual([
      'LISTEN->SYN_RECV', 'SYN_RECV->ESTABLISHED', 'ESTABLISHED->CLOSE_WAIT', 'CLOSE_WAIT->LAST_ACK', 'LAST_ACK->CLOSE',
    ]);
    await srv.close();
  }, 300_000);
});
