// scripts/setup's package selection on Debian, Fedora and RHEL without those machines: the real
// script runs with stand-ins for the package managers, rpm/dpkg, node, npm and id first on PATH
// (the real apt-get and dpkg hidden), and each stand-in records how it was called.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const STANDINS = ['apt-get', 'apt', 'dpkg-query', 'dpkg', 'dnf', 'yum', 'rpm', 'node', 'npm', 'npx', 'id'];
const root = mkdtempSync(path.join(tmpdir(), 'tcptrace-setup-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// Every real tool except the ones stood in for, so setup finds only what a scenario provides.
const tools = path.join(root, 'tools');
mkdirSync(tools);
for (const dir of ['/usr/bin', '/usr/sbin']) {
  for (const name of readdirSync(dir)) {
    if (STANDINS.includes(name)) continue;
    try { symlinkSync(path.join(dir, name), path.join(tools, name)); } catch { /* in both dirs */ }
  }
}

interface Scenario {
  managers: ('apt' | 'dnf' | 'yum')[];
  node?: number;            // Node.js major installed at the start
  nodeAfterInstall?: number; // what installing the nodejs package gives
  streams?: number[];       // nodejs module streams (none: `module list` fails, as on Fedora)
  installed?: string[];     // packages already there
  uid?: number;
  args?: string[];
}

function run(s: Scenario): { status: number; calls: string[]; stderr: string } {
  const dir = mkdtempSync(path.join(root, 'case-'));
  const stubs = path.join(dir, 'stubs'), project = path.join(dir, 'project'), log = path.join(dir, 'calls');
  mkdirSync(stubs);
  mkdirSync(path.join(project, 'scripts'), { recursive: true });
  copyFileSync(path.join(__dirname, '../../scripts/setup'), path.join(project, 'scripts/setup'));
  writeFileSync(log, '');
  const stub = (name: string, body: string) => {
    writeFileSync(path.join(stubs, name), `#!/bin/sh\necho "${name} $*" >> ${log}\n${body}\n`);
    chmodSync(path.join(stubs, name), 0o755);
  };
  const nodeStub = (major: number) => `echo ${major}`;
  const installed = (s.installed ?? []).join(' ');
  stub('id', `echo ${s.uid ?? 0}`);
  stub('npm', 'exit 0');
  stub('npx', 'exit 0');
  if (s.node) stub('node', nodeStub(s.node));
  if (s.managers.includes('apt')) {
    stub('apt-get', 'exit 0');
    stub('dpkg-query', `for p in ${installed}; do [ "$p" = "$3" ] && { echo "install ok installed"; exit 0; }; done; exit 1`);
  }
  for (const pm of s.managers.filter((m) => m !== 'apt')) {
    const table = (s.streams ?? []).map((n) => `echo "nodejs    ${n}    common [d], development, minimal    Javascript runtime"`).join('; ');
    stub(pm, `case "$*" in
  *"module list nodejs"*) ${s.streams ? `echo "Name      Stream  Profiles    Summary"; ${table}` : 'echo "No such command: module" >&2; exit 1'} ;;
  *"install nodejs"*) ${s.nodeAfterInstall ? `printf '#!/bin/sh\\n${nodeStub(s.nodeAfterInstall)}\\n' > ${stubs}/node; chmod +x ${stubs}/node` : ':'} ;;
esac; exit 0`);
    stub('rpm', `for p in ${installed}; do [ "$p" = "$2" ] && exit 0; done; exit 1`);
  }
  const r = spawnSync('/bin/sh', [path.join(project, 'scripts/setup'), ...(s.args ?? [])], {
    env: { PATH: `${stubs}:${tools}`, HOME: dir }, encoding: 'utf8',
  });
  const calls = readFileSync(log, 'utf8').split('\n').filter((l) => l && !/^(id|node|rpm|dpkg-query) /.test(l));
  return { status: r.status ?? -1, calls, stderr: r.stderr };
}

const RPM_RUNTIME = 'libbpf-devel pkgconf-pkg-config make gcc-c++ python3';
const NPM = ['npm ci --no-audit --no-fund --loglevel=error', 'npm run install --silent', 'npx tsc -p .'];

describe('scripts/setup package selection', () => {
  it('RHEL 9 without Node.js: enables the newest nodejs stream of 20+, then the build packages', () => {
    const r = run({ managers: ['dnf', 'yum'], streams: [18, 20, 22], nodeAfterInstall: 22 });
    expect(r.calls).toEqual([
      'dnf -q module list nodejs', 'dnf -y -q module reset nodejs', 'dnf -y -q module enable nodejs:22',
      'dnf -y -q install nodejs npm', `dnf -y -q install ${RPM_RUNTIME}`, ...NPM,
    ]);
    expect(r.status).toBe(0);
  });

  it('Fedora without Node.js: no module streams, the distribution nodejs is recent enough', () => {
    const r = run({ managers: ['dnf'], nodeAfterInstall: 22, installed: ['make', 'python3'] });
    expect(r.calls).toEqual(['dnf -q module list nodejs', 'dnf -y -q install nodejs npm',
      'dnf -y -q install libbpf-devel pkgconf-pkg-config gcc-c++', ...NPM]);
    expect(r.status).toBe(0);
  });

  it('Node.js 20 present: only the missing packages; --test adds the test tools', () => {
    const r = run({ managers: ['dnf'], node: 20, installed: RPM_RUNTIME.split(' '), args: ['--test'] });
    expect(r.calls).toEqual(['dnf -y -q install bpftool clang llvm iproute nftables util-linux systemd nginx', ...NPM]);
  });

  it('yum with no Node.js 20 to be had: one clear line, exit 1, nothing else installed', () => {
    const r = run({ managers: ['yum'], nodeAfterInstall: 16 });
    expect(r.calls).toEqual(['yum -q module list nodejs', 'yum -y -q install nodejs npm']);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('setup: yum offers no Node.js 20 or newer here: install it from https://nodejs.org (or NodeSource), then run setup again');
  });

  it('not root: says what to install as root and installs nothing', () => {
    const r = run({ managers: ['dnf'], node: 22, installed: ['make'], uid: 1000 });
    expect(r.calls).toEqual([]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('setup: run as root (sudo) to install: libbpf-devel pkgconf-pkg-config gcc-c++ python3');
  });

  it('Debian: apt as before, only what dpkg lacks', () => {
    const have = ['pkg-config', 'make', 'g++', 'python3'];
    const r = run({ managers: ['apt', 'dnf'], node: 20, installed: have });
    expect(r.calls).toEqual(['apt-get update -qq', 'apt-get install -y -qq --no-install-recommends libbpf-dev', ...NPM]);
    expect(r.status).toBe(0);
  });

  it('Debian with an old Node.js: the message, no package manager call', () => {
    const r = run({ managers: ['apt'], node: 18 });
    expect(r.calls).toEqual([]);
    expect(r.stderr.trim()).toBe("setup: Node.js 20 or newer is required (https://nodejs.org or your distribution's nodejs 20+ package)");
  });

  it('the script is valid sh', () => {
    expect(() => execFileSync('/bin/sh', ['-n', path.join(__dirname, '../../scripts/setup')])).not.toThrow();
  });
});
